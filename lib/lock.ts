// Lock files holding the owner's pid: one process owns a store, one run uses a test scope or the
// bench at a time. A lock whose process is gone is taken over. This module imports nothing of
// the project, so store/ may use it.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const held = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes the lock at `file` for this process; returns null when it is ours now (or already was),
 * or the pid of the live process holding it. Released by unlock(), or when this process exits.
 */
export function tryLock(file: string): number | null {
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = holderOf(file);
    if (holder !== null && holder !== process.pid && processAlive(holder)) return holder;
    writeFileSync(file, String(process.pid)); // stale (or ours): take it over
  }
  if (held.size === 0) process.once('exit', () => held.forEach(unlock));
  held.add(file);
  return null;
}

/** Releases a lock this process holds; a lock another process holds is left alone. */
export function unlock(file: string): void {
  held.delete(file);
  if (holderOf(file) === process.pid) rmSync(file, { force: true });
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
