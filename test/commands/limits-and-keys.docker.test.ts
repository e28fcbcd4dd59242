// Issue 10, parts 3 and 4, against real Docker: a user's --ttl, extend and Keep stop at
// MAX_LIFETIME from launch and MAX_EXTEND per extend, an admin's go past them (audited); and
// prototype keys (`constructor`, `__proto__`, `toString`, `hasOwnProperty`) as instance names,
// flags and templates are refused in one clear sentence, with Object.prototype untouched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../commands/index.ts';
import type { Reply } from '../../commands/reply.ts';
import type { Actor } from '../../core/policy.ts';
import { UserError } from '../../lib/errors.ts';
import { admin, alice, buildImage, leftovers, type TestBed, testBed } from '../support/services.ts';

const SCOPE = 'test-limits-keys';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let bed: TestBed;
const prototypeKeysBefore = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  bed = await testBed({
    scope: SCOPE,
    ports: '24960-24969',
    env: { MAX_LIFETIME: '1d', MAX_EXTEND: '8h', MAX_INSTANCES_PER_USER: '5' },
  });
  await buildImage(bed.services, 'demo');
}, 600_000);

afterAll(async () => {
  await bed?.cleanup();
});

const as =
  (actor: Actor) =>
  (text: string): Promise<Reply> =>
    dispatch(text, { actor, services: bed.services, prefix: '', log: bed.services.log });
const record = (name: string) => bed.services.instances.get(name);
const lastAudit = (name: string, action: string) =>
  bed.services.store
    .read()
    .audit.filter((e) => e.instance === name && e.action === action)
    .at(-1);

describe('limits that hold (MAX_LIFETIME=1d, MAX_EXTEND=8h)', () => {
  it("caps a user's --ttl at MAX_LIFETIME from launch, and says so", async () => {
    const reply = await as(alice)('launch demo --name capped --ttl 999999d');
    expect(reply.ok).toBe(true);
    expect(reply.summary).toMatch(
      /^capped is up at \S+; its time limit is 1d \(the most MAX_LIFETIME allows\)$/,
    );
    const r = record('capped');
    expect((r.expiresAt ?? 0) - r.createdAt).toBe(DAY);
  }, 120_000);

  it('caps one extend at MAX_EXTEND, and repeated extends and Keeps at MAX_LIFETIME from launch', async () => {
    const before = Date.now();
    const once = await as(alice)('extend capped 999d');
    expect(once.ok).toBe(true);
    expect(once.summary).toMatch(/^capped is kept until .+ \(the most MAX_EXTEND allows\)\.$/);
    const r1 = record('capped');
    expect(r1.keepUntil ?? 0).toBeGreaterThanOrEqual(before + 8 * HOUR);
    expect(r1.keepUntil ?? 0).toBeLessThanOrEqual(Date.now() + 8 * HOUR);

    // 20 hours later (the record aged in the store, its earlier keep run out): Keep 8h (the button
    // runs `extend <name> 8h`) and extend, again and again
    await bed.services.store.update((doc) => {
      const aged = doc.instances.capped;
      if (!aged) throw new Error('capped is gone');
      aged.createdAt -= 20 * HOUR;
      aged.expiresAt = aged.createdAt + DAY;
      aged.keepUntil = undefined;
    });
    let last: Reply | undefined;
    for (let i = 0; i < 5; i++) last = await dispatch(['extend', 'capped', '8h'], ctxOf(alice));
    for (let i = 0; i < 3; i++) last = await as(alice)('extend capped 999999d');
    expect(last?.summary).toMatch(/\(the most MAX_LIFETIME allows\)\.$/);
    const r2 = record('capped');
    expect(r2.keepUntil).toBe(r2.createdAt + DAY);
    expect(r2.expiresAt).toBe(r2.createdAt + DAY);
    expect(new Date(r2.keepUntil ?? 0).getUTCFullYear()).toBeLessThan(2100);

    // Past MAX_LIFETIME (5 hours later, warned): a user's extend is refused, the warning stays
    await bed.services.store.update((doc) => {
      const aged = doc.instances.capped;
      if (!aged) throw new Error('capped is gone');
      aged.createdAt -= 5 * HOUR;
      aged.expiresAt = aged.createdAt + DAY;
      aged.warning = { at: Date.now(), reason: 'ttl', deadline: Date.now() + 15 * 60_000 };
    });
    const late = await as(alice)('extend capped 1h');
    expect(late.errorKind).toBe('quota');
    expect(late.summary).toBe('capped has lived its MAX_LIFETIME (1d); only an admin can keep it longer.');
    expect(record('capped').warning?.reason).toBe('ttl');
  });

  it('says nothing of a cap when the extend fits', async () => {
    await as(alice)('launch demo --name roomy');
    const reply = await as(alice)('extend roomy 1h');
    expect(reply.summary).toMatch(/^roomy is kept until [^(]+\.$/);
  }, 120_000);

  it('lets an admin go past both, and the audit trail says so', async () => {
    const reply = await as(admin)('extend capped 30d');
    expect(reply.ok).toBe(true);
    expect(reply.summary).not.toContain('allows');
    const r = record('capped');
    expect(r.warning).toBeUndefined();
    expect(r.keepUntil ?? 0).toBeGreaterThan(r.createdAt + 29 * DAY);
    expect(r.expiresAt ?? 0).toBeGreaterThan(r.createdAt + 29 * DAY);
    expect(lastAudit('capped', 'extend')?.reason).toMatch(/for 30d, past MAX_\w+: allowed for an admin$/);

    const launched = await as(admin)('launch demo --name long --ttl 30d');
    expect(launched.ok).toBe(true);
    expect(launched.summary).not.toContain('allows');
    const l = record('long');
    expect((l.expiresAt ?? 0) - l.createdAt).toBe(30 * DAY);
    expect(lastAudit('long', 'launch')?.reason).toBe(
      'time limit 30d, past MAX_LIFETIME (1d): allowed for an admin',
    );
    // A user's launch, capped or within the limit, is audited as before.
    expect(lastAudit('roomy', 'launch')?.reason).toBeUndefined();
    expect(lastAudit('capped', 'launch')?.reason).toBeUndefined();
  }, 120_000);

  it('stops them all', async () => {
    for (const name of ['capped', 'roomy', 'long']) expect((await as(admin)(`stop ${name}`)).ok).toBe(true);
    expect(leftovers(bed.services, SCOPE).instances).toEqual([]);
  }, 120_000);
});

function ctxOf(actor: Actor) {
  return { actor, services: bed.services, prefix: '', log: bed.services.log };
}

describe('prototype keys as names, flags and templates', () => {
  const KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
  const snapshot = () => {
    const doc = bed.services.store.read();
    return { ...leftovers(bed.services, SCOPE), audit: doc.audit.length };
  };

  it('refuses each as an instance name in one sentence, for launch, stop, extend and logs', async () => {
    const before = snapshot();
    for (const key of KEYS) {
      for (const [actor, text] of [
        [alice, `launch demo --name ${key}`],
        [admin, `stop ${key}`],
        [admin, `extend ${key} 1h`],
        [alice, `extend ${key} 1h`],
        [admin, `logs ${key}`],
      ] as const) {
        const reply = await as(actor)(text);
        expect(reply.ok, text).toBe(false);
        expect(reply.errorKind, text).toBe('usage');
        expect(reply.summary, text).toMatch(
          new RegExp(`^"${key}" is (a reserved word and cannot name an instance|not a valid name: )`),
        );
        expect(reply.summary, text).not.toMatch(/undefined|function|\[object/);
      }
    }
    expect(snapshot()).toEqual(before);
  });

  it('finds no instance under a prototype key in the core either', async () => {
    for (const key of KEYS) {
      await expect(bed.services.instances.extend(admin, key, HOUR)).rejects.toBeInstanceOf(UserError);
      await expect(bed.services.instances.stop(admin, key)).rejects.toBeInstanceOf(UserError);
      expect(() => bed.services.instances.get(key)).toThrow(`There is no instance named ${key}`);
      await expect(bed.services.instances.launch({ actor: alice, name: key })).rejects.toThrow(
        /reserved word|not a valid name/,
      );
    }
  });

  it('refuses each as a flag, without swallowing the next word', async () => {
    for (const key of KEYS) {
      const reply = await as(alice)(`launch demo --${key} team-a`);
      expect(reply.errorKind).toBe('usage');
      expect(reply.summary).toBe(`launch has no --${key} flag; it takes --name, --ttl.`);
      const eq = await as(alice)(`list --${key}=x`);
      expect(eq.errorKind).toBe('usage');
      expect(eq.summary).toMatch(new RegExp(`^list has no --${key} flag`));
    }
  });

  it('knows no template by a prototype key', async () => {
    for (const key of KEYS) {
      const launch = await as(alice)(`launch ${key}`);
      expect(launch.errorKind).toBe('not-found');
      expect(launch.summary).toBe(`There is no template "${key}"; known templates: demo.`);
      const build = await as(admin)(`build ${key}`);
      expect(build.errorKind).toBe('not-found');
    }
  });

  it('leaves Object.prototype untouched', () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeysBefore);
    expect({}.constructor).toBe(Object);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });
});
