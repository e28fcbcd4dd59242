// The store file's bytes (store/doc-bytes.ts) keep runs of records' JSON between writes: after
// every kind of update the file must still be JSON.stringify of the document, byte for byte, and a
// record whose JSON is kept must refuse to change behind the store's back.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DocBytes } from '../../store/doc-bytes.ts';
import { type AuditEntry, emptyDoc, type InstanceRecord, type StoreDoc } from '../../store/schema.ts';
import { Store } from '../../store/store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function openStore(): Promise<Store> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spreadserve-doc-bytes-'));
  dirs.push(dir);
  return Store.open(path.join(dir, 'spreadserve.json'));
}

/** What the file must hold: the document as JSON.stringify writes it, and a newline. */
function expected(doc: unknown): string {
  return `${JSON.stringify(doc)}\n`;
}

/** A small deterministic generator (mulberry32), so a failure replays the same updates. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Names that are only data in a map, however a careless copy would treat them. */
const ODD_NAMES = [
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toJSON',
  '0',
  '42',
  'é-✓',
  'emoji-😀',
  'q"uote\\',
];

function record(name: string, port: number, now: number): InstanceRecord {
  return {
    name,
    owner: 'U1',
    template: 'demo',
    port,
    state: 'starting',
    createdAt: now,
    lastActivityAt: now,
  };
}

describe('the store file after each update (DocBytes)', () => {
  it('is JSON.stringify of the document, byte for byte, over 600 random updates of every part', async () => {
    const store = await openStore();
    const next = random(12);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    const names = (doc: StoreDoc) => Object.keys(doc.instances);
    let serial = 0;
    const updates: ((doc: StoreDoc) => void)[] = [
      // A launch: a record and its port, in a map that reaches several runs.
      (doc) => {
        const name = next() < 0.1 ? pick(ODD_NAMES) : `i-${serial}`;
        const port = 30000 + (serial++ % 500);
        doc.instances[name] = record(name, port, serial);
        doc.ports[String(port)] = Object.freeze({
          state: 'reserved' as const,
          instance: name,
          since: serial,
        });
      },
      // A record changed on its copy (a field set, one cleared to undefined).
      (doc) => {
        const name = pick(names(doc));
        const r = name === undefined ? undefined : doc.instances[name];
        if (!r) return;
        r.state = 'running';
        r.containerId = `c${serial++}`;
        r.keepUntil = next() < 0.5 ? serial : undefined;
        r.lastSample = { at: serial, txBytes: next() * 1e9, rxBytes: 0 };
      },
      // A stop: the record and its port gone, from anywhere in the map.
      (doc) => {
        const name = pick(names(doc));
        if (name === undefined) return;
        const port = doc.instances[name]?.port;
        delete doc.instances[name];
        if (port !== undefined) delete doc.ports[String(port)];
      },
      // The audit trail: appended, trimmed at the front as at its limit, an entry replaced.
      (doc) => {
        const entry: AuditEntry = { at: serial++, actor: 'U1', action: 'launch', instance: pick(ODD_NAMES) };
        doc.audit.push(entry, { ...entry, reason: next() < 0.5 ? 'reason «ü»' : undefined });
        if (doc.audit.length > 60) doc.audit.splice(0, doc.audit.length - 60);
        const at = Math.floor(next() * doc.audit.length);
        const old = doc.audit[at];
        if (old && next() < 0.3) doc.audit[at] = { ...old, reason: `replaced ${serial}` };
      },
      // Swarm's per-node port tables (a map of maps), created, filled and emptied.
      (doc) => {
        const node = pick(['n1', 'n2', 'n3']);
        const tables = doc.nodePorts ?? {};
        const table = tables[node] ?? {};
        const port = String(31000 + Math.floor(next() * 80));
        if (table[port] && next() < 0.5) delete table[port];
        else
          table[port] = Object.freeze({ state: 'in-use' as const, instance: `i-${serial}`, since: serial });
        tables[node] = table;
        doc.nodePorts = tables;
      },
      // Usage rows and open stretches (an object of lists), rows replaced.
      (doc) => {
        const usage = doc.usage ?? { days: [], open: [] };
        usage.open.push({ instance: `i-${serial}`, owner: 'U1', template: 'demo', since: serial });
        if (usage.open.length > 70) usage.open.splice(Math.floor(next() * 70), 1);
        const row = {
          day: '2026-11-30',
          user: pick(ODD_NAMES),
          template: 'demo',
          seconds: serial,
          launches: 1,
          reclaims: 0,
          idleSeconds: 0,
        };
        const at = usage.days.findIndex((d) => d.user === row.user);
        if (at === -1) usage.days.push(row);
        else usage.days[at] = row;
        doc.usage = usage;
      },
      // The small parts, written whole.
      (doc) => {
        doc.reclaim.lastPassSummary = `pass ${serial++}`;
        doc.reclaim.failures.push({ at: serial, error: 'timeout' });
        doc.builds.push({ template: 'demo', by: 'U1', startedAt: serial, durationMs: 5, outcome: 'success' });
      },
    ];
    for (let i = 0; i < 600; i++) {
      const update = i < 80 ? (updates[0] as (doc: StoreDoc) => void) : pick(updates);
      await store.update(update);
      const file = readFileSync(store.file, 'utf8');
      if (file !== expected(store.read())) {
        expect.fail(`update ${i}: the file is not JSON.stringify of the document`);
      }
    }
    // Every part grew past a run (32 records), so the kept runs were exercised, not just built.
    const doc = store.read();
    expect(Object.keys(doc.instances).length).toBeGreaterThan(32);
    expect(doc.audit.length).toBe(60);
    expect(Object.keys(doc.nodePorts ?? {})).toHaveLength(3);
    expect(doc.usage?.open.length).toBeGreaterThan(32);
    expect(Object.hasOwn(doc.instances, '__proto__') || Object.hasOwn(doc.instances, 'toJSON')).toBe(true);
    await store.close();
  });

  it('writes the members JSON writes differently as JSON does: undefined, null, numbers, toJSON', () => {
    const odd = {
      ...emptyDoc(),
      instances: { a: undefined, b: null, c: 3, d: { toJSON: () => 'd' }, e: record('e', 1, 1) },
      audit: [undefined, null, 7, { toJSON: () => undefined }, { at: 1, actor: 'U1', action: 'stop' }],
      reclaim: { failures: [], lastPassSummary: undefined },
    } as unknown as StoreDoc;
    const bytes = new DocBytes();
    expect(bytes.of(odd).toString('utf8')).toBe(expected(odd));
    expect(bytes.of(odd).toString('utf8')).toBe(expected(odd)); // and again, from the kept runs
  });

  it('writes the same records under other keys with those keys (a kept run matches keys too)', () => {
    const records = Array.from({ length: 40 }, (_, i) => record(`r${i}`, 30000 + i, i));
    const under = (prefix: string) =>
      ({
        ...emptyDoc(),
        instances: Object.fromEntries(records.map((r, i) => [`${prefix}${i}`, r])),
      }) as StoreDoc;
    const bytes = new DocBytes();
    for (const doc of [under('a'), under('b'), under('a')]) {
      expect(bytes.of(doc).toString('utf8')).toBe(expected(doc));
    }
  });

  it('freezes a record once its JSON is kept: a change outside an update throws instead of being lost', async () => {
    const store = await openStore();
    await store.update((doc) => {
      doc.instances.web = record('web', 30000, 1);
      doc.audit.push({ at: 1, actor: 'U1', action: 'launch', instance: 'web' });
    });
    const web = store.read().instances.web as InstanceRecord;
    expect(() => {
      web.state = 'running';
    }).toThrow(TypeError);
    expect(() => {
      (store.read().audit[0] as AuditEntry).reason = 'rewritten';
    }).toThrow(TypeError);
    // Inside an update the record is a copy, changed and written as usual.
    await store.update((doc) => {
      (doc.instances.web as InstanceRecord).state = 'running';
    });
    expect(JSON.parse(readFileSync(store.file, 'utf8')).instances.web.state).toBe('running');
    expect(readFileSync(store.file, 'utf8')).toBe(expected(store.read()));
    await store.close();
  });
});
