// Docker is the truth about what runs; the store about who owns what and which ports are out.
// Run at start and on every reclaim pass; launches in flight in this process are left alone, and
// so is every record made or closed while Docker was being asked (the listing cannot judge it).
// What launches left behind goes: the container and record of a launch that died with an earlier
// process, and containers sitting `created` with no record for ORPHAN_AFTER_MS.
import type { ContainerEngine, ContainerSummary } from '../engine/types.ts';
import type { Clock } from '../lib/clock.ts';
import { publicReason } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { own } from '../lib/own.ts';
import type { Store } from '../store/store.ts';
import { audit } from './audit.ts';
import { byInstance, LABEL, managedFilter } from './labels.ts';
import { networkPosition } from './networks.ts';
import { type PortPool, portHosts, portTable } from './port-pool.ts';
import { closeRecord } from './records.ts';

export interface ReconcileReport {
  /** Managed containers missing from the store, now recorded from their labels. */
  adopted: string[];
  /** Store entries whose container is gone, or whose launch died with an earlier process (its
   * container removed): closed, port freed. */
  closed: string[];
  /** Containers that had exited: removed, entry closed. */
  exited: { instance: string; status: string }[];
  /** Containers left `created` with no record behind them for ORPHAN_AFTER_MS (their launch gave up
   * while Docker was still creating them, or could not remove them): removed. */
  orphans: string[];
  /** Ports held by no instance (a launch that never finished, or set aside at start): freed. */
  freedPorts: number[];
  /** The running instances among `closed` and `exited`, with what their owners are told. */
  lost: LostInstance[];
  /** What could not be done (a container not adopted, an exited one not removed), and why, as a
   * person may read it: an internal error shows as "internal error (ref …)", its detail in the log. */
  problems: string[];
}

/** A running instance whose container was gone or had exited (on Swarm: its node was lost). */
export interface LostInstance {
  instance: string;
  owner: string;
  template: string;
  /** Its Swarm node's name. */
  node?: string;
  /** Docker's last word on it ("Exited (137) 2 seconds ago", "Lost: node sswork is down"), or
   * "its container was gone". */
  why: string;
}

export interface ReconcileDeps {
  store: Store;
  engine: ContainerEngine;
  pool: PortPool;
  clock: Clock;
  log: Logger;
  scope: string;
  /** Instance names with a launch in flight in this process. */
  launching: ReadonlySet<string>;
  /** Instance names with a stop in flight in this process: their containers go first, their
   * records close after, so a listing between the two must not take them for lost. */
  stopping?: ReadonlyMap<string, unknown>;
}

/** How long a container of this scope may sit `created` with no record before it counts as left
 * behind. Younger ones may belong to a launch still under way, so they are left alone. */
export const ORPHAN_AFTER_MS = 5 * 60_000;

export async function reconcile(
  deps: ReconcileDeps,
  options: { atStart: boolean },
): Promise<ReconcileReport> {
  const { store, engine, pool, clock, log, scope, launching, stopping } = deps;
  const report: ReconcileReport = {
    adopted: [],
    closed: [],
    exited: [],
    orphans: [],
    freedPorts: [],
    problems: [],
    lost: [],
  };
  // What the store held and what was in flight when Docker was asked: a record made, or a launch
  // begun or ended, after that cannot be judged by this listing.
  const listedAt = new Map(Object.values(store.read().instances).map((r) => [r.name, r.createdAt]));
  const inFlightAtList = new Set(launching);
  const stoppingAtList = new Set(stopping?.keys());
  const busy = (name: string) =>
    inFlightAtList.has(name) ||
    launching.has(name) ||
    stoppingAtList.has(name) ||
    stopping?.has(name) === true;
  const byName = byInstance(await engine.list(managedFilter(scope)));
  // On Swarm, the nodes an adopted instance may be on (its port is that node's).
  const nodes = engine.nodes ? new Map((await engine.nodes()).map((n) => [n.id, n])) : undefined;
  for (const name of [...byName.keys()]) if (busy(name)) byName.delete(name);

  // Exited containers are removed first; their entries then close like any missing one.
  for (const [name, c] of byName) {
    if (c.state === 'running' || c.state === 'restarting' || c.state === 'created') continue;
    try {
      await engine.remove(c.id);
      byName.delete(name);
      report.exited.push({ instance: name, status: c.status });
    } catch (err) {
      const why = publicReason(err, log, { instance: name, container: c.id, step: 'remove exited' });
      report.problems.push(`${name}: could not remove its exited container (${why})`);
    }
  }

  if (!store.writable) return report; // nothing can be recorded; the caller reports read-only

  // Then the containers no launch will come back for (judged only by the store's owner: another
  // process's records may be its launches); their records close below.
  const leftover = (name: string, c: ContainerSummary): 'interrupted' | 'orphan' | null => {
    const record = store.read().instances[name];
    if (record) {
      // A starting record with no launch in flight here: the launch died with an earlier process.
      return record.state === 'starting' && listedAt.get(name) === record.createdAt ? 'interrupted' : null;
    }
    return c.state === 'created' && clock.now() - c.createdAt >= ORPHAN_AFTER_MS ? 'orphan' : null;
  };
  for (const [name, c] of [...byName]) {
    const kind = leftover(name, c);
    if (kind === null || busy(name)) continue;
    try {
      await engine.remove(c.id);
      byName.delete(name);
      if (kind === 'orphan') report.orphans.push(name);
    } catch (err) {
      const why = publicReason(err, log, { instance: name, container: c.id, step: `remove ${kind}` });
      report.problems.push(`${name}: could not remove the container its launch left (${why})`);
    }
  }

  await store.update((doc) => {
    const now = clock.now();
    for (const record of Object.values(doc.instances)) {
      if (busy(record.name) || listedAt.get(record.name) !== record.createdAt) continue;
      if (!byName.has(record.name)) {
        const exited = report.exited.find((e) => e.instance === record.name);
        if (!exited) report.closed.push(record.name);
        if (record.state === 'running') {
          const { name: instance, owner, template } = record;
          const why = exited ? exited.status : 'its container was gone';
          report.lost.push({ instance, owner, template, node: record.node?.name, why });
        }
        closeRecord(doc, pool, record.name, {
          at: now,
          actor: 'schedule',
          action: 'close',
          reason: exited
            ? `its container had exited (${exited.status})`
            : record.state === 'starting'
              ? 'its launch was interrupted'
              : 'its container was gone',
        });
      }
      // A starting record whose container could not be removed waits for the next pass.
    }
    for (const [name, c] of byName) {
      // Not a created one (nothing runs), nor one whose record was closed since the listing.
      if (doc.instances[name] || listedAt.has(name) || c.state === 'created') continue;
      const port = Number(c.labels[LABEL.port]);
      // The launcher: a `give` changes only the store's record (core/handoff.ts), which wins when there is one.
      const owner = c.labels[LABEL.owner];
      const template = c.labels[LABEL.template];
      if (!Number.isInteger(port) || !owner || !template) {
        report.problems.push(`${name}: its container ${c.name} lacks the owner, template or port label`);
        continue;
      }
      const node = nodes && c.node !== undefined ? nodes.get(c.node) : undefined;
      if (nodes && !node) {
        report.problems.push(`${name}: it runs on a node the swarm does not list (${c.node ?? 'none'})`);
        continue;
      }
      const table = portTable(doc, node?.id);
      const holder = Object.hasOwn(table, port) ? table[port] : undefined;
      if (holder?.instance && holder.instance !== name && doc.instances[holder.instance]) {
        report.problems.push(`${name}: its port ${port} is recorded for ${holder.instance}`);
        continue;
      }
      doc.instances[name] = {
        name,
        owner,
        template,
        port,
        state: 'running',
        containerId: c.id,
        // Counted on its network by the placement of later launches (core/networks.ts).
        network: c.networks?.find((n) => networkPosition(scope, n) !== null),
        node: node && { id: node.id, name: node.name, address: node.address },
        createdAt: c.createdAt,
        lastActivityAt: now,
      };
      pool.markInUse(doc, port, name, now, node?.id);
      report.adopted.push(name);
      audit(doc, {
        at: now,
        actor: 'schedule',
        action: 'adopt',
        instance: name,
        template,
        reason: 'found running in Docker',
      });
    }
    for (const host of portHosts(doc)) {
      for (const [key, entry] of Object.entries(portTable(doc, host))) {
        const holder = entry.instance === undefined ? undefined : own(doc.instances, entry.instance);
        // Held by an open record on this very host (a record's port on another node does not count).
        const held = holder !== undefined && holder.node?.id === host;
        const inFlight = entry.instance !== undefined && busy(entry.instance);
        // Set-aside ports get a fresh chance after a restart: a launch sets them aside again if still held.
        if (
          (entry.state !== 'set-aside' && !held && !inFlight) ||
          (entry.state === 'set-aside' && options.atStart)
        ) {
          pool.release(doc, Number(key), undefined, host);
          report.freedPorts.push(Number(key));
        }
      }
    }
  });
  const changed =
    report.adopted.length +
    report.closed.length +
    report.exited.length +
    report.orphans.length +
    report.freedPorts.length;
  if (changed > 0 || report.problems.length > 0) log.info({ report }, 'reconciled the store with Docker');
  return report;
}
