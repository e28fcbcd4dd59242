// A launch's reservation on Swarm: which node it goes to and which port there, inside one store
// update, over a real store and the real pool.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePortRanges } from '../../core/config.ts';
import { PortPool } from '../../core/port-pool.ts';
import { reserveLaunch } from '../../core/reservation.ts';
import type { TemplateSet } from '../../core/templates.ts';
import type { EngineNode } from '../../engine/types.ts';
import { UserError } from '../../lib/errors.ts';
import { Store } from '../../store/store.ts';
import { tempDir } from '../support/services.ts';

const node = (name: string, over: Partial<EngineNode> = {}): EngineNode => ({
  id: `${name}id`,
  name,
  address: `${name}.example.com`,
  role: 'worker',
  labels: {},
  available: true,
  ...over,
});

async function bed(ports = '30000-30009') {
  const store = await Store.open(path.join(tempDir('ss-reserve-'), 'store.json'));
  const pool = new PortPool(parsePortRanges(ports)!, store.read());
  const deps = { pool, templates: new Map() as TemplateSet, config: { maxInstancesPerUser: 0 } };
  const launch = (name: string, nodes: EngineNode[] | undefined) =>
    store.update((doc) =>
      reserveLaunch(
        deps,
        doc,
        { actor: { id: 'UALICE', role: 'user' }, name, template: 'demo', policy: {}, nodes },
        1,
      ),
    );
  return { store, launch };
}

describe('a launch on Swarm', () => {
  it('goes to the node with the fewest instances, ties by name, on its own lowest port', async () => {
    const { store, launch } = await bed();
    const nodes = [node('beta'), node('alpha')];
    // given three launches one after the other
    const placed = [await launch('a', nodes), await launch('b', nodes), await launch('c', nodes)];

    // then alpha (tie, by name), beta (fewer), alpha again, each from its own lowest port
    expect(placed.map((r) => [r.node?.name, r.port])).toEqual([
      ['alpha', 30000],
      ['beta', 30000],
      ['alpha', 30001],
    ]);
    // and the record carries the node as URLs need it
    expect(store.read().instances.b?.node).toEqual({
      id: 'betaid',
      name: 'beta',
      address: 'beta.example.com',
    });
  });

  it('passes over a node that is down or drained, and one whose pool is full', async () => {
    const { launch } = await bed('30000-30000');
    const nodes = [node('alpha', { available: false }), node('beta'), node('gamma')];
    expect((await launch('a', nodes)).node?.name).toBe('beta');
    expect((await launch('b', nodes)).node?.name).toBe('gamma');
    // every available node's one port is taken now: one sentence, nothing recorded
    const err = await launch('c', nodes).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).kind).toBe('pool-exhausted');
    expect((err as UserError).message).toMatch(/in use on every node that may run template demo/);
  });

  it('says so when no node may run it, or none is ready, and reserves nothing', async () => {
    const { store, launch } = await bed();
    await expect(launch('a', [])).rejects.toThrow(/No swarm node may run template demo/);
    await expect(launch('a', [node('alpha', { available: false })])).rejects.toThrow(
      /No swarm node that may run template demo is ready and active \(alpha\)/,
    );
    expect(store.read().instances).toEqual({});
    expect(store.read().nodePorts ?? {}).toEqual({});
  });

  it('on one host reserves from the single table and records no node', async () => {
    const { store, launch } = await bed();
    const r = await launch('a', undefined);
    expect(r).toEqual({ name: 'a', port: 30000, node: undefined });
    expect(Object.keys(store.read().ports)).toEqual(['30000']);
  });
});
