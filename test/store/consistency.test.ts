// The store checked on load, not only shaped: a document whose records disagree with each other
// (key and name, the name rule, ports out of range or shared, the port map) opens read-only,
// names the bad record in its one sentence, and is never rewritten.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../lib/errors.ts';
import { emptyDoc, type InstanceRecord, type StoreDoc } from '../../store/schema.ts';
import { Store } from '../../store/store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function record(name: string, port: number): InstanceRecord {
  return {
    name,
    owner: 'U0001',
    template: 'demo',
    port,
    state: 'running',
    containerId: `c-${name}`,
    createdAt: 1_700_000_000_000,
    lastActivityAt: 1_700_000_000_000,
  };
}

/** A consistent document with team-a on 8080 and team-b on 8081. */
function goodDoc(): StoreDoc {
  const doc = emptyDoc();
  doc.instances['team-a'] = record('team-a', 8080);
  doc.instances['team-b'] = record('team-b', 8081);
  doc.ports['8080'] = { state: 'in-use', instance: 'team-a', since: 1 };
  doc.ports['8081'] = { state: 'in-use', instance: 'team-b', since: 1 };
  return doc;
}

function storeFile(doc: StoreDoc): { file: string; text: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spreadserve-check-'));
  dirs.push(dir);
  const file = path.join(dir, 'spreadserve.json');
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  writeFileSync(file, text);
  return { file, text };
}

describe('a store document checked on load', () => {
  it('opens read-only naming a __proto__ record, which the schema alone would drop silently', async () => {
    const doc = goodDoc();
    const text = JSON.stringify(doc).replace(
      '"instances":{',
      `"instances":{"__proto__":${JSON.stringify(record('team-c', 8082))},`,
    );
    const { file } = storeFile(doc);
    writeFileSync(file, text);
    const store = await Store.open(file);
    await store.close();
    expect(store.writable).toBe(false);
    expect(store.readOnlyMessage).toMatch(/instance "__proto__", which is not a valid instance name/);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(Object.prototype).not.toHaveProperty('team-c');
  });

  it('opens writable when its records agree', async () => {
    const { file } = storeFile(goodDoc());
    const store = await Store.open(file);
    expect(store.writable).toBe(true);
    expect(Object.keys(store.read().instances)).toEqual(['team-a', 'team-b']);
    await store.close();
  });

  const cases: { what: string; corrupt: (doc: StoreDoc) => void; problem: RegExp }[] = [
    {
      what: 'a key that differs from its name',
      corrupt: (doc) => {
        doc.instances['team-b'] = record('team-z', 8081);
      },
      problem: /instance "team-b" whose name is "team-z"/,
    },
    {
      what: 'a name breaking the name rule',
      corrupt: (doc) => {
        doc.instances.Bad_Name = record('Bad_Name', 8082);
        doc.ports['8082'] = { state: 'in-use', instance: 'Bad_Name', since: 1 };
      },
      problem: /instance "Bad_Name", which is not a valid instance name/,
    },
    {
      what: 'a negative port',
      corrupt: (doc) => {
        doc.instances['team-b'] = record('team-b', -5);
      },
      problem: /instance "team-b" on port -5, outside 1-65535/,
    },
    {
      what: 'a port past 65535',
      corrupt: (doc) => {
        doc.instances['team-b'] = record('team-b', 70_000);
      },
      problem: /instance "team-b" on port 70000, outside 1-65535/,
    },
    {
      what: 'two instances on one port',
      corrupt: (doc) => {
        doc.instances['team-b'] = record('team-b', 8080);
      },
      problem: /instance "team-b" on port 8080, which instance "team-a" also has/,
    },
    {
      what: 'a port map entry naming another instance',
      corrupt: (doc) => {
        doc.ports['8081'] = { state: 'in-use', instance: 'team-a', since: 1 };
      },
      problem: /instance "team-b" on port 8081, but its port map entry names "team-a"/,
    },
    {
      what: 'an instance missing from the port map',
      corrupt: (doc) => {
        delete doc.ports['8081'];
      },
      problem: /instance "team-b" on port 8081, but its port map entry names nothing/,
    },
    {
      what: "an instance's port set aside",
      corrupt: (doc) => {
        doc.ports['8081'] = { state: 'set-aside', since: 1, reason: 'held' };
      },
      problem: /instance "team-b" on port 8081, but its port map entry names set-aside/,
    },
  ];

  for (const { what, corrupt, problem } of cases) {
    it(`(${what}) opens read-only naming the record, refuses updates, and leaves the file untouched`, async () => {
      // given a store file whose records disagree
      const doc = goodDoc();
      corrupt(doc);
      const { file, text } = storeFile(doc);

      // when it is opened and an update is attempted
      const store = await Store.open(file);
      const err = await store
        .update((d) => {
          d.reclaim.lastPassAt = 1;
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      await store.close();

      // then it is read-only, in one sentence naming the file and the bad record
      expect(store.writable).toBe(false);
      const message = store.readOnlyMessage ?? '';
      expect(message).toContain(file);
      expect(message).toMatch(problem);
      expect(message.match(/\. /g)).toBeNull(); // one sentence
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).kind).toBe('read-only');
      expect((err as UserError).message).toMatch(problem);
      // and the file holds exactly what it held
      expect(readFileSync(file, 'utf8')).toBe(text);
    });
  }
});
