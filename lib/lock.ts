// Kernel file locks: one process owns a store, one run uses a test scope or the bench at a time.
// The lock is an OFD lock (fs-native-extensions) on an open descriptor of the lock file, so the
// kernel releases it however the holder ends (exit, SIGKILL, OOM, container restart); no pid has
// to be guessed about. The holder writes its pid into the file for people to read, nothing more.
// The file is never deleted: deleting a lock file lets two processes lock two different files.
// This module imports nothing of the project, so store/ may use it.
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import fsx from 'fs-native-extensions';

/** Locks this process holds: the descriptor, and how many holders in this process share it. */
const held = new Map<string, { fd: number; count: number }>();

/** The pid the holder recorded in the lock file, or null when it cannot be read (yet). */
export function recordedHolder(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes the lock at `file` for this process; returns null when it is ours now (or already was:
 * holders in one process share it, counted), or the pid another process holds it under (0 when
 * it has not recorded one). Released by unlock(), or by the kernel when this process ends.
 * Throws when the lock file cannot be opened (e.g. an unwritable folder).
 */
export function tryLock(file: string): number | null {
  const key = path.resolve(file);
  const mine = held.get(key);
  if (mine) {
    mine.count++;
    return null;
  }
  const fd = openSync(key, 'a+');
  let locked = false;
  try {
    locked = fsx.tryLock(fd);
  } finally {
    if (!locked) closeSync(fd);
  }
  if (!locked) return recordedHolder(key) ?? 0;
  held.set(key, { fd, count: 1 });
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`);
  } catch {
    // the pid is for people to read; a full disk must not cost the lock
  }
  return null;
}

/** Whether this process holds the lock at `file`. */
export function holdsLock(file: string): boolean {
  return held.has(path.resolve(file));
}

/** Releases one hold of a lock this process holds (the last one unlocks); others are left alone. */
export function unlock(file: string): void {
  const key = path.resolve(file);
  const mine = held.get(key);
  if (!mine) return;
  if (--mine.count > 0) return;
  held.delete(key);
  try {
    fsx.unlock(mine.fd);
  } finally {
    closeSync(mine.fd); // closing the descriptor releases an OFD lock in any case
  }
}

/** Waits, polling, until the lock is ours; throws after timeoutMs naming the holder. */
export async function waitForLock(file: string, timeoutMs: number, intervalMs = 250): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const holder = tryLock(file);
    if (holder === null) return;
    if (Date.now() >= until) {
      throw new Error(`${file} is held by process ${holder} for over ${Math.round(timeoutMs / 1000)}s`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
