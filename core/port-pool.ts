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

export class PortPool {
  private readonly heap = new MinHeap();
  private readonly inHeap = new Set<number>();
  readonly total: number;

  constructor(
    private readonly ranges: readonly PortRange[],
    doc: Readonly<StoreDoc>,
  ) {
    this.total = ranges.reduce((n, r) => n + r.to - r.from + 1, 0);
    for (const r of ranges) {
      for (let port = r.from; port <= r.to; port++) {
        if (!doc.ports[port]) this.offer(port);
      }
    }
  }

  contains(port: number): boolean {
    return this.ranges.some((r) => port >= r.from && port <= r.to);
  }

  private offer(port: number): void {
    if (!this.inHeap.has(port)) {
      this.inHeap.add(port);
      this.heap.push(port);
    }
  }

  /**
   * Reserves the lowest free port for `instance` inside a store update. If the update later
   * throws, the store keeps nothing and the port is still in the heap, so nothing leaks.
   */
  reserve(doc: StoreDoc, instance: string, now: number): number {
    for (;;) {
      const port = this.heap.peek();
      if (port === undefined) {
        throw new UserError(
          'pool-exhausted',
          `All ${this.total} ports of the pool are in use; stop an instance (see \`list all\`) or widen SPREADSERVE_PORTS.`,
        );
      }
      if (!doc.ports[port]) {
        doc.ports[port] = Object.freeze({ state: 'reserved', instance, since: now });
        return port;
      }
      this.heap.pop();
      this.inHeap.delete(port);
    }
  }

  markInUse(doc: StoreDoc, port: number, instance: string, now: number): void {
    doc.ports[port] = Object.freeze({ state: 'in-use', instance, since: now });
  }

  /** Frees a port (only if `instance` holds it, when given). */
  release(doc: StoreDoc, port: number, instance?: string): void {
    const entry = doc.ports[port];
    if (!entry || (instance !== undefined && entry.instance !== instance)) return;
    delete doc.ports[port];
    if (this.contains(port)) this.offer(port);
  }

  /** A port some other process holds: kept out of use until the next start's reconcile. */
  setAside(doc: StoreDoc, port: number, reason: string, now: number): void {
    doc.ports[port] = Object.freeze({ state: 'set-aside', since: now, reason });
  }

  counts(doc: Readonly<StoreDoc>): PoolCounts {
    let reserved = 0;
    let inUse = 0;
    const setAside: number[] = [];
    for (const [key, entry] of Object.entries(doc.ports) as [string, PortEntry][]) {
      const port = Number(key);
      if (!this.contains(port)) continue;
      if (entry.state === 'reserved') reserved++;
      else if (entry.state === 'in-use') inUse++;
      else setAside.push(port);
    }
    setAside.sort((a, b) => a - b);
    return {
      total: this.total,
      free: this.total - reserved - inUse - setAside.length,
      reserved,
      inUse,
      setAside,
    };
  }
}
