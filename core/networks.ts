// Which bot-owned bridge network an instance joins. A Linux bridge holds at most 1024 ports, so
// one network cannot carry past ~1023 containers: instances fill `spreadserve-<scope>` first, then
// `spreadserve-<scope>-2`, `-3`, ..., at most SPREADSERVE_NETWORK_SIZE each, the lowest network
// with room first (a slot freed on a lower network is reused before a higher one fills).
// Counted from the store (each record names its network) plus this process's launches in flight,
// which have chosen a network but record it only once running.
import { own } from '../lib/own.ts';
import type { InstanceRecord, StoreDoc } from '../store/schema.ts';

/** The bot's own networks, by position from 1: `spreadserve-<scope>`, then `-2`, `-3`, ... */
export const networkName = (scope: string, position = 1): string =>
  position === 1 ? `spreadserve-${scope}` : `spreadserve-${scope}-${position}`;

/** The position of one of this scope's networks, or null for any other network. */
export function networkPosition(scope: string, name: string): number | null {
  const first = networkName(scope);
  if (name === first) return 1;
  const rest = name.startsWith(`${first}-`) ? name.slice(first.length + 1) : '';
  return /^[1-9]\d*$/.test(rest) && Number(rest) >= 2 ? Number(rest) : null;
}

/** The network a record counts on: its own; a running record from before records named their
 * network was on the only one there was, the first. A starting one without it is counted by the
 * launch in flight (or is a launch that died, which reconcile closes). */
function countedOn(scope: string, record: InstanceRecord): string | undefined {
  if (record.network !== undefined) return record.network;
  return record.state === 'running' ? networkName(scope) : undefined;
}

/** Instances per network name: the records plus the given launches in flight. */
export function occupancy(
  scope: string,
  records: Iterable<InstanceRecord>,
  inFlight: Iterable<string> = [],
): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (name: string | undefined) => {
    if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
  };
  for (const record of records) add(countedOn(scope, record));
  for (const name of inFlight) add(name);
  return counts;
}

/** The lowest-positioned network of the scope holding fewer than `size` instances. */
export function firstWithRoom(scope: string, size: number, counts: ReadonlyMap<string, number>): string {
  for (let position = 1; ; position++) {
    const name = networkName(scope, position);
    if ((counts.get(name) ?? 0) < size) return name;
  }
}

/**
 * The placement of one process's launches. `place` and `release` are synchronous, so concurrent
 * launches each see the others' choices: none can overfill a network.
 */
export class NetworkPlacement {
  /** Network chosen per launch in flight, by instance name. */
  private readonly chosen = new Map<string, string>();

  constructor(
    private readonly scope: string,
    private readonly size: number,
  ) {}

  /** Chooses the network for `instance`'s launch and holds its slot until `release`. */
  place(doc: Readonly<StoreDoc>, instance: string): string {
    this.release(instance);
    // A launch whose record already names its network is counted there, not twice.
    const held = [...this.chosen].filter(([name]) => !own(doc.instances, name)?.network).map(([, n]) => n);
    const counts = occupancy(this.scope, Object.values(doc.instances), held);
    const network = firstWithRoom(this.scope, this.size, counts);
    this.chosen.set(instance, network);
    return network;
  }

  /** The launch ended (running, with the network in its record, or undone). */
  release(instance: string): void {
    this.chosen.delete(instance);
  }
}
