// A full disk under the store: a real 256 KiB tmpfs, mounted by the test under a temp folder it
// made (needs root, as CI runs), filled with a filler file. Writes fail with one clear sentence,
// nothing acknowledged is lost, and writes resume once space is freed.
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../lib/errors.ts';
import type { AuditEntry, StoreDoc } from '../../store/schema.ts';
import { Store } from '../../store/store.ts';

let dir = '';
let disk = '';
let mounted = false;
const stores: Store[] = [];

beforeAll(() => {
  // Mounting the small disk needs root (CI runs as root): fail loudly rather than skip.
  if (process.getuid?.() !== 0) throw new Error('the full-disk tests mount a tmpfs: run them as root');
  dir = mkdtempSync(path.join(os.tmpdir(), 'spreadserve-full-disk-'));
  disk = path.join(dir, 'disk');
  mkdirSync(disk);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', disk]);
  mounted = true;
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close(); // releases the lock file's descriptor
  if (mounted)
    for (const name of ['filler', 'spreadserve.json', 'spreadserve.json.lock'])
      rmSync(path.join(disk, name), { force: true });
});

afterAll(() => {
  try {
    if (mounted) {
      try {
        execFileSync('umount', [disk]);
      } catch {
        execFileSync('umount', ['-l', disk]); // something still open on it: detach it all the same
      }
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

/** Fills the disk with a filler file until a write fails with ENOSPC (bounded: 256 KiB in 4 KiB chunks). */
function fillDisk(): string {
  const filler = path.join(disk, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (let i = 0; i < 200; i++) {
      try {
        writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return filler;
        throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  throw new Error('the disk never filled up');
}

const entry = (i: number): AuditEntry => ({ at: i, actor: 'cli:test', action: 'launch', instance: `i-${i}` });
const onDisk = (file: string) =>
  (JSON.parse(readFileSync(file, 'utf8')) as StoreDoc).audit.map((a) => a.instance);

describe('a full disk under the store', () => {
  it('fails updates with one clear sentence, loses nothing, and resumes on the next update once space is freed', async () => {
    // given a store on the small disk holding one acknowledged entry
    const file = path.join(disk, 'spreadserve.json');
    const logged: string[] = [];
    const log = {
      info: (_c: unknown, m: string) => logged.push(m),
      warn: (_c: unknown, m: string) => logged.push(m),
    };
    const store = await Store.open(file, { log, rewriteEveryMs: 60_000 });
    stores.push(store);
    await store.update((doc) => {
      doc.audit.push(entry(1));
    });
    const good = readFileSync(file, 'utf8');

    // when the disk is full and two updates are issued together
    const filler = fillDisk();
    const results = await Promise.allSettled([
      store.update((doc) => {
        doc.audit.push(entry(2));
      }),
      store.update((doc) => {
        doc.audit.push(entry(3));
      }),
    ]);

    // then both fail with the read-only sentence naming the store and the full disk
    const sentence =
      `The store ${file} is read-only because its disk is full (ENOSPC); ` +
      'the last change was not saved, and writes resume once space is freed.';
    for (const result of results) {
      expect(result.status).toBe('rejected');
      const err = (result as PromiseRejectedResult).reason;
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).kind).toBe('read-only');
      expect((err as UserError).message).toBe(sentence);
    }
    // and the store says so while the fault lasts, in status and in the log
    expect(store.writable).toBe(false);
    expect(store.readOnlyMessage).toBe(sentence);
    expect(logged).toContain(sentence);
    // and neither memory nor the file claims the failed changes; the file is the last good one
    expect(store.read().audit.map((a) => a.instance)).toEqual(['i-1']);
    expect(readFileSync(file, 'utf8')).toBe(good);
    expect(existsSync(path.join(disk, '.spreadserve.json.tmp'))).toBe(false);
    // and an update while the disk is still full fails the same way
    const again = await store.update(() => undefined).catch((e: unknown) => e);
    expect((again as UserError).message).toBe(sentence);

    // when space is freed, then the next update succeeds and the store is writable again
    rmSync(filler);
    await store.update((doc) => {
      doc.audit.push(entry(4));
    });
    expect(store.writable).toBe(true);
    expect(store.readOnlyMessage).toBeNull();
    expect(onDisk(file)).toEqual(['i-1', 'i-4']);
    expect(logged).toContain('the store is writable again: a write succeeded');
  }, 30_000);

  it('becomes writable again by itself once space is freed, with no update asked for', async () => {
    // given a store made read-only by a full disk
    const file = path.join(disk, 'spreadserve.json');
    const store = await Store.open(file, { rewriteEveryMs: 100 });
    stores.push(store);
    await store.update((doc) => {
      doc.audit.push(entry(1));
    });
    const filler = fillDisk();
    await store.update((doc) => doc.audit.push(entry(2))).catch(() => undefined);
    expect(store.writable).toBe(false);

    // when the filler is deleted
    rmSync(filler);

    // then within seconds the store rewrites its last good document and is writable (status says so)
    for (let i = 0; i < 250 && !store.writable; i++) await new Promise((r) => setTimeout(r, 20));
    expect(store.writable).toBe(true);
    expect(onDisk(file)).toEqual(['i-1']);
  }, 30_000);
});
