// Docker is the truth about what runs; the store about who owns what and which ports are out.
// Run at start and on every reclaim pass; launches in flight in this process are left alone.
import type { ContainerEngine } from '../engine/types.ts';
import type { Clock } from '../lib/clock.ts';
import { publicReason } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Store } from '../store/store.ts';
import { audit } from './audit.ts';
import { byInstance, LABEL, managedFilter } from './labels.ts';
import type { PortPool } from './port-pool.ts';
import { closeRecord } from './records.ts';

export interface ReconcileReport {
  /** Managed containers missing from the store, now recorded from their labels. */
  adopted: string[];
  /** Store entries whose container is gone: closed, port freed. */
  closed: string[];
  /** Containers that had exited: removed, entry closed. */
  exited: { instance: string; status: string }[];
  /** Ports held by no instance (a launch that never finished, or set aside at start): freed. */
  freedPorts: number[];
  /** What could not be done (a container not adopted, an exited one not removed), and why, as a
   * person may read it: an internal error shows as "internal error (ref …)", its detail in the log. */
  problems: string[];
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
}

export async function reconcile(
  deps: ReconcileDeps,
  options: { atStart: boolean },
): Promise<ReconcileReport> {
  const { store, engine, pool, clock, log, scope, launching } = deps;
  const report: ReconcileReport = { adopted: [], closed: [], exited: [], freedPorts: [], problems: [] };
  const byName = byInstance(await engine.list(managedFilter(scope)));
  for (const name of launching) byName.delete(name);

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
  await store.update((doc) => {
    const now = clock.now();
    for (const record of Object.values(doc.instances)) {
      if (launching.has(record.name)) continue;
      const c = byName.get(record.name);
      if (!c) {
        const exited = report.exited.some((e) => e.instance === record.name);
        if (!exited) report.closed.push(record.name);
        closeRecord(doc, pool, record.name, {
          at: now,
          actor: 'schedule',
          action: 'close',
          reason: exited ? 'its container had exited' : 'its container was gone',
        });
      } else if (record.state === 'starting') {
        // The bot stopped mid-launch but the container runs: Docker is the truth.
        record.state = 'running';
        record.containerId = c.id;
        pool.markInUse(doc, record.port, record.name, now);
      }
    }
    for (const [name, c] of byName) {
      if (doc.instances[name]) continue;
      const port = Number(c.labels[LABEL.port]);
      const owner = c.labels[LABEL.owner];
      const template = c.labels[LABEL.template];
      const holder = doc.ports[port];
      if (!Number.isInteger(port) || !owner || !template) {
        report.problems.push(`${name}: its container ${c.name} lacks the owner, template or port label`);
        continue;
      }
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
        createdAt: c.createdAt,
        lastActivityAt: now,
      };
      pool.markInUse(doc, port, name, now);
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
    for (const [key, entry] of Object.entries(doc.ports)) {
      const held = entry.instance !== undefined && doc.instances[entry.instance] !== undefined;
      const inFlight = entry.instance !== undefined && launching.has(entry.instance);
      // Set-aside ports get a fresh chance after a restart: a launch sets them aside again if still held.
      if (
        (entry.state !== 'set-aside' && !held && !inFlight) ||
        (entry.state === 'set-aside' && options.atStart)
      ) {
        pool.release(doc, Number(key));
        report.freedPorts.push(Number(key));
      }
    }
  });
  const changed =
    report.adopted.length + report.closed.length + report.exited.length + report.freedPorts.length;
  if (changed > 0 || report.problems.length > 0) log.info({ report }, 'reconciled the store with Docker');
  return report;
}
