// The reclaim schedule (core/schedule.ts) with node-cron for real: a cron of every second runs
// passes, never two at once, and stop() waits for the running one. The passes are real ones
// (real store, real Docker) made slower than a tick by an engine whose list call takes 1.5 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config.ts';
import type { ReclaimReport } from '../../core/notifier.ts';
import { createReclaimSchedule } from '../../core/schedule.ts';
import { DockerEngine } from '../../engine/docker.ts';
import type { ContainerEngine } from '../../engine/types.ts';
import { silentLogger } from '../../lib/log.ts';
import { type TestBed, testBed } from '../support/services.ts';

const SCOPE = 'test-reclaim-schedule';
const SLOW_MS = 1_500;

/** The real engine; its list (reconcile's call) takes SLOW_MS longer, and says how many run at once. */
function slowEngine() {
  const real = new DockerEngine();
  const stats = { inFlight: 0, maxInFlight: 0, calls: 0 };
  const engine: ContainerEngine = Object.create(real);
  engine.list = async (labels) => {
    stats.calls++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      await new Promise((r) => setTimeout(r, SLOW_MS));
      return await real.list(labels);
    } finally {
      stats.inFlight--;
    }
  };
  return { engine, stats };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let bed: TestBed;
const { engine, stats } = slowEngine();

beforeAll(async () => {
  // No instance is launched here: the port is never used.
  bed = await testBed({ scope: SCOPE, ports: '24449-24449', engine });
});

afterAll(async () => {
  await bed?.cleanup();
});

describe('reclaim schedule', () => {
  it('runs passes every second, never two at once, and stop() waits for the running pass', async () => {
    const passes: { report: ReclaimReport; endedAt: number }[] = [];
    const schedule = createReclaimSchedule({
      cron: '* * * * * *',
      reclaimer: bed.services.reclaimer,
      log: silentLogger(),
      onPass: (report) => passes.push({ report, endedAt: performance.now() }),
    });
    schedule.start();
    const next = schedule.nextRunAt();
    expect(next).toBeGreaterThan(Date.now() - 1);
    expect(next).toBeLessThanOrEqual(Date.now() + 1_000);

    // when it has run a while (passes of ~1.5 s against ticks every second)
    await sleep(5_000);
    // and is stopped in the middle of a pass
    while (!bed.services.reclaimer.busy) await sleep(20);
    const stopping = performance.now();
    await schedule.stop();
    const stopped = performance.now();

    // then passes ran, one at a time, and the one running at stop() finished before it returned
    expect(passes.length).toBeGreaterThanOrEqual(2);
    expect(stats.maxInFlight).toBe(1);
    expect(passes.every((p) => p.report.status === 'done')).toBe(true);
    const last = passes.at(-1) ?? expect.unreachable('no pass ran');
    expect(last.endedAt).toBeGreaterThan(stopping);
    expect(last.endedAt).toBeLessThanOrEqual(stopped);
    expect(bed.services.reclaimer.busy).toBe(false);
    expect(bed.services.store.read().reclaim.lastPassSummary).toBe(last.report.summary);

    // and nothing runs after it
    const calls = stats.calls;
    await sleep(2_200);
    expect(stats.calls).toBe(calls);
    expect(schedule.nextRunAt()).toBeUndefined();
  });

  it('skips a scheduled pass while a `reclaim` command runs one', async () => {
    const passes: ReclaimReport[] = [];
    const manual = bed.services.reclaimer.run({ trigger: 'command', by: 'UADMIN' });
    const schedule = createReclaimSchedule({
      cron: '* * * * * *',
      reclaimer: bed.services.reclaimer,
      log: silentLogger(),
      onPass: (report) => passes.push(report),
    });
    schedule.start();
    await manual;
    await schedule.stop();
    expect(passes.length).toBeGreaterThanOrEqual(1);
    expect(passes[0]?.status).toBe('skipped');
    expect(passes[0]?.summary).toMatch(/is still running; this one was skipped/);
  });

  it('refuses a cron expression node-cron does not accept, naming RECLAIM_CRON', () => {
    expect(() =>
      createReclaimSchedule({ cron: '61 * * * *', reclaimer: bed.services.reclaimer, log: silentLogger() }),
    ).toThrow(ConfigError);
    expect(() =>
      createReclaimSchedule({
        cron: 'every 5 minutes',
        reclaimer: bed.services.reclaimer,
        log: silentLogger(),
      }),
    ).toThrow(/RECLAIM_CRON: "every 5 minutes" is not a cron expression/);
  });
});
