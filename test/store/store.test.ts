// The JSON store on real lowdb files under os.tmpdir(): creation, serialised and grouped
// updates, atomic writes, and the read-only mode for corrupt or unwritable files.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../lib/errors.ts';
import { readAll } from '../../store/draft.ts';
import { type AuditEntry, emptyDoc, STORE_VERSION, type StoreDoc } from '../../store/schema.ts';
import { Store } from '../../store/store.ts';

// ---- builders -------------------------------------------------------------------------

const dirs: string[] = [];

/** A fresh, empty directory under os.tmpdir(), removed after the test. */
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spreadserve-store-'));
  dirs.push(dir);
  return dir;
}

/** The path of a store file that does not exist yet. */
function newStorePath(): string {
  return path.join(tempDir(), 'data', 'spreadserve.json');
}

/** A store file already on disk holding `doc` (default: an empty valid document). */
function existingStore(doc: StoreDoc = emptyDoc()): string {
  const file = path.join(tempDir(), 'spreadserve.json');
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

function auditEntry(i: number, reason?: string): AuditEntry {
  return {
    at: 1_700_000_000_000 + i,
    actor: `U${String(i).padStart(4, '0')}`,
    action: 'launch',
    instance: `i-${i}`,
    reason,
  };
}

function instance(name: string, port: number): StoreDoc['instances'][string] {
  return { name, owner: 'U1', template: 'demo', port, state: 'starting', createdAt: 0, lastActivityAt: 0 };
}

function readJson(file: string): StoreDoc {
  return JSON.parse(readFileSync(file, 'utf8')) as StoreDoc;
}

/** The rejection of a promise that must reject. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// ---- tests ----------------------------------------------------------------------------

describe('opening a new store', () => {
  it('creates the file (and its folder) with the current version and an empty document', async () => {
    // given a path whose file and folder do not exist
    const file = newStorePath();

    // when the store is opened
    const store = await Store.open(file);

    // then the file exists with version 1, the store is writable and reads the empty document
    expect(readJson(file)).toEqual({ ...emptyDoc(), version: 1 });
    expect(STORE_VERSION).toBe(1);
    expect(store.writable).toBe(true);
    expect(store.readOnlyMessage).toBeNull();
    expect(store.read()).toEqual(emptyDoc());
  });

  it('reads back an existing valid file', async () => {
    // given a file holding one audit entry
    const doc = emptyDoc();
    doc.audit.push(auditEntry(1));
    const file = existingStore(doc);

    // when it is opened
    const store = await Store.open(file);

    // then the document is the file's
    expect(store.writable).toBe(true);
    expect(store.read()).toEqual(doc);
  });
});

describe('update', () => {
  it('keeps every one of 200 concurrent updates, on disk after a reopen', async () => {
    // given a new store
    const file = newStorePath();
    const store = await Store.open(file);

    // when 200 updates, each taking one port and adding one audit entry, are issued together
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        store.update((doc) => {
          doc.ports[String(8080 + i)] = { state: 'in-use', instance: `i-${i}`, since: i };
          doc.audit.push(auditEntry(i));
        }),
      ),
    );

    // then a store reopened from the file holds 200 distinct ports and 200 distinct entries
    const reopened = await Store.open(file);
    const { ports, audit } = reopened.read();
    expect(Object.keys(ports)).toHaveLength(200);
    expect(new Set(Object.values(ports).map((p) => p.instance)).size).toBe(200);
    expect(audit).toHaveLength(200);
    expect(new Set(audit.map((a) => a.instance)).size).toBe(200);
  });

  it('serialises updates: each fn sees the result of the previous one', async () => {
    // given a new store
    const store = await Store.open(newStorePath());

    // when 50 updates issued together each read the last audit entry and append the next
    const seen = await Promise.all(
      Array.from({ length: 50 }, () =>
        store.update((doc) => {
          const last = doc.audit.at(-1)?.at ?? 0;
          doc.audit.push({ at: last + 1, actor: 'schedule', action: 'warn' });
          return last;
        }),
      ),
    );

    // then every fn saw its predecessor's write, in issue order
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(store.read().audit.map((a) => a.at)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('returns what fn returns', async () => {
    const store = await Store.open(newStorePath());
    await expect(store.update(() => 'done')).resolves.toBe('done');
  });

  it('changes nothing, in memory or on disk, when fn throws', async () => {
    // given a store holding one entry
    const file = newStorePath();
    const store = await Store.open(file);
    await store.update((doc) => {
      doc.audit.push(auditEntry(1));
    });
    const before = readFileSync(file, 'utf8');
    const docBefore = store.read();

    // when an update mutates the document, then throws
    const err = await rejection(
      store.update((doc) => {
        doc.audit.push(auditEntry(2));
        doc.instances.x = {
          name: 'x',
          owner: 'U1',
          template: 'demo',
          port: 8080,
          state: 'starting',
          createdAt: 0,
          lastActivityAt: 0,
        };
        throw new Error('changed my mind');
      }),
    );
    await store.flushed();

    // then the error is fn's, and neither read() nor the file changed
    expect((err as Error).message).toBe('changed my mind');
    expect(store.read()).toBe(docBefore);
    expect(store.read().audit).toHaveLength(1);
    expect(store.read().instances).toEqual({});
    expect(readFileSync(file, 'utf8')).toBe(before);

    // and the store is still writable
    expect(store.writable).toBe(true);
    await store.update((doc) => {
      doc.audit.push(auditEntry(3));
    });
    expect(readJson(file).audit.map((a) => a.instance)).toEqual(['i-1', 'i-3']);
  });

  it('copies each instance record an update reads: earlier documents and a throwing fn change nothing', async () => {
    // given a store holding two instances, and the document as read before any change
    const file = newStorePath();
    const store = await Store.open(file);
    await store.update((doc) => {
      for (const name of ['a', 'b', '__proto__']) doc.instances[name] = instance(name, 8080);
    });
    const before = store.read();
    const onDisk = readFileSync(file, 'utf8');

    // when one update changes a record in place and then throws
    await rejection(
      store.update((doc) => {
        const a = doc.instances.a;
        if (a) a.port = 9999;
        throw new Error('changed my mind');
      }),
    );
    // then nothing changed, in memory or on disk
    expect(store.read()).toBe(before);
    expect(store.read().instances.a?.port).toBe(8080);
    expect(readFileSync(file, 'utf8')).toBe(onDisk);

    // when updates change records in place: one by name, every one through Object.values
    await store.update((doc) => {
      const a = doc.instances.a;
      if (a) a.state = 'running';
    });
    await store.update((doc) => {
      for (const record of Object.values(doc.instances)) record.port += 1;
    });
    // then the document read before shows none of it, the store and its file all of it
    expect(before.instances.a).toMatchObject({ state: 'starting', port: 8080 });
    expect(before.instances.b?.port).toBe(8080);
    const ports = (doc: StoreDoc) => Object.entries(doc.instances).map(([k, r]) => [k, r.port, r.state]);
    const expected = [
      ['a', 8081, 'running'],
      ['b', 8081, 'starting'],
      ['__proto__', 8081, 'starting'],
    ];
    expect(ports(store.read())).toEqual(expected);
    expect(ports(readJson(file))).toEqual(expected);
    // and a name like "__proto__" stayed a record, not the document's prototype
    expect(Object.getPrototypeOf(store.read().instances)).toBe(Object.prototype);
  });

  it('readAll scans the records of an update without copying them, and a later read still copies', async () => {
    // given a store holding two instances
    const store = await Store.open(newStorePath());
    await store.update((doc) => {
      for (const name of ['a', 'b']) doc.instances[name] = instance(name, 8080);
    });
    const before = store.read();

    await store.update((doc) => {
      // when an update scans the records with readAll
      const scanned = readAll(doc.instances);
      // then it sees the committed records themselves (nothing copied)
      expect(scanned).toHaveLength(2);
      expect(scanned[0]).toBe(before.instances.a);
      // and a record read through the draft afterwards is still a copy of its own
      const a = doc.instances.a;
      expect(a).not.toBe(before.instances.a);
      if (a) a.port = 9000;
      // which readAll now shows
      expect(readAll(doc.instances).map((r) => r.port)).toEqual([9000, 8080]);
    });

    // and the document read before the update is unchanged
    expect(before.instances.a?.port).toBe(8080);
    expect(store.read().instances.a?.port).toBe(9000);
    expect(store.read().instances.b).toBe(before.instances.b);
  });

  it('groups 1000 updates issued together and keeps all of them', async () => {
    // given a new store
    const file = newStorePath();
    const store = await Store.open(file);

    // when 1000 updates are issued without waiting for each other
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        store.update((doc) => {
          doc.audit.push(auditEntry(i));
          return i;
        }),
      ),
    );

    // then every one resolved with its own result, and the file holds all 1000 in order
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const audit = readJson(file).audit;
    expect(audit).toHaveLength(1000);
    expect(audit.map((a) => a.at)).toEqual(Array.from({ length: 1000 }, (_, i) => 1_700_000_000_000 + i));
  });

  it('never lets a partial file be seen while large updates are written', async () => {
    // given a new store
    const file = newStorePath();
    const store = await Store.open(file);
    const bigReason = 'x'.repeat(8_000);

    // when 300 updates adding large audit entries are issued, one per event-loop turn,
    // while the same process reads the file between them
    const updates: Promise<void>[] = [];
    let issuing = true;
    const issue = async () => {
      for (let i = 0; i < 300; i++) {
        updates.push(
          store.update((doc) => {
            doc.audit.push(auditEntry(i, bigReason));
          }),
        );
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      issuing = false;
    };
    const issuer = issue();
    const sizes: number[] = [];
    const bad: string[] = [];
    for (let reads = 0; reads < 5_000 && (issuing || sizes.length < 10); reads++) {
      const text = readFileSync(file, 'utf8');
      try {
        sizes.push((JSON.parse(text) as StoreDoc).audit.length);
      } catch (err) {
        bad.push(`${text.length} chars: ${(err as Error).message}`);
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await issuer;
    await Promise.all(updates);

    // then every read parsed, reads saw the file grow, and the final file holds all 300
    expect(bad).toEqual([]);
    expect(sizes.length).toBeGreaterThan(10);
    expect(new Set(sizes).size).toBeGreaterThan(1);
    expect(readJson(file).audit).toHaveLength(300);
  });
});

describe('a corrupt store file', () => {
  const cases = [
    { what: 'not JSON', text: '{"version": 1, "instances": {', problem: /not valid JSON/ },
    {
      what: 'JSON failing the schema (version 99)',
      text: `${JSON.stringify({ ...emptyDoc(), version: 99 })}\n`,
      problem: /does not match the store schema \(version: /,
    },
    { what: 'an empty file', text: '', problem: /not valid JSON/ },
  ];

  for (const { what, text, problem } of cases) {
    it(`(${what}) opens read-only, refuses updates, and is left byte-for-byte untouched`, async () => {
      // given a store file holding `text`
      const file = path.join(tempDir(), 'spreadserve.json');
      writeFileSync(file, text);

      // when the store is opened and an update is attempted
      const store = await Store.open(file);
      const err = await rejection(
        store.update((doc) => {
          doc.audit.push(auditEntry(1));
        }),
      );
      await store.flushed();

      // then it is read-only, with a message naming the file and the parse problem
      expect(store.writable).toBe(false);
      expect(store.readOnlyMessage).toContain(file);
      expect(store.readOnlyMessage).toMatch(problem);
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).kind).toBe('read-only');
      expect((err as UserError).message).toContain(file);
      expect((err as UserError).message).toMatch(problem);
      // and read() still answers (with the empty document)
      expect(store.read()).toEqual(emptyDoc());
      // and the file is exactly as it was
      expect(readFileSync(file, 'utf8')).toBe(text);
    });
  }
});

describe('an unwritable store', () => {
  it('opens read-only when the parent of a new store path is a file (ENOTDIR)', async () => {
    // given a store path whose parent is a regular file (root ignores permission bits, so
    // this stands in for an unwritable folder)
    const dir = tempDir();
    const parent = path.join(dir, 'not-a-folder');
    writeFileSync(parent, 'just a file\n');
    const file = path.join(parent, 'spreadserve.json');

    // when the store is opened and an update is attempted
    const store = await Store.open(file);
    const err = await rejection(store.update(() => undefined));

    // then it is read-only with a message naming the path and the error code
    expect(store.writable).toBe(false);
    expect(store.readOnlyMessage).toContain(file);
    expect(store.readOnlyMessage).toContain('ENOTDIR');
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).kind).toBe('read-only');
    expect(store.read()).toEqual(emptyDoc());
    // and the file standing in the way is untouched
    expect(readFileSync(parent, 'utf8')).toBe('just a file\n');
  });

  it('opens read-only when the first write of a new store fails', async () => {
    // given a new store path whose temp file (.spreadserve.json.tmp) cannot be written,
    // because a folder of that name stands in its place
    const dir = tempDir();
    const file = path.join(dir, 'spreadserve.json');
    mkdirSync(path.join(dir, '.spreadserve.json.tmp'));

    // when the store is opened
    const store = await Store.open(file);

    // then opening succeeds, read-only, saying why; no store file was created
    expect(store.writable).toBe(false);
    expect(store.readOnlyMessage).toContain(file);
    expect(store.readOnlyMessage).toMatch(/writing it failed \(EISDIR\)/);
    expect(store.read()).toEqual(emptyDoc());
    expect(() => readFileSync(file)).toThrow(/ENOENT/);
    const err = await rejection(store.update(() => undefined));
    expect((err as UserError).kind).toBe('read-only');
  });

  it('turns read-only when a write fails mid-life, keeping the file and the last written document', async () => {
    // given a writable store holding one entry
    const dir = tempDir();
    const file = path.join(dir, 'spreadserve.json');
    const store = await Store.open(file);
    await store.update((doc) => {
      doc.audit.push(auditEntry(1));
    });
    const onDisk = readFileSync(file, 'utf8');
    // and its temp file can no longer be written
    mkdirSync(path.join(dir, '.spreadserve.json.tmp'));

    // when one update is issued, and a second one once the first one's write has started
    const first = rejection(
      store.update((doc) => {
        doc.audit.push(auditEntry(2));
      }),
    );
    for (let i = 0; i < 3; i++) await Promise.resolve();
    const second = rejection(
      store.update((doc) => {
        doc.audit.push(auditEntry(3));
      }),
    );
    const errors = await Promise.all([first, second]);
    await store.flushed();

    // then both updates are reported failed as read-only, naming the file and the error
    for (const err of errors) {
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).kind).toBe('read-only');
      expect((err as UserError).message).toContain(file);
    }
    expect(store.writable).toBe(false);
    expect(store.readOnlyMessage).toMatch(/writing it failed \(EISDIR\)/);
    // and the document is back to what the file holds, which is unchanged
    expect(store.read().audit.map((a) => a.instance)).toEqual(['i-1']);
    expect(readFileSync(file, 'utf8')).toBe(onDisk);
    // and later updates are refused while the fault lasts
    const later = await rejection(store.update(() => undefined));
    expect((later as UserError).kind).toBe('read-only');
  });
});
