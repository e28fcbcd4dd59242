// The host ports instances publish on. Which ports are taken lives in the store (so it survives
// restarts and is changed only inside store.update); which are free is kept here as a min-heap,
// so taking the lowest free port costs O(log n) whatever the number of ports in use.
// The heap is a cache checked against the store: an entry found taken is dropped lazily.

import { UserError } from '../lib/errors.ts';
import type { PortEntry, StoreDoc } from '../store/schema.ts';
import type { PortRange } from './config.ts';

class MinHeap {
  private readonly items: number[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): number | undefined {
    return this.items[0];
  }
  push(value: number): void {
    const a = this.items;
    a.push(value);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = a[parent];
      if (above === undefined || above <= value) break;
      a[i] = above;
      i = parent;
    }
    a[i] = value;
  }
  pop(): number | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      let i = 0;
      for (;;) {
        // The smaller child; the items are dense, so undefined means past the end.
        const l = 2 * i + 1;
        const left = a[l];
        if (left === undefined) break;
        const right = a[l + 1];
        const rightSmaller = right !== undefined && right < left;
        const child = rightSmaller ? l + 1 : l;
        const smaller = rightSmaller ? right : left;
        if (smaller >= last) break;
        a[i] = smaller;
        i = child;
      }
      a[i] = last;
    }
    return top;
  }
}

export interface PoolCounts {
  total: number;
  free: number;
  reserved: number;
  inUse: number;
  setAside: number[];
}

/** Which host's ports: a Swarm node's id, or undefined for the one host (and no node). */
export type PortHost = string | undefined;

/** The store's table of the ports that are not free on `host`; created when `create` is set. */
export function portTable(doc: Readonly<StoreDoc>, host: PortHost): Readonly<Record<string, PortEntry>>;
export function portTable(doc: StoreDoc, host: PortHost, create: true): Record<string, PortEntry>;
export function portTable(doc: StoreDoc, host: PortHost, create = false): Record<string, PortEntry> {
  if (host === undefined) return doc.ports;
  const table = doc.nodePorts && Object.hasOwn(doc.nodePorts, host) ? doc.nodePorts[host] : undefined;
  if (table || !create) return table ?? {};
  const made: Record<string, PortEntry> = {};
  doc.nodePorts = { ...doc.nodePorts, [host]: made };
  return made;
}

/** Every host that has a table in the store: the one host, then each node's. */
export const portHosts = (doc: Readonly<StoreDoc>): PortHost[] => [
  undefined,
  ...Object.keys(doc.nodePorts ?? {}),
];

/** The free ports of one host, lowest first. */
class FreePorts {
  private readonly heap = new MinHeap();
  private readonly inHeap = new Set<number>();
  offer(port: number): void {
    if (!this.inHeap.has(port)) {
      this.inHeap.add(port);
      this.heap.push(port);
    }
  }
  peek(): number | undefined {
    return this.heap.peek();
  }
  drop(): void {
    const port = this.heap.pop();
    if (port !== undefined) this.inHeap.delete(port);
  }
}

/**
 * The pool's ranges on every host: on one engine a single host; on Swarm each node's own (with
 * host-mode publishing the same port may serve a different instance on each node). Every method
 * takes the host last; undefined is the one host.
 */
export class PortPool {
  /** Free ports per host, built from the store when a host is first used. */
  private readonly hosts = new Map<string, FreePorts>();
  /** Ports per host. */
  readonly total: number;

  constructor(
    private readonly ranges: readonly PortRange[],
    doc: Readonly<StoreDoc>,
  ) {
    this.total = ranges.reduce((n, r) => n + r.to - r.from + 1, 0);
    this.freePorts(doc, undefined);
  }

  contains(port: number): boolean {
    return this.ranges.some((r) => port >= r.from && port <= r.to);
  }

  private freePorts(doc: Readonly<StoreDoc>, host: PortHost): FreePorts {
    const key = host === undefined ? '' : `node:${host}`;
    let free = this.hosts.get(key);
    if (!free) {
      free = new FreePorts();
      const taken = portTable(doc, host);
      for (const r of this.ranges) {
        for (let port = r.from; port <= r.to; port++) if (!Object.hasOwn(taken, port)) free.offer(port);
      }
      this.hosts.set(key, free);
    }
    return free;
  }

  /**
   * Reserves the lowest free port of `host` for `instance` inside a store update. If the update
   * later throws, the store keeps nothing and the port is still offered, so nothing leaks.
   */
  reserve(doc: StoreDoc, instance: string, now: number, host?: PortHost): number {
    const free = this.freePorts(doc, host);
    const table = portTable(doc, host, true);
    for (;;) {
      const port = free.peek();
      if (port === undefined) {
        const where = host === undefined ? '' : ' on that node';
        throw new UserError(
          'pool-exhausted',
          `All ${this.total} ports of the pool are in use${where}; stop an instance (see \`list all\`) or widen SPREADSERVE_PORTS.`,
        );
      }
      if (!Object.hasOwn(table, port)) {
        table[port] = Object.freeze({ state: 'reserved', instance, since: now });
        return port;
      }
      free.drop();
    }
  }

  markInUse(doc: StoreDoc, port: number, instance: string, now: number, host?: PortHost): void {
    portTable(doc, host, true)[port] = Object.freeze({ state: 'in-use', instance, since: now });
  }

  /** Frees a port (only if `instance` holds it, when given). */
  release(doc: StoreDoc, port: number, instance?: string, host?: PortHost): void {
    const table = portTable(doc, host);
    const entry = Object.hasOwn(table, port) ? table[port] : undefined;
    if (!entry || (instance !== undefined && entry.instance !== instance)) return;
    delete portTable(doc, host, true)[port];
    if (this.contains(port)) this.freePorts(doc, host).offer(port);
  }

  /** A port some other process holds: kept out of use until the next start's reconcile. */
  setAside(doc: StoreDoc, port: number, reason: string, now: number, host?: PortHost): void {
    portTable(doc, host, true)[port] = Object.freeze({ state: 'set-aside', since: now, reason });
  }

  /** Counts over `hosts` (default the one host): the total is the pool's size on each. */
  counts(doc: Readonly<StoreDoc>, hosts: readonly PortHost[] = [undefined]): PoolCounts {
    let reserved = 0;
    let inUse = 0;
    const setAside: number[] = [];
    for (const host of hosts) {
      for (const [key, entry] of Object.entries(portTable(doc, host)) as [string, PortEntry][]) {
        const port = Number(key);
        if (!this.contains(port)) continue;
        if (entry.state === 'reserved') reserved++;
        else if (entry.state === 'in-use') inUse++;
        else setAside.push(port);
      }
    }
    setAside.sort((a, b) => a - b);
    const total = this.total * hosts.length;
    return { total, free: total - reserved - inUse - setAside.length, reserved, inUse, setAside };
  }
}
