// How the reclaim pass reads each running instance's counters: host counters (/proc, see
// engine/host-sampler.ts) when the bot runs on the Docker host and can read them, else one-shot
// stats calls, a bounded number in flight. The choice is made per pass (chooseSampler) and per
// container: one the host cannot read (not running any more, pid unreadable) is asked of the
// stats API in the same pass. Both give the same counters, so the policy decides the same.
import {
  chooseSampler,
  HostSampler,
  SAMPLER_TEXT,
  type SamplerKind,
  type SamplerSetting,
  wantsStats,
} from '../engine/host-sampler.ts';
import type { ContainerEngine, EngineNode, NetworkSample } from '../engine/types.ts';
import { LoopTurns, mapSettled } from '../lib/concurrency.ts';

/** Stats calls in flight: each waits ~1 s for the engine's collector tick, so a pass is latency-bound. */
export const DEFAULT_STATS_CONCURRENCY = 64;
/** Host reads in flight: each is a few file reads (and, the first time, one inspect). */
const HOST_CONCURRENCY = 64;

/** One instance to sample: its name, the id (or name) Docker knows it by, its Swarm node's id. */
export interface SampleTarget {
  name: string;
  container: string;
  node?: string;
}

/** One instance's counters, or why they could not be read; `via` says which sampler read them,
 * 'none' that none can (a Swarm node with no engine endpoint: time limits only). */
export type Sampled =
  | { name: string; ok: true; sample: NetworkSample; via: SamplerKind }
  | { name: string; ok: true; sample: undefined; via: 'none' }
  | { name: string; ok: false; error: unknown };

export class ActivitySampling {
  readonly host: HostSampler;
  /** Whether the host could read a container's counters: unknown until a pass tried. */
  private readable: boolean | undefined;

  constructor(
    private readonly engine: ContainerEngine,
    private readonly setting: SamplerSetting,
    /** Bounds each engine call (a stats call or an inspect): rejects with `error` past `ms`. */
    private readonly bound: <T>(call: Promise<T>) => Promise<T>,
    host?: HostSampler,
  ) {
    this.host = host ?? new HostSampler(engine);
  }

  /** The sampler the next pass uses (for `status`); the stats API when the engine cannot say its platform. */
  async kind(): Promise<SamplerKind> {
    if (this.setting === 'stats' || this.engine.target.kind !== 'unix') return 'stats';
    try {
      const { os } = await this.engine.platform();
      return chooseSampler({
        setting: this.setting,
        transport: this.engine.target.kind,
        os,
        readable: this.readable,
      });
    } catch {
      return 'stats';
    }
  }

  /** `kind()` as `status` words it; on Swarm, also the nodes whose instances have time limits
   * only. `listed`: the nodes the caller is listing anyway (`status` lists them once for both). */
  async describe(listed?: Promise<readonly EngineNode[] | undefined>): Promise<string> {
    const { engine } = this;
    if (!engine.nodes) return SAMPLER_TEXT[await this.kind()];
    const perNode = `${SAMPLER_TEXT.stats} of each node's own engine`;
    try {
      const nodes = listed ? await listed : await engine.nodes();
      if (!nodes) return perNode;
      const blind = nodes.filter((n) => engine.canSample?.(n.id) === false).map((n) => n.name);
      if (blind.length === 0) return perNode;
      return `${perNode}; none for ${blind.join(', ')}: time limits only there (no idle reclaim; set SPREADSERVE_NODE_ENDPOINTS)`;
    } catch {
      return perNode;
    }
  }

  /** Every target's counters, in the targets' order; one failing is no failed pass. */
  async sampleAll(targets: SampleTarget[]): Promise<Sampled[]> {
    const { engine } = this;
    const noCounters = (t: SampleTarget) => t.node !== undefined && engine.canSample?.(t.node) === false;
    if (targets.some(noCounters)) {
      const readable = await this.sampleAll(targets.filter((t) => !noCounters(t)));
      const byName = new Map(readable.map((s) => [s.name, s]));
      return targets.map(
        (t) => byName.get(t.name) ?? { name: t.name, ok: true, sample: undefined, via: 'none' as const },
      );
    }
    const kind = await this.kind();
    this.host.retain(targets.map((t) => t.container));
    if (kind === 'stats') return this.settle(targets, DEFAULT_STATS_CONCURRENCY, (t) => this.viaStats(t));
    let read = 0;
    let unreadable = 0;
    // Host reads are synchronous (engine/host-sampler.ts): the loop gets a turn every few ms.
    const turns = new LoopTurns();
    const results = await this.settle(targets, HOST_CONCURRENCY, async (t) => {
      await turns.turn();
      try {
        const sample = await this.bound(this.host.sample(t.container));
        read++;
        return { name: t.name, ok: true as const, sample, via: 'host' as const };
      } catch (err) {
        if (!wantsStats(err)) throw err;
        const asked = await this.viaStats(t);
        if (asked.ok) unreadable++; // running (the stats API read it), yet not readable here
        return asked;
      }
    });
    // Not one container readable here (no permission, another pid namespace): stop trying.
    if (read > 0) this.readable = true;
    else if (unreadable > 0) this.readable = false;
    return results;
  }

  private async viaStats(t: SampleTarget): Promise<Sampled> {
    const sample = await this.bound(this.engine.stats(t.container));
    return { name: t.name, ok: true, sample, via: 'stats' };
  }

  private async settle(
    targets: SampleTarget[],
    limit: number,
    read: (t: SampleTarget) => Promise<Sampled>,
  ): Promise<Sampled[]> {
    const results = await mapSettled(targets, limit, (t) =>
      read(t).catch((error: unknown): Sampled => ({ name: t.name, ok: false, error })),
    );
    // `read` never rejects here: every result is fulfilled, in the targets' order.
    return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }
}
