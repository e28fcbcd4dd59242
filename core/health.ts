// Is the bot fit to serve? The answers behind `status` (in the channel, for on-call) and GET
// /healthz: whether Docker answers, whether the store takes writes, and the pool and reclaim at
// a glance. Only sentences a person may read leave here (UserError text, or a ref to the log).
import type { ContainerEngine, EngineNode } from '../engine/types.ts';
import type { Clock } from '../lib/clock.ts';
import { withTimeout } from '../lib/concurrency.ts';
import { formatDuration } from '../lib/duration.ts';
import { publicReason, UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { SingleFlight } from '../lib/single-flight.ts';
import type { Store } from '../store/store.ts';
import type { PortPool } from './port-pool.ts';

/** Whether each dependency works, and if not, why in one sentence. */
export interface Probe {
  engine: { reachable: boolean; error?: string };
  store: { writable: boolean; error?: string };
}

export interface StatusReport extends Probe {
  instances: { running: number; starting: number };
  ports: { total: number; free: number; reserved: number; inUse: number; setAside: number[] };
  /** `sampler`: how the pass reads activity, as a person reads it ("host counters (/proc)"). */
  reclaim: { lastPassAt?: number; nextPassAt?: number; lastSummary?: string; sampler?: string };
  failures: { at: number; instance?: string; error: string }[];
  /** Sentences for on-call when the running instances come near a kernel limit of the Docker host
   * (engine/host-limits.ts); absent when none is near, or the host's settings cannot be read. */
  hostLimits?: string[];
  /** On Swarm: each node, whether new instances may go there, and how many of the bot's it runs
   * (the pool above counts every node's ports). */
  nodes?: { name: string; role: string; available: boolean; address: string; instances: number }[];
}

/** When the next scheduled reclaim pass runs (epoch ms), if a schedule runs. */
export interface NextPass {
  nextRunAt(): number | undefined;
}

export interface HealthDeps {
  engine: ContainerEngine;
  store: Store;
  pool: PortPool;
  clock: Clock;
  log: Logger;
  schedule?: NextPass;
  /** Which sampler the reclaim pass uses (core/activity.ts). */
  activity?: { describe(listed?: Promise<readonly EngineNode[] | undefined>): Promise<string> };
  /** When the bot runs on the Docker host: warnings for `running` instances and a pool of
   * `poolSize` ports (engine/host-limits.ts hostLimitWarnings). */
  hostLimits?: (running: number, poolSize: number) => string[];
}

/** Failures shown in `status`: the newest few. */
const FAILURES_SHOWN = 5;

export class Health {
  /** The ping in flight: concurrent `status`, App Homes and /healthz share it if it began within 1 s. */
  private readonly pinging = new SingleFlight<'ping', void>({ maxShareMs: 1_000 });

  constructor(private readonly deps: HealthDeps) {}

  /** Whether the engine answers (within `timeoutMs` when given) and the store takes writes. */
  async probe(timeoutMs?: number): Promise<Probe> {
    const { engine, store, log } = this.deps;
    let engineError: string | undefined;
    try {
      const ping = this.pinging.run('ping', () => engine.ping());
      await (timeoutMs === undefined
        ? ping
        : withTimeout(
            ping,
            timeoutMs,
            new UserError('engine-unreachable', `Docker did not answer within ${formatDuration(timeoutMs)}.`),
          ));
    } catch (err) {
      engineError = publicReason(err, log, { during: 'health probe' });
    }
    return {
      engine: { reachable: engineError === undefined, error: engineError },
      store: { writable: store.writable, error: store.readOnlyMessage ?? undefined },
    };
  }

  /** A multi-host engine's nodes; undefined on one host, or when they cannot be listed now (the
   * probe says why). */
  private async nodes() {
    const { engine } = this.deps;
    if (!engine.nodes) return undefined;
    try {
      return await engine.nodes();
    } catch {
      return undefined;
    }
  }

  /** The probe, the instances, the pool and the reclaim pass, for on-call. */
  async status(): Promise<StatusReport> {
    const { store, pool, schedule, activity } = this.deps;
    // One node listing serves both the nodes' lines and the sampler's words about them.
    const listing = this.nodes();
    const [probe, sampler, nodes] = await Promise.all([this.probe(), activity?.describe(listing), listing]);
    const doc = store.read();
    const records = Object.values(doc.instances);
    const starting = records.filter((r) => r.state === 'starting').length;
    const onNode = (id: string) => records.filter((r) => r.node?.id === id).length;
    const ports = pool.counts(
      doc,
      nodes?.map((n) => n.id),
    );
    // Starting instances count too: their threads and neighbour entries are taken already.
    const hostLimits = this.deps.hostLimits?.(records.length, ports.total) ?? [];
    return {
      ...probe,
      instances: { running: records.length - starting, starting },
      ports,
      ...(hostLimits.length > 0 && { hostLimits }),
      ...(nodes && {
        nodes: nodes.map(({ id, name, role, available, address }) => ({
          name,
          role,
          available,
          address,
          instances: onNode(id),
        })),
      }),
      reclaim: {
        lastPassAt: doc.reclaim.lastPassAt,
        nextPassAt: schedule?.nextRunAt(),
        lastSummary: doc.reclaim.lastPassSummary,
        sampler,
      },
      failures: doc.reclaim.failures.slice(-FAILURES_SHOWN),
    };
  }
}
