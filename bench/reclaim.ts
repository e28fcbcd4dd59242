// Issue 5: one reclaim pass over 200 running instances the stats way (SPREADSERVE_SAMPLER=stats,
// set explicitly: the default reads host counters on a local engine), against the one-shot stats
// calls alone at the same concurrency (target: at most 1.5x), and against the naive way (stats
// without one-shot, one container at a time) as a speed-up factor. Issue 12: the same pass with
// host counters (SPREADSERVE_SAMPLER=host, the same store reopened) against the stats way. The
// pass is a real one (reconcile, counters, one store update, summary): a quiet one, since nothing
// has been idle for IDLE_TIMEOUT.
import path from 'node:path';
import { DEFAULT_STATS_CONCURRENCY } from '../core/reclaim.ts';
import { mapLimit } from '../lib/concurrency.ts';
import type { Suite } from './harness.ts';
import { alternate, type Bench, benchRow, ratio, side, timed } from './rows.ts';

const INSTANCES = 200;
const LAUNCH_CONCURRENCY = 8;
const ROUNDS = 5;
/** The naive way takes ~2 s a container (FACTS): timed on this many, then scaled to INSTANCES. */
const NAIVE_SAMPLE = 10;

export const reclaimSuite: Suite = {
  name: 'reclaim',
  description: `one reclaim pass at ${INSTANCES} instances the stats way vs one-shot stats alone (${DEFAULT_STATS_CONCURRENCY} in flight) and vs naive stats; host counters vs the stats way`,
  needsDocker: true,
  async run(ctx): Promise<Bench[]> {
    const store = { SPREADSERVE_DATA: path.join(ctx.dir, 'reclaim.json') };
    let services = await ctx.services('reclaim', { ...store, SPREADSERVE_SAMPLER: 'stats' });
    ctx.log(`reclaim: launching ${INSTANCES} instances through the core, ${LAUNCH_CONCURRENCY} at a time`);
    const { names } = await ctx.launchMany(services, INSTANCES, {
      concurrency: LAUNCH_CONCURRENCY,
      prefix: 'rc',
    });
    const ids = names.map((n) => services.store.read().instances[n]?.containerId ?? `spreadserve-${n}`);

    // Through whichever services are open (the stats way's, then host counters').
    const pass = async () => {
      const report = await services.reclaimer.run({ trigger: 'schedule' });
      if (report.status !== 'done' || report.checked !== INSTANCES) {
        throw new Error(`reclaim: the pass answered ${report.summary}`);
      }
    };
    // What the pass cannot do without: one one-shot stats call per container, as many in flight.
    const statsAlone = async () => {
      await mapLimit(ids, DEFAULT_STATS_CONCURRENCY, (id) =>
        ctx.docker.getContainer(id).stats({ stream: false, 'one-shot': true }),
      );
    };

    ctx.log('reclaim: warm-up (the first pass is the baseline; 1 stats round)');
    await pass();
    await statsAlone();
    if ((await services.reclaimer.activity.kind()) !== 'stats') throw new Error('reclaim: not the stats way');
    const passMs: number[] = [];
    const statsMs: number[] = [];
    ctx.log(`reclaim: ${ROUNDS} rounds, alternating`);
    await alternate(
      ctx.signal,
      ROUNDS,
      async () => void passMs.push((await timed(pass)).ms),
      async () => void statsMs.push((await timed(statsAlone)).ms),
    );

    ctx.log(`reclaim: the naive way on ${NAIVE_SAMPLE} containers (stats without one-shot, one at a time)`);
    const naiveEach: number[] = [];
    for (const id of ids.slice(0, NAIVE_SAMPLE)) {
      ctx.signal.throwIfAborted();
      naiveEach.push((await timed(() => ctx.docker.getContainer(id).stats({ stream: false }))).ms);
    }
    const naiveTotal = (naiveEach.reduce((x, y) => x + y, 0) / naiveEach.length) * INSTANCES;

    ctx.log('reclaim: host counters (the same store reopened with SPREADSERVE_SAMPLER=host)');
    await services.stop();
    await services.store.close();
    services = await ctx.services('reclaim', { ...store, SPREADSERVE_SAMPLER: 'host' });
    await pass(); // the baseline pass; reads each container's pid once
    // SPREADSERVE_SAMPLER=host falls back to the stats API where /proc cannot be read: not this row.
    if ((await services.reclaimer.activity.kind()) !== 'host') {
      throw new Error('reclaim: host counters could not be read here; the pass fell back to the stats API');
    }
    const hostMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      ctx.signal.throwIfAborted();
      hostMs.push((await timed(pass)).ms);
    }
    await services.stop();

    const ours = side(
      `Reclaimer.run, SPREADSERVE_SAMPLER=stats: reconcile, ${INSTANCES} one-shot stats (${DEFAULT_STATS_CONCURRENCY} in flight), store update`,
      passMs,
    );
    const stats = side(
      `raw dockerode one-shot stats of ${INSTANCES} containers, ${DEFAULT_STATS_CONCURRENCY} in flight`,
      statsMs,
    );
    const naive = side(
      `raw stats without one-shot, one at a time, ${NAIVE_SAMPLE} timed, scaled to ${INSTANCES}`,
      [naiveTotal],
    );
    const host = side(
      'Reclaimer.run, SPREADSERVE_SAMPLER=host: reconcile, /proc counters, store update',
      hostMs,
    );
    return [
      benchRow({
        suite: 'reclaim',
        id: 'reclaim.pass-vs-stats',
        name: `one reclaim pass at ${INSTANCES} instances (stats way)`,
        ours,
        baseline: stats,
        result: { label: 'median ratio', value: ratio(ours, stats), unit: 'x' },
        target: { op: '<=', value: 1.5, unit: 'x', source: 'issue 5' },
        notes: `${ROUNDS} rounds each after a warm-up, alternating A/B; each stats call waits for the engine's ~1 s collector tick`,
      }),
      benchRow({
        suite: 'reclaim',
        id: 'reclaim.pass-vs-naive',
        name: `one reclaim pass at ${INSTANCES} instances vs naive stats`,
        ours,
        baseline: naive,
        result: { label: 'speed-up', value: naiveTotal / ours.stats.median, unit: 'x' },
        notes: `naive per container: median ${Math.round(naiveEach.sort((x, y) => x - y)[NAIVE_SAMPLE >> 1] ?? 0)} ms over ${NAIVE_SAMPLE}`,
      }),
      benchRow({
        suite: 'reclaim',
        id: 'reclaim.host-vs-stats',
        name: `one reclaim pass at ${INSTANCES} instances, host counters vs the stats way`,
        ours: host,
        baseline: ours,
        result: { label: 'speed-up', value: ours.stats.median / host.stats.median, unit: 'x' },
        target: { op: '>=', value: 10, unit: 'x', source: 'issue 12' },
        notes: `${ROUNDS} host passes after a baseline pass, following the stats rounds on the same instances`,
      }),
    ];
  },
};
