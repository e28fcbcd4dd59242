// The launch half of the scale suite (bench/scale.ts): filling the host to N instances a tenth at
// a time, through the core and with raw dockerode, both at the same concurrency and into the same
// fill. Each tenth begins with timed rounds, one concurrency-wide batch each, raw and core in turn
// (A B B A ...: the host's drift, its fill and Docker's load, hits both sides alike; a raw batch
// and then a core batch, each run whole, gave ratios of 0.84-1.37 per tenth in a run at 1000). The
// raw containers (on ports above the pool) are then removed, and the core launches the rest of its
// tenth. The raw side is a sample, half the tenth (at least 4 rounds): launches slow as the host
// fills (about 2.5 s each at 1000 here), and raw batches of a whole tenth made a run at 2000
// longer than two and a half hours. A quarter (7 rounds a side at 2000) was too few: a round's
// wall is its slowest of 8 launches, and two runs at 2000 each had one tenth at 0.89 among
// neighbours at 0.95-1.03, in different tenths. Both sides spread over the bot's bridge networks
// alike (core/networks.ts: the lowest with room first, at most networkSize each, counting the
// core's instances and the raw ones held).
import { readFileSync } from 'node:fs';
import type { Services } from '../core/context.ts';
import { NetworkPlacement } from '../core/networks.ts';
import { mapLimit } from '../lib/concurrency.ts';
import type { BenchContext } from './harness.ts';
import { rawLaunch } from './launch.ts';
import { alternate, median, timed } from './rows.ts';
import { neighbourFullsSince } from './scale-host.ts';

export interface Tenth {
  /** How many instances the host held when this tenth began. */
  fillBefore: number;
  /** Launches timed on each side: the raw sample, and as many of the core's first. */
  sample: number;
  /** The core's timed launches: each one's time and the rounds' wall time (as the raw side's). */
  core: { latencyMs: number[]; wallMs: number };
  raw: { latencyMs: number[]; wallMs: number; removeMs: number[] };
}

/** The raw sample of a tenth of `size` launched `concurrency` at a time. */
export function rawSampleSize(size: number, concurrency: number): number {
  return Math.min(size, Math.max(4 * concurrency, Math.ceil(size / 2)));
}

/** n split into ten batches as equal as can be (the first ones one larger). */
export function tenths(n: number): number[] {
  return Array.from({ length: 10 }, (_, i) => Math.floor(n / 10) + (i < n % 10 ? 1 : 0));
}

export const coreName = (i: number) => `scale-${String(i).padStart(4, '0')}`;

/** Launches `names` with `concurrency` in flight; each launch's own time, and the batch's wall time. */
async function batch(
  signal: AbortSignal,
  names: readonly string[],
  concurrency: number,
  launch: (name: string, index: number) => Promise<unknown>,
): Promise<{ latencyMs: number[]; wallMs: number }> {
  const t0 = performance.now();
  const latencyMs = await mapLimit(names, concurrency, async (name, index) => {
    signal.throwIfAborted();
    return (await timed(() => launch(name, index))).ms;
  });
  return { latencyMs, wallMs: performance.now() - t0 };
}

/** `names` cut into rounds of `size` (the last may be shorter). */
function rounds<T>(names: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(names.length / size) }, (_, i) =>
    names.slice(i * size, (i + 1) * size),
  );
}

/** CPU time spent so far, in ms: this process's, and the whole host's (every core's busy time,
 * from /proc/stat; 0 where there is none). */
function cpuNow(): { ownMs: number; hostMs: number } {
  const own = process.cpuUsage();
  let hostMs = 0;
  try {
    // cpu  user nice system idle iowait irq softirq steal ... in USER_HZ (100 a second here)
    const fields =
      readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/).slice(1, 9) ?? [];
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
    hostMs = ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 10;
  } catch {
    // not Linux: the host's share stays 0
  }
  return { ownMs: (own.user + own.system) / 1000, hostMs };
}

/** Timed rounds of one side: each round's batch, their launch times and summed wall and CPU time. */
function roundsOf(
  signal: AbortSignal,
  names: readonly string[],
  concurrency: number,
  launch: (name: string) => Promise<unknown>,
) {
  const queue = rounds(names, concurrency);
  const timedSide = { latencyMs: [] as number[], wallMs: 0, ownCpuMs: 0, hostCpuMs: 0 };
  const next = async () => {
    const round = queue.shift();
    if (!round) return;
    const before = cpuNow();
    const done = await batch(signal, round, concurrency, launch);
    const after = cpuNow();
    timedSide.latencyMs.push(...done.latencyMs);
    timedSide.wallMs += done.wallMs;
    timedSide.ownCpuMs += after.ownMs - before.ownMs;
    timedSide.hostCpuMs += after.hostMs - before.hostMs;
  };
  return { timedSide, next, count: queue.length };
}

/**
 * Fills the host with n instances through the core (they stay), timing each tenth's first
 * launches against a raw sample of the same size, round by round at the same fill (the raw ones
 * removed again). Raw containers publish on rawPortFrom and up, on the network the core's
 * placement rule gives them (networkSize each).
 */
export async function fillByTenths(
  ctx: BenchContext,
  services: Services,
  n: number,
  options: { concurrency: number; rawPortFrom: number; networkSize: number },
): Promise<Tenth[]> {
  const { concurrency, rawPortFrom } = options;
  const placement = new NetworkPlacement(ctx.scope, options.networkSize);
  const result: Tenth[] = [];
  let launched = 0;
  for (const [k, size] of tenths(n).entries()) {
    ctx.signal.throwIfAborted();
    const sample = rawSampleSize(size, concurrency);
    const fullsSince = neighbourFullsSince();
    const rawNames = Array.from({ length: sample }, (_, i) => `scale-raw-${k}-${i}`);
    const containers: { remove(o: { force: boolean }): Promise<unknown> }[] = [];
    const rawOn = new Set<string>();
    const rawSide = roundsOf(ctx.signal, rawNames, concurrency, async (name) => {
      // Placed among the core's instances (the store) and the raw ones held until removed.
      const network = placement.place(services.store.read(), name);
      rawOn.add(network);
      containers.push(await rawLaunch(ctx, name, rawPortFrom + rawNames.indexOf(name), network));
    });
    const coreNames = Array.from({ length: size }, (_, i) => coreName(launched + i));
    const launchCore = (name: string) =>
      services.instances.launch({ actor: ctx.actor, template: 'demo', name });
    const coreTimed = coreNames.slice(0, sample);
    // The core places by its own records and never sees the raw containers: counting its timed
    // launches as held from the start keeps raw ones off the room they will take, so no network
    // goes past networkSize (nor a bridge past 1023) while both sides' containers are up.
    for (const name of coreTimed) placement.place(services.store.read(), name);
    const coreSide = roundsOf(ctx.signal, coreTimed, concurrency, launchCore);
    await alternate(ctx.signal, rawSide.count, rawSide.next, coreSide.next);
    const removeMs = await mapLimit(
      containers,
      concurrency,
      async (c) => (await timed(() => c.remove({ force: true }))).ms,
    );
    for (const name of [...rawNames, ...coreTimed]) placement.release(name);
    const restCore = await batch(ctx.signal, coreNames.slice(sample), concurrency, launchCore);
    const raw = rawSide.timedSide;
    // Latency compares the same rounds too: the rest of the tenth runs with 8 always in flight,
    // so each of its launches waits longer (by Little's law, 8 x wall / count) than one in a
    // round, whose last launches run with fewer beside them; mixed in, it biased the core's up.
    const core = { latencyMs: coreSide.timedSide.latencyMs, wallMs: coreSide.timedSide.wallMs };
    result.push({ fillBefore: launched, sample, core, raw: { ...raw, removeMs } });
    launched += size;
    const ratio = raw.wallMs / core.wallMs;
    const coreOn = new Set(Object.values(services.store.read().instances).map((r) => r.network));
    const perLaunch = (ms: number) => Math.round(ms / sample);
    const fulls = fullsSince() ?? 0;
    const c = coreSide.timedSide;
    ctx.log(
      `  tenth ${k + 1}: ${launched}/${n}; ${sample} launches each way in ${rawSide.count} alternating rounds: core ${Math.round(core.wallMs)} ms, raw ${Math.round(raw.wallMs)} ms (throughput ratio ${ratio.toFixed(2)}; latency median core ${Math.round(median(core.latencyMs))} ms, raw ${Math.round(median(raw.latencyMs))} ms)${size > sample ? `; the tenth's other ${size - sample} in ${Math.round(restCore.wallMs)} ms (latency median ${Math.round(median(restCore.latencyMs))} ms)` : ''}; core on ${coreOn.size} network(s), raw on ${[...rawOn].join(', ')}; CPU per timed launch, core/raw: this process ${perLaunch(c.ownCpuMs)}/${perLaunch(raw.ownCpuMs)} ms, host ${perLaunch(c.hostCpuMs)}/${perLaunch(raw.hostCpuMs)} ms${fulls > 0 ? `; the neighbour table was full ${fulls} times` : ''}`,
    );
  }
  return result;
}

/** Stops every name through the core, `concurrency` at a time; each stop's time and the wall time. */
export async function stopAll(
  ctx: BenchContext,
  services: Services,
  names: readonly string[],
  concurrency: number,
): Promise<{ latencyMs: number[]; wallMs: number }> {
  return batch(ctx.signal, names, concurrency, (name) => services.instances.stop(ctx.actor, name));
}

/** n launch-then-stop cycles through the core, `concurrency` at a time, each on a name of its own. */
export async function cycles(
  ctx: BenchContext,
  services: Services,
  n: number,
  concurrency: number,
): Promise<number> {
  const names = Array.from({ length: n }, (_, i) => `scale-cycle-${String(i).padStart(4, '0')}`);
  let done = 0;
  const { wallMs } = await batch(ctx.signal, names, concurrency, async (name) => {
    await services.instances.launch({ actor: ctx.actor, template: 'demo', name });
    await services.instances.stop(ctx.actor, name);
    done++;
    if (done % Math.max(1, Math.round(n / 10)) === 0) ctx.log(`  cycles ${done}/${n}`);
  });
  return wallMs;
}
