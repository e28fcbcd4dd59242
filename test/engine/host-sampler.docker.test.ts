// The host-side activity sampler against real containers: it reads the counters the stats API
// reads (same units, a test sends known traffic and compares), a reclaim pass decides the same
// with either sampler, a pid that changed is looked up again and never misread, and an engine
// that is not this machine's socket gets the stats API. Ports 25080-25099 belong to this file;
// everything it creates carries its scope label and is removed before and after.
import { mkdtempSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusBlocks } from '../../bot/status-blocks.ts';
import { replyToText } from '../../cli/text.ts';
import { dispatch } from '../../commands/index.ts';
import { ActivitySampling, type SampleTarget } from '../../core/activity.ts';
import type { ReclaimReport } from '../../core/notifier.ts';
import { Reclaimer } from '../../core/reclaim.ts';
import { DockerEngine } from '../../engine/docker.ts';
import { chooseSampler, HostSampler, HostUnreadable } from '../../engine/host-sampler.ts';
import { ManualClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/log.ts';
import { dockerSync, httpGet } from '../support/docker.ts';
import { admin, alice, buildImage, realTemplates, type TestBed, testBed } from '../support/services.ts';

const SCOPE = 'test-host-sampler';
const FIRST = 25080;
const LAST = 25099;
const MIN = 60_000;
const IDLE = 2 * 60 * MIN; // IDLE_TIMEOUT (default)
/** Page loads of the demo's page per burst (each sends ~1.2 KiB, so 24 clear the 16 KiB floor). */
const LOADS = 24;
/** Bytes the two samplers may differ by for one container read back to back (an ARP reply or two). */
const TOLERANCE = 512;

const clock = new ManualClock();
let bed: TestBed;
const engine = new DockerEngine({ dockerHost: process.env.DOCKER_HOST });
const bound = <T>(call: Promise<T>) => call;

/** Real HTTP GETs of the instance's page; the bytes of the bodies received. */
async function traffic(port: number, loads = LOADS): Promise<number> {
  let bytes = 0;
  for (let i = 0; i < loads; i++) {
    const res = await httpGet(`http://127.0.0.1:${port}/`, 2_000);
    expect(res?.status).toBe(200);
    bytes += Buffer.byteLength(res?.body ?? '');
  }
  return bytes;
}

async function launch(name: string) {
  const record = await bed.services.instances.launch({ actor: alice, name });
  const container = record.containerId ?? expect.unreachable('no container id');
  return { name, port: record.port, container };
}

const decisions = (r: ReclaimReport) => ({
  actions: r.actions.map((a) => [a.instance, a.kind, a.reason, a.outcome]).sort(),
  active: [...r.active].sort(),
  failures: r.failures,
});

beforeAll(async () => {
  bed = await testBed({
    scope: SCOPE,
    ports: `${FIRST}-${LAST}`,
    templates: realTemplates(SCOPE),
    clock,
    env: { MAX_INSTANCES_PER_USER: '0' },
  });
  await buildImage(bed.services, 'demo');
}, 180_000);

afterAll(async () => {
  await bed?.cleanup();
});

describe('host counters and the stats API', () => {
  it('read the same tx and rx bytes, and both see known traffic', async () => {
    // given three running instances, each sampled both ways
    const targets = [await launch('same-a'), await launch('same-b'), await launch('same-c')];
    const host = new HostSampler(engine);
    for (const t of targets) {
      const hostBefore = await host.sample(t.container);
      const statsBefore = await engine.stats(t.container);

      // when a known amount of traffic goes through the instance's URL
      const sentAtLeast = await traffic(t.port);

      // then both samplers see the instance send at least that much more
      const hostAfter = await host.sample(t.container);
      const statsAfter = await engine.stats(t.container);
      expect(hostAfter.txBytes - hostBefore.txBytes).toBeGreaterThanOrEqual(sentAtLeast);
      expect(statsAfter.txBytes - statsBefore.txBytes).toBeGreaterThanOrEqual(sentAtLeast);
      // and read back to back they agree: the same interfaces, the same units
      expect(Math.abs(statsAfter.txBytes - hostAfter.txBytes)).toBeLessThanOrEqual(TOLERANCE);
      expect(Math.abs(statsAfter.rxBytes - hostAfter.rxBytes)).toBeLessThanOrEqual(TOLERANCE);
      // and CPU comes from the same cgroup counter (the stats read is the later one)
      expect(hostAfter.cpuNs).toBeGreaterThan(0);
      expect(statsAfter.cpuNs).toBeGreaterThanOrEqual(hostAfter.cpuNs);
    }
    for (const t of targets) await bed.services.instances.stop(admin, t.name);
  }, 120_000);

  it('make the same reclaim decisions: warn the idle instance, keep the busy one', async () => {
    // given an idle and a busy instance, and a pass of each sampler over the same store
    const idle = await launch('idle');
    const busy = await launch('busy');
    const { services } = bed;
    const deps = {
      store: services.store,
      engine: services.engine,
      instances: services.instances,
      clock,
      log: silentLogger(),
      notifier: {
        warnOwner: async () => ({ delivered: true, detail: '' }),
        opsSummary: async () => undefined,
      },
      reconcile: () => services.reconcile({ atStart: false }),
    };
    const viaHost = new Reclaimer({ ...deps, settings: { ...bed.config.reclaim, sampler: 'host' } });
    const viaStats = new Reclaimer({ ...deps, settings: { ...bed.config.reclaim, sampler: 'stats' } });
    expect(await viaHost.activity.kind()).toBe('host');
    expect(await viaStats.activity.kind()).toBe('stats');
    const pass = (r: Reclaimer) => r.run({ trigger: 'schedule', dryRun: true });
    await pass(viaHost); // each one's first pass after start is a baseline
    await pass(viaStats);

    // when IDLE_TIMEOUT goes by, the busy one used before each pass
    clock.advance(IDLE + MIN);
    await traffic(busy.port);
    const hostReport = await pass(viaHost);
    await traffic(busy.port);
    const statsReport = await pass(viaStats);

    // then both warn the idle one (dry run) and count the busy one as used
    expect(decisions(hostReport)).toEqual({
      actions: [[idle.name, 'warn', 'idle', 'dry-run']],
      active: [busy.name],
      failures: [],
    });
    expect(decisions(statsReport)).toEqual(decisions(hostReport));
    // and the host pass really read /proc (the pid is cached with the container)
    expect(viaHost.activity.host.pidOf(busy.container)).toBe(
      Number(dockerSync('inspect', '-f', '{{.State.Pid}}', busy.container)),
    );
    expect(viaStats.activity.host.pidOf(busy.container)).toBeUndefined();
    for (const name of [idle.name, busy.name]) await services.instances.stop(admin, name);
  }, 120_000);
});

describe('a long host pass', () => {
  it('gives the event loop turns while it reads (acks are not held for the whole pass)', async () => {
    // given 1200 targets (4 running instances, each 300 times: the reads of a pass at 1200), the
    // pids looked up once, so the pass is all synchronous file reads (engine/host-sampler.ts)
    const running: Awaited<ReturnType<typeof launch>>[] = [];
    for (const name of ['t-1', 't-2', 't-3', 't-4']) running.push(await launch(name));
    const targets = Array.from({ length: 300 }, () => running)
      .flat()
      .map((t) => ({ name: t.name, container: t.container }));
    const sampling = new ActivitySampling(engine, 'host', bound);
    await sampling.sampleAll(targets);

    // when a pass runs while a 1 ms timer notes the longest time the loop went without a turn
    // (up to the pass's end: a loop held to the end never runs the timer at all)
    const t0 = performance.now();
    let lastTurn = t0;
    let longestMs = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longestMs = Math.max(longestMs, now - lastTurn);
      lastTurn = now;
    }, 1);
    const results = await sampling.sampleAll(targets);
    const end = performance.now();
    clearInterval(ticker);
    longestMs = Math.max(longestMs, end - lastTurn);
    const passMs = end - t0;

    // then every read went through the host, and the loop was never held for most of the pass:
    // without turns the longest wait is the whole burst of reads (checked with the turns removed)
    expect(results.every((r) => r.ok && r.via === 'host')).toBe(true);
    console.log(
      `host pass over ${targets.length}: ${passMs.toFixed(1)} ms, loop held at most ${longestMs.toFixed(1)} ms`,
    );
    expect(longestMs).toBeLessThan(passMs / 2);
    for (const t of running) await bed.services.instances.stop(admin, t.name);
  }, 120_000);
});

describe('the cached pid', () => {
  it('is looked up again when the container restarted', async () => {
    // given an instance sampled once (its pid cached)
    const t = await launch('restarted');
    const host = new HostSampler(engine);
    await host.sample(t.container);
    const before = host.pidOf(t.container);
    expect(host.inspections).toBe(1);

    // when the container restarts (a new main process)
    dockerSync('restart', '-t', '0', t.container);
    const after = await host.sample(t.container);

    // then it was inspected again and the new pid is read, matching the stats API
    expect(host.inspections).toBe(2);
    const pid = Number(dockerSync('inspect', '-f', '{{.State.Pid}}', t.container));
    expect(host.pidOf(t.container)).toBe(pid);
    expect(pid).not.toBe(before);
    const stats = await engine.stats(t.container);
    expect(Math.abs(stats.txBytes - after.txBytes)).toBeLessThanOrEqual(TOLERANCE);
    await bed.services.instances.stop(admin, t.name);
  }, 60_000);

  it('is never read when it belongs to another process: looked up again, and the pass asks the stats API', async () => {
    // given a /proc whose entry for the container's pid can be pointed elsewhere
    const t = await launch('reused');
    const pid = Number(dockerSync('inspect', '-f', '{{.State.Pid}}', t.container));
    const proc = mkdtempSync(path.join(os.tmpdir(), 'ss-proc-'));
    const entry = path.join(proc, String(pid));
    symlinkSync(`/proc/${pid}`, entry);
    try {
      const host = new HostSampler(engine, { procRoot: proc });
      await host.sample(t.container);
      expect(host.inspections).toBe(1);

      // when that pid now belongs to another process (this test runner)
      unlinkSync(entry);
      symlinkSync(`/proc/${process.pid}`, entry);

      // then the sampler refuses to read it (after inspecting again) rather than read the runner's counters
      await expect(host.sample(t.container)).rejects.toBeInstanceOf(HostUnreadable);
      expect(host.inspections).toBe(2);
      expect(host.pidOf(t.container)).toBeUndefined();
      // and a sweep reads that container through the stats API instead, in the same pass
      const sweep = new ActivitySampling(engine, 'host', bound, host);
      const [viaStats] = await sweep.sampleAll([{ name: t.name, container: t.container }]);
      expect(viaStats).toMatchObject({ ok: true, via: 'stats' });
      const inspections = host.inspections;

      // and when the pid is the container's again, it is read
      unlinkSync(entry);
      symlinkSync(`/proc/${pid}`, entry);
      expect((await host.sample(t.container)).txBytes).toBeGreaterThan(0);
      expect(host.inspections).toBe(inspections + 1);
    } finally {
      rmSync(proc, { recursive: true, force: true });
      await bed.services.instances.stop(admin, t.name);
    }
  }, 60_000);
});

describe('which sampler', () => {
  it('is the stats API for a remote or Windows engine, or when /proc cannot be read', async () => {
    // given the rule's inputs
    const rule = (transport: string, os: 'linux' | 'windows', readable?: boolean) =>
      chooseSampler({ setting: 'auto', transport, os, readable });

    // then only a local Linux engine whose containers can be read gets host counters
    expect(rule('unix', 'linux')).toBe('host');
    expect(rule('unix', 'linux', true)).toBe('host');
    expect(rule('unix', 'linux', false)).toBe('stats');
    expect(rule('tcp', 'linux')).toBe('stats');
    expect(rule('ssh', 'linux')).toBe('stats');
    expect(rule('unix', 'windows')).toBe('stats');
    expect(chooseSampler({ setting: 'stats', transport: 'unix', os: 'linux', readable: true })).toBe('stats');

    // and a tcp:// engine (nothing listens there) is given the stats API without a call to it
    const remote = new DockerEngine({ dockerHost: `tcp://127.0.0.1:${LAST}` });
    const t0 = performance.now();
    expect(await new ActivitySampling(remote, 'auto', bound).kind()).toBe('stats');
    expect(performance.now() - t0).toBeLessThan(100);
  });

  it('is what `status` says, in the CLI and in Slack', async () => {
    // when status is asked for on this host (the bot on the Docker host)
    const reply = await dispatch('status', {
      actor: admin,
      services: bed.services,
      prefix: '',
      log: silentLogger(),
    });

    // then both renderings name the host counters
    expect(replyToText(reply)).toMatch(/^ {2}activity: {2}host counters \(\/proc\)$/m);
    if (reply.kind !== 'status') expect.unreachable(`not a status reply: ${reply.summary}`);
    expect(JSON.stringify(statusBlocks(reply.status, clock.now()))).toContain(
      'activity: host counters (/proc)',
    );
  });
});

describe('measured (reported, not asserted)', () => {
  it('one sweep of the instances with each sampler', async () => {
    // given a few running instances
    const targets: SampleTarget[] = [];
    for (const name of ['m-1', 'm-2', 'm-3', 'm-4', 'm-5', 'm-6']) {
      const t = await launch(name);
      targets.push({ name, container: t.container });
    }
    const host = new ActivitySampling(engine, 'host', bound);
    const stats = new ActivitySampling(engine, 'stats', bound);
    await host.sampleAll(targets); // the pids looked up once, as a pass after the first does not

    // when each sampler sweeps them once
    const timed = async (s: ActivitySampling) => {
      const t0 = performance.now();
      const results = await s.sampleAll(targets);
      return { ms: performance.now() - t0, results };
    };
    const viaHost = await timed(host);
    const viaStats = await timed(stats);

    // then every one was read, each by the sampler asked for
    expect(viaHost.results.map((r) => r.ok && r.via)).toEqual(targets.map(() => 'host'));
    expect(viaStats.results.map((r) => r.ok && r.via)).toEqual(targets.map(() => 'stats'));
    const per = (ms: number) => `${(ms / targets.length).toFixed(2)} ms/instance`;
    console.log(
      `sweep of ${targets.length} instances: host counters ${viaHost.ms.toFixed(1)} ms (${per(viaHost.ms)}), ` +
        `stats API ${viaStats.ms.toFixed(1)} ms (${per(viaStats.ms)}, 64 in flight)`,
    );
    for (const t of targets) await bed.services.instances.stop(admin, t.name);
  }, 120_000);
});
