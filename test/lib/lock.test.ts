// Kernel file locks (lib/lock.ts) between real processes: a holder's lock refuses others, is
// shared within one process, and is released by the kernel when the holder is SIGKILLed.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { holdsLock, tryLock, unlock, waitForLock } from '../../lib/lock.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
const children: ChildProcessWithoutNullStreams[] = [];

function lockPath(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spreadserve-lock-'));
  dirs.push(dir);
  return path.join(dir, 'x.lock');
}

/** A process that takes the lock at `file` and holds it until killed; resolves once it holds it. */
async function holder(file: string): Promise<ChildProcessWithoutNullStreams> {
  const code = `const m = await import(${JSON.stringify(path.join(ROOT, 'lib', 'lock.ts'))});
    console.log(m.tryLock(${JSON.stringify(file)}) === null ? 'locked' : 'refused');
    setInterval(() => undefined, 60_000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
  });
  children.push(child);
  const said = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the holder did not start within 15 s')), 15_000);
    child.stdout.once('data', (chunk) => {
      clearTimeout(timer);
      resolve(String(chunk).trim());
    });
  });
  expect(said).toBe('locked');
  return child;
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('kernel file locks', () => {
  it('refuse another process, naming its pid, until the holder is SIGKILLed', async () => {
    // given another process holding the lock
    const file = lockPath();
    const child = await holder(file);

    // then this process is refused and told the holder's pid
    expect(tryLock(file)).toBe(child.pid);
    await expect(waitForLock(file, 300, 50)).rejects.toThrow(`held by process ${child.pid}`);

    // when the holder is SIGKILLed, then the lock is ours within a second (bounded poll)
    child.kill('SIGKILL');
    let got: number | null = -1;
    for (let i = 0; i < 50 && got !== null; i++) {
      got = tryLock(file);
      if (got !== null) await new Promise((r) => setTimeout(r, 20));
    }
    expect(got).toBeNull();
    expect(holdsLock(file)).toBe(true);
    unlock(file);
    expect(holdsLock(file)).toBe(false);
  }, 30_000);

  it('are shared, counted, within one process, and released by the last unlock', async () => {
    // given this process takes the lock twice
    const file = lockPath();
    expect(tryLock(file)).toBeNull();
    expect(tryLock(file)).toBeNull();

    // when it unlocks once, then it still holds it: another process is refused
    unlock(file);
    expect(holdsLock(file)).toBe(true);
    const code = `const m = await import(${JSON.stringify(path.join(ROOT, 'lib', 'lock.ts'))});
      console.log(String(m.tryLock(${JSON.stringify(file)})));`;
    const probe = () =>
      new Promise<string>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
          cwd: ROOT,
        });
        let out = '';
        child.stdout.on('data', (c) => {
          out += String(c);
        });
        child.once('exit', () => resolve(out.trim()));
      });
    expect(await probe()).toBe(String(process.pid));

    // when it unlocks again, then another process gets it
    unlock(file);
    expect(holdsLock(file)).toBe(false);
    expect(await probe()).toBe('null');
  }, 30_000);
});
