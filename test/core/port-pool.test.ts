// The port pool over a real store: lowest free first, never one port twice, reuse after free.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePortRanges } from '../../core/config.ts';
import { PortPool } from '../../core/port-pool.ts';
import { UserError } from '../../lib/errors.ts';
import { Store } from '../../store/store.ts';
import { tempDir } from '../support/services.ts';

async function poolOf(ranges: string) {
  const store = await Store.open(path.join(tempDir('ss-pool-'), 'store.json'));
  const pool = new PortPool(parsePortRanges(ranges)!, store.read());
  const reserve = (name: string) => store.update((doc) => pool.reserve(doc, name, 1));
  const release = (port: number, name?: string) => store.update((doc) => pool.release(doc, port, name));
  return { store, pool, reserve, release };
}

describe('port pool', () => {
  it('hands 200 concurrent reservations 200 distinct ports, lowest first, from a 1000-port range', async () => {
    const { store, pool, reserve } = await poolOf('30000-30999');
    const ports = await Promise.all(Array.from({ length: 200 }, (_, i) => reserve(`i${i}`)));
    expect(new Set(ports).size).toBe(200);
    expect([...ports].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => 30000 + i));
    expect(pool.counts(store.read())).toMatchObject({ total: 1000, free: 800, reserved: 200, inUse: 0 });
    // and the file holds all 200, as a reopened store shows
    const reopened = await Store.open(store.file);
    expect(Object.keys(reopened.read().ports)).toHaveLength(200);
  });

  it('reuses a freed port before any higher one', async () => {
    const { reserve, release } = await poolOf('30000-30009');
    const [a, b, c] = [await reserve('a'), await reserve('b'), await reserve('c')];
    expect([a, b, c]).toEqual([30000, 30001, 30002]);
    await release(b, 'b');
    expect(await reserve('d')).toBe(30001);
    expect(await reserve('e')).toBe(30003);
  });

  it('frees a port only for the instance holding it', async () => {
    const { store, reserve, release } = await poolOf('30000-30009');
    const port = await reserve('a');
    await release(port, 'someone-else');
    expect(store.read().ports[port]).toMatchObject({ instance: 'a' });
  });

  it('walks several ranges in order and says when the pool is exhausted', async () => {
    const { reserve, store } = await poolOf('30010-30011,30000-30000');
    expect([await reserve('a'), await reserve('b'), await reserve('c')]).toEqual([30000, 30010, 30011]);
    const before = JSON.stringify(store.read());
    const err = await reserve('d').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).kind).toBe('pool-exhausted');
    expect((err as UserError).message).toMatch(/All 3 ports of the pool are in use/);
    expect(JSON.stringify(store.read())).toBe(before);
  });

  it('keeps set-aside ports out of use and counts them apart', async () => {
    const { store, pool, reserve } = await poolOf('30000-30004');
    await store.update((doc) => pool.setAside(doc, 30000, 'held by another process', 1));
    expect(await reserve('a')).toBe(30001);
    expect(pool.counts(store.read())).toMatchObject({ free: 3, reserved: 1, setAside: [30000] });
  });

  it('does not lose a port when the update that reserved it throws', async () => {
    const { store, pool, reserve } = await poolOf('30000-30004');
    await expect(
      store.update((doc) => {
        pool.reserve(doc, 'a', 1);
        throw new Error('later step failed');
      }),
    ).rejects.toThrow('later step failed');
    expect(store.read().ports).toEqual({});
    expect(await reserve('b')).toBe(30000);
  });

  it('starts from the store: ports taken before a restart stay taken', async () => {
    const { store, reserve } = await poolOf('30000-30004');
    await reserve('a');
    await reserve('b');
    const reopened = await Store.open(store.file);
    const pool = new PortPool(parsePortRanges('30000-30004')!, reopened.read());
    expect(await reopened.update((doc) => pool.reserve(doc, 'c', 1))).toBe(30002);
  });
});

describe('port pool on Swarm: one table per node', () => {
  const MGR = 'mgr0node0id';
  const WORK = 'work0node0id';

  it('hands the same lowest port out on each node, and keeps each node apart', async () => {
    const { store, pool } = await poolOf('30000-30009');
    // given reservations on two nodes and on no node at all
    const on = (node: string | undefined, name: string) =>
      store.update((doc) => pool.reserve(doc, name, 1, node));
    const ports = [await on(MGR, 'a'), await on(WORK, 'b'), await on(MGR, 'c'), await on(undefined, 'd')];

    // then each node (and the single host) starts from the lowest port of its own
    expect(ports).toEqual([30000, 30000, 30001, 30000]);
    expect(Object.keys(store.read().nodePorts?.[MGR] ?? {})).toEqual(['30000', '30001']);
    expect(Object.keys(store.read().nodePorts?.[WORK] ?? {})).toEqual(['30000']);
    // and counting over both nodes counts the pool twice
    expect(pool.counts(store.read(), [MGR, WORK])).toMatchObject({ total: 20, reserved: 3, free: 17 });

    // when a port is set aside on the worker only, the manager's same port is untouched
    await store.update((doc) => pool.setAside(doc, 30001, 'held by another process', 1, WORK));
    expect(await on(WORK, 'e')).toBe(30002);
    await store.update((doc) => pool.release(doc, 30001, 'c', MGR));
    expect(await on(MGR, 'f')).toBe(30001);

    // and a reopened store and a new pool agree (the tables are in the file)
    const reopened = await Store.open(store.file);
    const again = new PortPool(parsePortRanges('30000-30009')!, reopened.read());
    expect(again.counts(reopened.read(), [WORK])).toMatchObject({ reserved: 2, setAside: [30001] });
  });
});
