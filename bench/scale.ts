// Issue 12: the scale suite, `npm run bench -- scale --instances N` (default 1000; only when named,
// never in CI). Fills the host with N instances through the core at concurrency 8 against raw
// dockerode at the same concurrency (bench/scale-launch.ts): throughput ratio at every tenth (the
// core's first launches of the tenth against as many raw ones, half of it, in alternating
// rounds at the same fill),
// and launch latency at 10%, 50% and 100% of N. At N: `list all` and `status` against one raw
// listContainers; one reclaim pass the stats way against its one-shot stats calls alone, and with
// host counters against the stats way (bench/scale-reclaim.ts); the store's write at N records with a full audit trail against the same bytes written raw; the
// bot's memory with N tracked (the compiled bot as a child process, its RSS, against the same bot
// on an empty store); stopping all N; then min(N, 1000) launch/stop cycles (issue 12 asks 1000; the core in this process, its
// RSS and heap after a forced GC before and after: a leak shows as growth). Past 1023 instances
// both sides spread over several bridge networks, `--network-size` (default the bot's 1000) each.
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { dispatch } from '../commands/index.ts';
import type { Services } from '../core/context.ts';
import { managedFilter } from '../core/labels.ts';
import { hostLimitError, readSetting } from '../engine/host-limits.ts';
import { AUDIT_LIMIT } from '../store/schema.ts';
import type { BenchContext, Suite } from './harness.ts';
import { rawLaunch } from './launch.ts';
import { alternate, type Bench, benchRow, formatValue, percentile, ratio, side, timed } from './rows.ts';
import { reachableRow } from './scale-host.ts';
import { coreName, cycles, fillByTenths, stopAll, type Tenth } from './scale-launch.ts';
import { hostReclaim, statsReclaim } from './scale-reclaim.ts';
import { storeRows } from './scale-store.ts';
import { buildDist, startBot } from './start.ts';

export const SCALE_DEFAULT_INSTANCES = 1000;
/** The suite's own ports: the pool (N), above it the raw batches' (a tenth of N), and the bot
 * child's HTTP port at the top; below the kernel's ephemeral range (32768 and up), and used by no
 * Docker test. */
const SCALE_PORTS = { from: 30000, to: 32767 };
/** The most that fits the suite's ports: N + N/10 + the bot's port (2751 of 2768). */
export const SCALE_MAX_INSTANCES = 2500;
const SCALE_MIN_INSTANCES = 10;
/** Instances per bridge network when `--network-size` is not given: the bot's default. */
const DEFAULT_NETWORK_SIZE = 1000;
/** A Linux bridge holds at most 1024 ports. */
const MAX_NETWORK_SIZE = 1023;
/** The bot child's HTTP port: above every port the suite publishes. */
const BOT_HTTP_PORT = SCALE_PORTS.to;
const CONCURRENCY = 8;
const LIST_ROUNDS = 10;
/** Launch/stop cycles of the leak check: issue 12 asks for no growth over 1000. */
const MAX_CYCLES = 1000;
const MB = 1024 * 1024;

/** Why `--instances` cannot be this, in one sentence; null when it can. */
export function instancesError(text: string | undefined): string | null {
  const n = Number(text);
  if (!Number.isInteger(n) || n < SCALE_MIN_INSTANCES || n > SCALE_MAX_INSTANCES) {
    return `--instances expects a whole number from ${SCALE_MIN_INSTANCES} to ${SCALE_MAX_INSTANCES} (the most the scale suite's ports ${SCALE_PORTS.from}-${SCALE_PORTS.to} hold with the raw side's), got "${text ?? ''}".`;
  }
  return null;
}

/** Why `--network-size` cannot be this, in one sentence; null when it can. */
export function networkSizeError(text: string | undefined): string | null {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_NETWORK_SIZE) {
    return `--network-size expects a whole number from 1 to ${MAX_NETWORK_SIZE} (a Linux bridge holds at most 1024 ports), got "${text ?? ''}".`;
  }
  return null;
}

/** The process's RSS and heap (MB) after a full garbage collection. */
function memoryAfterGc(): { rssMb: number; heapMb: number } {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rssMb: rss / MB, heapMb: heapUsed / MB };
}

/** The launch rows: throughput ratio at the worst tenth, latency at 10%, 50% and 100% of N. */
function launchRows(n: number, fill: Tenth[]): Bench[] {
  const ratios = fill.map((t) => t.raw.wallMs / t.core.wallMs);
  const worst = ratios.indexOf(Math.min(...ratios));
  const rows: Bench[] = [
    benchRow({
      suite: 'scale',
      id: 'scale.launch-throughput',
      name: `launch throughput at concurrency ${CONCURRENCY}, worst tenth of ${n}`,
      ours: side(
        `Instances.launch per tenth: wall time of its first ${fill.map((t) => t.sample).join('/')}, in rounds of ${CONCURRENCY}`,
        fill.map((t) => t.core.wallMs),
      ),
      baseline: side(
        "raw create + start + waitForHttp, as many, its rounds alternating with the core's (A B B A)",
        fill.map((t) => t.raw.wallMs),
      ),
      result: { label: `throughput ratio (tenth ${worst + 1})`, value: ratios[worst] ?? 0, unit: 'x' },
      target: { op: '>=', value: 0.9, unit: 'x', source: 'issue 12' },
      notes: `per tenth (raw wall / core wall): ${ratios.map((r) => r.toFixed(2)).join(', ')}`,
    }),
  ];
  for (const k of [0, 4, 9]) {
    const t = fill[k];
    if (!t) continue;
    const ours = side(`Instances.launch, ${CONCURRENCY} in flight`, t.core.latencyMs);
    const baseline = side(`raw launch, ${CONCURRENCY} in flight`, t.raw.latencyMs);
    rows.push(
      benchRow({
        suite: 'scale',
        id: `scale.launch-latency-${(k + 1) * 10}`,
        name: `launch latency at ${(k + 1) * 10}% of ${n} (from ${t.fillBefore} running)`,
        ours,
        baseline,
        result: { label: 'median ratio', value: ratio(ours, baseline), unit: 'x' },
        notes: `p99 ours ${Math.round(ours.stats.p99)} ms, raw ${Math.round(baseline.stats.p99)} ms`,
      }),
    );
  }
  return rows;
}

/** `list all`, `status` and one raw listContainers at N, alternating. */
async function listRows(ctx: BenchContext, services: Services, n: number): Promise<Bench[]> {
  const label = Object.entries(managedFilter(ctx.scope)).map(([k, v]) => `${k}=${v}`);
  const run = async (input: string, check: (summary: string, count: number) => boolean) => {
    const reply = await dispatch(input, { actor: ctx.actor, services, prefix: '', log: services.log });
    const count =
      reply.kind === 'instances'
        ? reply.instances.length
        : reply.kind === 'status'
          ? reply.status.instances.running
          : -1;
    if (!check(reply.summary, count)) throw new Error(`${input} answered ${reply.summary}`);
  };
  const samples = { list: [] as number[], status: [] as number[], raw: [] as number[] };
  const list = async () => {
    samples.list.push((await timed(() => run('list all', (_, c) => c === n))).ms);
  };
  const status = async () => {
    samples.status.push((await timed(() => run('status', (_, c) => c === n))).ms);
  };
  const raw = async () => {
    const { ms, value } = await timed(() => ctx.docker.listContainers({ all: true, filters: { label } }));
    if (value.length !== n) throw new Error(`raw listContainers saw ${value.length}`);
    samples.raw.push(ms);
  };
  for (const warm of [list, status, raw]) await warm();
  samples.list.length = samples.status.length = samples.raw.length = 0;
  await alternate(
    ctx.signal,
    LIST_ROUNDS,
    async () => {
      await list();
      await status();
    },
    raw,
  );
  const baseline = side('raw dockerode listContainers, same label filter', samples.raw);
  const target = { op: '<=' as const, value: 1.5, unit: 'x' as const, source: 'issue 12' };
  const notes = `${LIST_ROUNDS} rounds each after a warm-up, alternating A/B`;
  return (['list', 'status'] as const).map((which) => {
    const ours = side(
      which === 'list' ? 'the `list all` command (engine list + store + views)' : 'the `status` command',
      samples[which],
    );
    return benchRow({
      suite: 'scale',
      id: `scale.${which}-vs-raw`,
      name: `\`${which === 'list' ? 'list all' : 'status'}\` at ${n} instances`,
      ours,
      baseline,
      result: { label: 'median ratio', value: ratio(ours, baseline), unit: 'x' },
      target,
      notes,
    });
  });
}

export const scaleSuite: Suite = {
  name: 'scale',
  description: `N instances on one host (--instances N, default ${SCALE_DEFAULT_INSTANCES}, at most ${SCALE_MAX_INSTANCES}; --network-size per network, default ${DEFAULT_NETWORK_SIZE}): launch, list, status, reclaim (stats and host), store, RSS, stop, cycles`,
  needsDocker: true,
  onlyWhenNamed: true,
  async run(ctx) {
    const n = ctx.instances ?? SCALE_DEFAULT_INSTANCES;
    const refusal = instancesError(String(n)) ?? hostLimitError(n, readSetting);
    if (refusal !== null) throw new Error(refusal);
    const t0 = performance.now();
    const ports = `${SCALE_PORTS.from}-${SCALE_PORTS.from + n - 1}`;
    const rawPortFrom = SCALE_PORTS.from + n;
    const dataFile = path.join(ctx.dir, 'scale.json');
    const networkSize = ctx.networkSize ?? DEFAULT_NETWORK_SIZE;
    const env = {
      SPREADSERVE_PORTS: ports,
      SPREADSERVE_DATA: dataFile,
      SPREADSERVE_NETWORK_SIZE: String(networkSize),
      SPREADSERVE_SAMPLER: 'stats',
      // Thousands of containers slow Docker's own calls down (FACTS: listContainers 130-190 ms at
      // 1000, launches ~2/s near 1000): the bound an operator of such a host would set. The run
      // at 2000 of 2026-11-30 lost one start past 60 s near 1500 instances (load past 100); the
      // raw side waits unbounded, so the core gets the demo's own start timeout.
      DOCKER_CALL_TIMEOUT: `${Math.ceil(ctx.template.startTimeoutMs / 1_000)}s`,
    };
    const bench = { ...ctx, ports: { from: SCALE_PORTS.from, to: SCALE_PORTS.from + n - 1 } };
    await buildDist(ctx);

    ctx.log('scale: the compiled bot on an empty store (memory baseline)');
    const empty = await startBot(bench, 'compiled', {
      dataFile: path.join(ctx.dir, 'scale-empty.json'),
      httpPort: BOT_HTTP_PORT,
    });
    await new Promise((r) => setTimeout(r, 2_000));
    const emptyRss = empty.rssBytes() / MB;
    await empty.stop();

    let services = await ctx.services('scale', env);
    ctx.log(
      `scale: warm-up (one launch and stop each way; creates the first network; ${networkSize} a network)`,
    );
    await services.instances.launch({ actor: ctx.actor, template: 'demo', name: 'scale-warm' });
    await services.instances.stop(ctx.actor, 'scale-warm');
    await (await rawLaunch(ctx, 'scale-warm-raw', rawPortFrom)).remove({ force: true });
    ctx.log(`scale: filling the host to ${n}, a tenth at a time, raw and core rounds in turn`);
    const fill = await fillByTenths(ctx, services, n, { concurrency: CONCURRENCY, rawPortFrom, networkSize });
    // Each row is logged as it comes: a run of an hour that fails late still shows what it measured.
    const rows: Bench[] = [];
    const keep = (added: Bench[]) => {
      for (const r of added) {
        const verdict = r.pass === null ? '' : r.pass ? ' (pass)' : ' (target missed)';
        ctx.log(
          `  ${r.id}: ${r.result.label} ${formatValue(r.result.value, r.result.unit)}${verdict}${r.notes ? ` (${r.notes})` : ''}`,
        );
        rows.push(r);
      }
    };
    keep(launchRows(n, fill));
    ctx.log(`scale: every URL at ${n}`);
    keep([await reachableRow(ctx, services, n)]);
    if (ctx.fillOnly) {
      ctx.log('scale: --fill-only: the rest is skipped; the cleanup removes the instances');
      await services.stop();
      return rows;
    }
    ctx.log(`scale: list all and status at ${n}`);
    keep(await listRows(ctx, services, n));
    ctx.log(`scale: a reclaim pass at ${n}, the stats way then host counters`);
    const stats = await statsReclaim(ctx, services, n);
    keep(stats.rows);
    await services.stop();
    await services.store.close();
    services = await ctx.services('scale', { ...env, SPREADSERVE_SAMPLER: 'host' });
    keep(await hostReclaim(ctx, services, n, stats.passes));
    ctx.log(`scale: the store at ${n} records with a full audit trail`);
    keep(await storeRows(ctx, services, n));

    ctx.log(`scale: the compiled bot with ${n} tracked (reconciles them at start)`);
    await services.stop();
    await services.store.close();
    const full = await startBot(bench, 'compiled', { dataFile, httpPort: BOT_HTTP_PORT, env });
    await new Promise((r) => setTimeout(r, 2_000));
    const fullRss = full.rssBytes() / MB;
    const fullStartMs = full.startMs;
    await full.stop();
    keep([
      benchRow({
        suite: 'scale',
        id: 'scale.bot-rss',
        name: `bot RSS with ${n} instances tracked`,
        ours: side(`node dist/main.js, ${n} records, ${AUDIT_LIMIT} audit entries`, [fullRss], {
          unit: 'MB',
        }),
        baseline: side('node dist/main.js, empty store', [emptyRss], { unit: 'MB' }),
        result: { label: 'RSS', value: fullRss, unit: 'MB' },
        target: { op: '<=', value: 150, unit: 'MB', source: 'issue 12' },
        notes: `a child process, VmRSS 2 s after its first /healthz 200 (start with reconcile at ${n}: ${Math.round(fullStartMs)} ms)`,
      }),
    ]);

    services = await ctx.services('scale', env);
    ctx.log(`scale: stopping all ${n} through the core, ${CONCURRENCY} at a time`);
    const names = Array.from({ length: n }, (_, i) => coreName(i));
    const stopped = await stopAll(ctx, services, names, CONCURRENCY);
    const removes = fill.flatMap((t) => t.raw.removeMs);
    const stopSide = side(`Instances.stop, ${CONCURRENCY} in flight`, stopped.latencyMs, {
      wallMs: stopped.wallMs,
    });
    const removeSide = side(`raw remove (force) of the raw batches, ${CONCURRENCY} in flight`, removes);
    keep([
      benchRow({
        suite: 'scale',
        id: 'scale.stop-all',
        name: `stopping all ${n}`,
        ours: stopSide,
        baseline: removeSide,
        result: { label: 'stops/s', value: (n / stopped.wallMs) * 1000, unit: 'ops/s' },
        notes: `median ratio to a raw remove ${ratio(stopSide, removeSide).toFixed(2)}x; p90 ${Math.round(percentile(stopped.latencyMs, 90))} ms`,
      }),
    ]);

    const cycleCount = Math.min(n, MAX_CYCLES);
    ctx.log(`scale: ${cycleCount} launch/stop cycles through the core in this process`);
    const before = memoryAfterGc();
    const cycleMs = await cycles(ctx, services, cycleCount, CONCURRENCY);
    const after = memoryAfterGc();
    keep([
      benchRow({
        suite: 'scale',
        id: 'scale.cycles-rss',
        name: `RSS after ${cycleCount} launch/stop cycles (core in the bench process)`,
        ours: side('after the cycles, after a full GC', [after.rssMb], { unit: 'MB' }),
        baseline: side('before the cycles, after a full GC', [before.rssMb], { unit: 'MB' }),
        result: { label: 'growth', value: after.rssMb - before.rssMb, unit: 'MB' },
        notes: `heap ${before.heapMb.toFixed(1)} -> ${after.heapMb.toFixed(1)} MB; ${cycleCount} cycles at concurrency ${CONCURRENCY} in ${Math.round(cycleMs / 1000)} s; the suite took ${Math.round((performance.now() - t0) / 1000)} s`,
      }),
    ]);
    await services.stop();
    return rows;
  },
};
