// Bad input to the commands no other file covers (PRODUCT.md "Bad input and faults"): each is
// answered in one line, of the right kind, and leaves nothing behind in the store or Docker.
// No image is built: every case is refused before a container could be needed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../commands/index.ts';
import type { Actor } from '../../core/policy.ts';
import { admin, alice, leftovers, type TestBed, testBed } from '../support/services.ts';

const SCOPE = 'test-bad-input';
let bed: TestBed;

beforeAll(async () => {
  bed = await testBed({ scope: SCOPE, ports: '24700-24719' });
}, 60_000);

afterAll(async () => {
  await bed?.cleanup();
});

/** Everything a refusal must not touch: instances, ports, containers, builds and the audit trail. */
function snapshot() {
  const doc = bed.services.store.read();
  return { ...leftovers(bed.services, SCOPE), builds: doc.builds.length, audit: doc.audit.length };
}

const as = (actor: Actor) => (text: string) =>
  dispatch(text, { actor, services: bed.services, prefix: '', log: bed.services.log });

describe('bad input: one line, of the right kind, nothing created', () => {
  const cases: [string, Actor, string, string, RegExp][] = [
    [
      'extend with a bad duration',
      alice,
      'extend team-a forever',
      'usage',
      /^"forever" is not a duration: use /,
    ],
    [
      'extend with three arguments',
      alice,
      'extend team-a 2h 3h',
      'usage',
      /usage: extend <name> \[DURATION\]/,
    ],
    ['extend without a name', alice, 'extend', 'usage', /usage: extend <name> \[DURATION\]/],
    ['extend of an unknown instance', alice, 'extend ghost 1h', 'not-found', /ghost/],
    ['logs with --lines and no value', alice, 'logs team-a --lines', 'usage', /--lines needs a value/],
    ['logs without a name', alice, 'logs', 'usage', /usage: logs <name>/],
    [
      'build of an unknown template',
      admin,
      'build nosuch',
      'not-found',
      /There is no template "nosuch"; known templates: demo\./,
    ],
    ['build by a non-admin', alice, 'build demo', 'forbidden', /Only admins may build images/],
    ['build without a template', admin, 'build', 'usage', /usage: build <template>/],
    [
      'build --no-cache with a value',
      admin,
      'build demo --no-cache=yes',
      'usage',
      /--no-cache takes no value/,
    ],
    ['reclaim by a non-admin', alice, 'reclaim', 'forbidden', /Only admins may run the reclaim pass/],
    ['reclaim with an argument', admin, 'reclaim now', 'usage', /Too many arguments; usage: reclaim/],
    ['list with an unknown scope', alice, 'list everyone', 'usage', /^List takes "mine" or "all"/],
    ['help of an unknown command', alice, 'help frobnicate', 'usage', /There is no command "frobnicate"/],
    ['stop with a flag it does not take', alice, 'stop team-a --force', 'usage', /stop has no --force flag/],
    ['stop of an unknown instance', alice, 'stop ghost', 'not-found', /There is no instance named ghost/],
    ['launch --name without a value', alice, 'launch demo --name', 'usage', /--name needs a value/],
    ['history with a bad name', alice, 'history Bad_Name', 'usage', /"Bad_Name" is not a valid name/],
  ];
  for (const [what, actor, text, kind, expected] of cases) {
    it(`${what}: ${text}`, async () => {
      const before = snapshot();
      const reply = await as(actor)(text);
      expect(reply.ok).toBe(false);
      expect(reply.errorKind).toBe(kind);
      expect(reply.summary).toMatch(expected);
      expect(reply.summary).not.toContain('\n');
      expect(reply.summary).not.toMatch(/Something went wrong|at .*\.ts:\d+|Error:/);
      expect(snapshot()).toEqual(before);
    });
  }

  it('history of a name never used is an empty trail, not an error', async () => {
    const before = snapshot();
    const reply = await as(alice)('history never-was');
    expect(reply).toMatchObject({ ok: true, kind: 'history', total: 0 });
    expect(reply.summary).toBe('The audit trail holds nothing of never-was yet.');
    expect(snapshot()).toEqual(before);
  });
});
