// The placement rule of instances over the bot's bridge networks (core/networks.ts): the lowest
// network with room, at most the configured size each, launches in flight counted.
import { describe, expect, it } from 'vitest';
import {
  firstWithRoom,
  NetworkPlacement,
  networkName,
  networkPosition,
  occupancy,
} from '../../core/networks.ts';
import { PortPool } from '../../core/port-pool.ts';
import { emptyDoc, type InstanceRecord, type StoreDoc } from '../../store/schema.ts';

const SCOPE = 'nets';

function record(name: string, network: string | undefined, state: InstanceRecord['state'] = 'running') {
  return { name, owner: 'U1', template: 'demo', port: 1, state, network, createdAt: 0, lastActivityAt: 0 };
}

/** A store document holding running instances on the given networks. */
function docWith(networks: (string | undefined)[]): StoreDoc {
  const doc = emptyDoc();
  networks.forEach((network, i) => {
    doc.instances[`i${i}`] = record(`i${i}`, network);
  });
  return doc;
}

/** Launches one after another, each recorded running on its network before the next. */
function launchAll(placement: NetworkPlacement, doc: StoreDoc, names: string[]): string[] {
  return names.map((name) => {
    const network = placement.place(doc, name);
    doc.instances[name] = record(name, network);
    placement.release(name);
    return network;
  });
}

describe('network names', () => {
  it('names the first network after the scope and the next ones with their position', () => {
    expect(networkName(SCOPE)).toBe('spreadserve-nets');
    expect(networkName(SCOPE, 2)).toBe('spreadserve-nets-2');
    expect(networkPosition(SCOPE, 'spreadserve-nets')).toBe(1);
    expect(networkPosition(SCOPE, 'spreadserve-nets-3')).toBe(3);
  });

  it("does not take another scope's network or Docker's for one of its own", () => {
    for (const name of [
      'bridge',
      'spreadserve-other',
      'spreadserve-nets-x',
      'spreadserve-nets-1',
      'spreadserve-nets-02',
    ]) {
      expect(networkPosition(SCOPE, name)).toBeNull();
    }
  });
});

describe('NetworkPlacement', () => {
  it('fills the networks in order, at most the configured size each', () => {
    // given a size of 2 and an empty store
    const placement = new NetworkPlacement(SCOPE, 2);
    const doc = emptyDoc();
    // when five instances launch one after another
    const chosen = launchAll(placement, doc, ['a', 'b', 'c', 'd', 'e']);
    // then they land 2, 2, 1 on the first three networks
    expect(chosen).toEqual([
      'spreadserve-nets',
      'spreadserve-nets',
      'spreadserve-nets-2',
      'spreadserve-nets-2',
      'spreadserve-nets-3',
    ]);
    expect(Math.max(...occupancy(SCOPE, Object.values(doc.instances)).values())).toBe(2);
  });

  it('reuses a slot freed on a lower network before filling a higher one', () => {
    // given the first two networks full and one instance on the third
    const placement = new NetworkPlacement(SCOPE, 2);
    const doc = emptyDoc();
    launchAll(placement, doc, ['a', 'b', 'c', 'd', 'e']);
    // when an instance on the first network stops, and another launches
    delete doc.instances.a;
    const [next] = launchAll(placement, doc, ['f']);
    // then it takes the freed slot on the first network
    expect(next).toBe('spreadserve-nets');
  });

  it('counts launches in flight, so concurrent launches cannot overfill a network', () => {
    // given a size of 3 and one instance running on the first network
    const placement = new NetworkPlacement(SCOPE, 3);
    const doc = docWith(['spreadserve-nets']);
    // when four launches choose before any is recorded (as concurrent launches do)
    for (const name of ['a', 'b', 'c', 'd']) doc.instances[name] = record(name, undefined, 'starting');
    const chosen = ['a', 'b', 'c', 'd'].map((name) => placement.place(doc, name));
    // then two join the first network's remaining room and two go to the second
    expect(chosen).toEqual([
      'spreadserve-nets',
      'spreadserve-nets',
      'spreadserve-nets-2',
      'spreadserve-nets-2',
    ]);
    // and a launch that was undone gives its slot back
    placement.release('b');
    expect(placement.place(doc, 'e')).toBe('spreadserve-nets');
  });

  it('does not count a launch twice once its record names its network', () => {
    // given a size of 2, one instance running, and a launch recorded running but not yet released
    const placement = new NetworkPlacement(SCOPE, 2);
    const doc = docWith(['spreadserve-nets']);
    doc.instances.a = record('a', undefined, 'starting');
    const network = placement.place(doc, 'a');
    doc.instances.a = record('a', network);
    // when another launch chooses before the first releases its hold
    const next = placement.place(doc, 'b');
    // then the first network counts two (full), not three
    expect(network).toBe('spreadserve-nets');
    expect(next).toBe('spreadserve-nets-2');
  });

  it('counts running records from before networks were recorded on the first network', () => {
    // given a store written before records named their network: two running, one starting
    const doc = docWith([undefined, undefined]);
    doc.instances.old = record('old', undefined, 'starting');
    // when a launch chooses with a size of 2
    const placement = new NetworkPlacement(SCOPE, 2);
    // then the first network counts as full (the starting one is a dead launch, not counted)
    expect(placement.place(doc, 'new')).toBe('spreadserve-nets-2');
  });

  it('places past 1023 instances with the default size on as many networks as needed', () => {
    // given 2000 instances launched with the default size of 1000
    const placement = new NetworkPlacement(SCOPE, 1000);
    const doc = emptyDoc();
    launchAll(
      placement,
      doc,
      Array.from({ length: 2000 }, (_, i) => `n${i}`),
    );
    // then two networks hold 1000 each, under the bridge's limit of 1024
    const counts = occupancy(SCOPE, Object.values(doc.instances));
    expect(Object.fromEntries(counts)).toEqual({ 'spreadserve-nets': 1000, 'spreadserve-nets-2': 1000 });
    expect(firstWithRoom(SCOPE, 1000, counts)).toBe('spreadserve-nets-3');
  });

  it('places a pool of 2000 ports, each port once, on two networks of 1000', () => {
    // given a pool of 2000 ports and the default network size
    const doc = emptyDoc();
    const pool = new PortPool([{ from: 30000, to: 31999 }], doc);
    const placement = new NetworkPlacement(SCOPE, 1000);
    // when 2000 instances reserve a port and a network each
    const ports = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const name = `p${i}`;
      ports.add(pool.reserve(doc, name, 0));
      doc.instances[name] = record(name, placement.place(doc, name));
      placement.release(name);
    }
    // then every port of the pool is handed out once, and the networks hold 1000 each
    expect(ports.size).toBe(2000);
    expect(pool.counts(doc).free).toBe(0);
    expect(Object.fromEntries(occupancy(SCOPE, Object.values(doc.instances)))).toEqual({
      'spreadserve-nets': 1000,
      'spreadserve-nets-2': 1000,
    });
  });
});
