// One process owns a store through a kernel lock (lib/lock.ts): real child processes hold it, are
// SIGKILLed, and the store of this process (or of a restarted one) takes over by itself.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../lib/errors.ts';
import type { StoreDoc } from '../../store/schema.ts';
import { Store } from '../../store/store.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const HOLDER = path.join(ROOT, 'test', 'support', 'store-holder.ts');

const dirs: string[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
const stores: Store[] = [];

function newStorePath(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spreadserve-owner-'));
  dirs.push(dir);
  return path.join(dir, 'spreadserve.json');
}

/** A store-holder process on `file`, with the lines it says so far and a way to wait for one. */
function holder(file: string) {
  // node itself (not npx) runs the script, so the pid we SIGKILL is the one holding the lock.
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, file], { cwd: ROOT });
  children.push(child);
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  /** The first line matching, waiting at most timeoutMs for it. */
  const line = async (pattern: RegExp, timeoutMs = 20_000): Promise<string> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find((l) => pattern.test(l));
      if (found !== undefined) return found;
      const left = until - Date.now();
      if (left <= 0)
        throw new Error(`no line ${pattern} from the holder: ${JSON.stringify(lines)} ${stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };
  const kill9 = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  return { child, lines, line, kill9, write: (name: string) => child.stdin.write(`write ${name}\n`) };
}

/** Polls (bounded) until `check` holds; returns the ms it took. */
async function within(timeoutMs: number, check: () => boolean): Promise<number> {
  const start = Date.now();
  for (let i = 0; i < timeoutMs / 20 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(check()).toBe(true);
  return Date.now() - start;
}

const instances = (doc: { audit: StoreDoc['audit'] }) => doc.audit.map((a) => a.instance);

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('one process owns the store', () => {
  it('opens read-only while another process owns it, and takes over by itself when the owner is SIGKILLed', async () => {
    // given a child process that owns a new store and has written one entry
    const file = newStorePath();
    const owner = holder(file);
    await owner.line(/^open writable$/);
    owner.write('i-1');
    await owner.line(/^wrote i-1$/);

    // when this process opens the store
    const logged: string[] = [];
    const log = {
      info: (_c: unknown, m: string) => logged.push(m),
      warn: (_c: unknown, m: string) => logged.push(m),
    };
    const store = await Store.open(file, { log, takeOverEveryMs: 100 });
    stores.push(store);

    // then it is read-only, says who owns it and that it will take over, and still reads the file
    expect(store.writable).toBe(false);
    expect(store.readOnlyMessage).toBe(
      `The store ${file} is read-only because another SpreadServe process (pid ${owner.child.pid}) owns it; ` +
        'this process takes it over by itself as soon as that one ends.',
    );
    expect(instances(store.read())).toEqual(['i-1']);
    const refused = await store.update(() => undefined).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UserError);
    expect((refused as UserError).kind).toBe('read-only');
    expect((refused as UserError).message).toBe(store.readOnlyMessage);

    // and while it waits, the owner writes once more
    owner.write('i-2');
    await owner.line(/^wrote i-2$/);

    // when the owner is killed with SIGKILL (no exit handler runs; it may linger as a zombie)
    await owner.kill9();

    // then within seconds, without reopening, this store is writable, has re-read the file and says so
    const took = await within(5_000, () => store.writable);
    expect(took).toBeLessThan(5_000);
    expect(store.readOnlyMessage).toBeNull();
    expect(instances(store.read())).toEqual(['i-1', 'i-2']);
    expect(logged).toContain('took over the store: its owner ended');
    await store.update((doc) => {
      doc.audit.push({ at: 3, actor: 'cli:test', action: 'launch', instance: 'i-3' });
    });
    const onDisk = JSON.parse(readFileSync(file, 'utf8')) as StoreDoc;
    expect(instances(onDisk)).toEqual(['i-1', 'i-2', 'i-3']);
    // and the lock file names this process for people to read
    expect(readFileSync(`${file}.lock`, 'utf8').trim()).toBe(String(process.pid));
  }, 30_000);

  it('a process started right after the owner is SIGKILLed (Restart=always) is writable within seconds', async () => {
    // given an owner that has written one entry
    const file = newStorePath();
    const owner = holder(file);
    await owner.line(/^open writable$/);
    owner.write('i-1');
    await owner.line(/^wrote i-1$/);

    // when it is SIGKILLed and a new process opens the store at once, before the old one is reaped
    owner.child.kill('SIGKILL');
    const started = Date.now();
    const restarted = holder(file);

    // then the new process owns the store within seconds (at open, or by taking over right after)
    await restarted.line(/^(open writable|writable)$/, 15_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    // and writes on top of what its predecessor wrote
    restarted.write('i-2');
    await restarted.line(/^wrote i-2$/);
    expect(instances(JSON.parse(readFileSync(file, 'utf8')) as StoreDoc)).toEqual(['i-1', 'i-2']);
  }, 30_000);

  it('a waiting process takes over when the owner closes the store (a clean stop)', async () => {
    // given this process owns the store and a child waits for it, read-only
    const file = newStorePath();
    const store = await Store.open(file);
    expect(store.writable).toBe(true);
    const waiting = holder(file);
    const opened = await waiting.line(/^open /);
    expect(opened).toContain(`another SpreadServe process (pid ${process.pid}) owns it`);

    // when this process closes the store
    await store.close();

    // then the child takes it over and writes
    await waiting.line(/^writable$/);
    waiting.write('i-1');
    await waiting.line(/^wrote i-1$/);
  }, 30_000);

  it('ignores a pid left in the lock file by a dead or unrelated process (pid files are not locks)', async () => {
    // given a lock file naming a live process that holds no lock (as a reused pid in a container)
    const file = newStorePath();
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(`${file}.lock`, `${other.pid}\n`);

      // when the store is opened, then it is writable
      const store = await Store.open(file);
      stores.push(store);
      expect(store.writable).toBe(true);
      await store.update(() => undefined);
    } finally {
      const exited = new Promise((r) => other.once('exit', r));
      other.kill();
      await exited;
    }
  });

  it('keeps the lock file on close, and a second store in the same process shares the lock', async () => {
    // given two stores of one file in this process (a reopen), both writable
    const file = newStorePath();
    const first = await Store.open(file);
    const second = await Store.open(file);
    expect(first.writable && second.writable).toBe(true);

    // when both are closed, then the lock file stays (deleting it would split the lock) and is free
    await first.close();
    await second.close();
    expect(readFileSync(`${file}.lock`, 'utf8').trim()).toBe(String(process.pid));
    const child = holder(file);
    await child.line(/^open writable$/);
  }, 30_000);
});
