// A reclaim pass whose engine dies under it, on a disposable Docker engine
// (test/support/engine-sandbox.ts): the core services point at a dockerd of this file's own, which
// is killed -9 while a pass samples the instances, then started again. The pass must end within
// its bound with failures a person may read (a UserError's sentence or "internal error (ref …)"),
// a pass while the engine is gone must fail at once, and once the engine is back a pass must leave
// the store as Docker is: a record only for a container that runs, every pool port free or held by
// one, and nothing of the scope left once the instances are stopped. The main engine is never
// touched (its base image is copied into the sandbox). Pool 24903-24905 and the sandbox subnet
// 10.232.42.0/24 (tag rfaults) belong to this file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL } from '../../core/labels.ts';
import type { Notifier, ReclaimReport } from '../../core/notifier.ts';
import { DockerEngine } from '../../engine/docker.ts';
import type { ContainerEngine } from '../../engine/types.ts';
import { ManualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import { EngineSandbox } from '../support/engine-sandbox.ts';
import { admin, alice, bob, buildImage, type TestBed, testBed } from '../support/services.ts';

const SCOPE = 'reclaim-faults';
const PORTS = { first: 24903, count: 3 };
const POOL = `${PORTS.first}-${PORTS.first + PORTS.count - 1}`;
/** The engine calls' bound in this file: short, so each fault costs seconds. */
const QUICK_MS = 2000;
/** What one pass may take with its engine killed under it: the listing, a round of stats (each
 * bounded by QUICK_MS), the store, and slack for a loaded CI machine. */
const PASS_BOUND_MS = 3 * QUICK_MS + 2000;
/** How long after the first stats call of the pass the engine is killed (a stats call waits ~1 s
 * for the engine's collector tick, so this lands while they are in flight). */
const KILL_AFTER_MS = 300;

/** Records what the passes tell the ops channel and owners (the fake at Slack's boundary). */
class RecordingNotifier implements Notifier {
  summaries: ReclaimReport[] = [];
  async warnOwner() {
    return { delivered: true, detail: 'recorded' };
  }
  async opsSummary(r: ReclaimReport) {
    this.summaries.push(r);
  }
}

/** The core's log, one parsed object a line: where the ref of an internal error leads. */
const logged: Record<string, unknown>[] = [];
const log = createLogger('info', { write: (line: string) => void logged.push(JSON.parse(line)) });

const clock = new ManualClock();
const notifier = new RecordingNotifier();
let sandbox: EngineSandbox;
let bed: TestBed;
/** Armed by a test: runs once, when the next stats call reaches the engine. */
let onStats: (() => void) | undefined;
/** Stats calls that reached the engine, and those that answered. */
const statsCalls = { started: 0, answered: 0 };

/** The real engine, watched: a test arms `onStats` to fault the sandbox once a pass samples. */
function watched(real: DockerEngine): ContainerEngine {
  return new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === 'stats') {
        return async (...args: Parameters<DockerEngine['stats']>) => {
          const hook = onStats;
          onStats = undefined;
          hook?.();
          statsCalls.started++;
          const sample = await target.stats(...args);
          statsCalls.answered++;
          return sample;
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const pass = () => bed.services.reclaimer.run({ trigger: 'command', by: admin.id });

/** What the sandbox holds of this scope: id, instance, state, published port. */
interface Held {
  id: string;
  instance: string;
  state: string;
  hostPort: number | undefined;
}

async function scopeContainers(): Promise<Held[]> {
  const ids = (await sandbox.docker('ps', '-aq', '--no-trunc', '--filter', `label=${LABEL.scope}=${SCOPE}`))
    .split('\n')
    .filter(Boolean);
  if (ids.length === 0) return [];
  const inspected = JSON.parse(await sandbox.docker('inspect', ...ids)) as {
    Id: string;
    State: { Status: string };
    Config: { Labels: Record<string, string> };
    HostConfig: { PortBindings?: Record<string, { HostPort: string }[] | null> };
  }[];
  return inspected.map((c) => {
    const binding = Object.values(c.HostConfig.PortBindings ?? {})
      .flatMap((b) => b ?? [])
      .at(0);
    return {
      id: c.Id,
      instance: c.Config.Labels[LABEL.instance] ?? '',
      state: c.State.Status,
      hostPort: binding ? Number(binding.HostPort) : undefined,
    };
  });
}

/**
 * Where the store and Docker disagree, as readable lines (empty when they agree): every record
 * has its running container, on its port; every pool port is free or in use by such a record;
 * every container of the scope has its record.
 */
async function disagreements(): Promise<string[]> {
  const doc = bed.services.store.read();
  const held = await scopeContainers();
  const out: string[] = [];
  for (const r of Object.values(doc.instances)) {
    const c = held.find((h) => h.id === r.containerId);
    if (!c) out.push(`record ${r.name} (${r.state}) has no container`);
    else if (r.state !== 'running' || c.state !== 'running')
      out.push(`record ${r.name} is ${r.state}, its container ${c.state}`);
    else if (c.hostPort !== r.port)
      out.push(`record ${r.name} has port ${r.port}, its container ${c.hostPort}`);
    if (doc.ports[r.port]?.instance !== r.name || doc.ports[r.port]?.state !== 'in-use')
      out.push(`port ${r.port} of ${r.name} is ${JSON.stringify(doc.ports[r.port])}`);
  }
  for (let port = PORTS.first; port < PORTS.first + PORTS.count; port++) {
    const entry = doc.ports[port];
    if (!entry) continue;
    const holder = entry.instance ? doc.instances[entry.instance] : undefined;
    if (entry.state !== 'in-use' || holder?.port !== port)
      out.push(`port ${port} is ${JSON.stringify(entry)}`);
  }
  for (const c of held) {
    if (doc.instances[c.instance]?.containerId !== c.id)
      out.push(`container of ${c.instance} (${c.state}) has no record`);
  }
  return out;
}

/**
 * Runs reclaim passes (each reconciles first; bounded in count and time) until the store and
 * Docker agree; returns the last pass and what still disagrees.
 */
async function passUntilAgreed(ms: number): Promise<{ last: ReclaimReport; left: string[] }> {
  const deadline = Date.now() + ms;
  let last = await pass();
  let left = await disagreements();
  for (let i = 0; i < 20 && left.length > 0 && Date.now() < deadline; i++) {
    await sleep(500);
    last = await pass();
    left = await disagreements();
  }
  return { last, left };
}

/** Polls (bounded) until the sandbox holds no container of this scope; returns how many are left. */
async function noContainersWithin(ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let left = (await scopeContainers()).length;
  for (let i = 0; i < ms / 250 && left > 0 && Date.now() < deadline; i++) {
    await sleep(250);
    left = (await scopeContainers()).length;
  }
  return left;
}

/** A failure as a person may read it: one of the engine's sentences, or an internal error's ref. */
const READABLE = [
  /^Docker did not answer within \d+s\.$/,
  /^Docker is not reachable at \S+ \([A-Z]+\); start it or fix DOCKER_HOST\.$/,
  /^internal error \(ref [0-9a-f]{6}\)$/,
];

/** Each failure of a pass is a readable sentence (after the pass's own prefix), and each internal
 * error's ref leads to its detail in the log. */
function expectReadable(report: ReclaimReport): void {
  for (const f of report.failures) {
    const text = f.error.replace(/^stats: /, '').replace(/^could not stop it: /, '');
    expect(
      READABLE.some((re) => re.test(text)),
      `unreadable failure: ${f.error}`,
    ).toBe(true);
    const ref = /internal error \(ref ([0-9a-f]{6})\)/.exec(text)?.[1];
    if (ref)
      expect(
        logged.find((l) => l.ref === ref),
        `no log entry for ref ${ref}`,
      ).toBeDefined();
  }
  expect(report.summary).not.toMatch(/socket hang up|HTTP code|at .*\.ts:\d+|Error:/);
}

beforeAll(async () => {
  sandbox = await EngineSandbox.start({ tag: 'rfaults', subnet: 42 });
  const engine = new DockerEngine({
    dockerHost: sandbox.dockerHost,
    timeouts: { quickMs: QUICK_MS, logsMs: QUICK_MS, imageMs: 10_000 },
  });
  bed = await testBed({
    scope: SCOPE,
    ports: POOL,
    engine: watched(engine),
    clock,
    notifier,
    log,
    env: {
      DOCKER_HOST: sandbox.dockerHost,
      SPREADSERVE_BIND_IP: sandbox.bindIp,
      SPREADSERVE_PUBLIC_URL: `http://${sandbox.bindIp}`,
      MAX_INSTANCES_PER_USER: '0',
    },
  });
  await buildImage(bed.services);
}, 120_000);

afterAll(async () => {
  onStats = undefined;
  await bed?.services.stop();
  await sandbox?.teardown();
}, 60_000);

describe('an engine killed -9 mid-reclaim and started again', () => {
  it('ends the pass within its bound with readable failures, and a pass after recovery restores the truth', async () => {
    // given the pool full of running instances, and the baseline pass behind them
    const names = ['r1', 'r2', 'r3'];
    for (const [i, name] of names.entries()) {
      await bed.services.instances.launch({ actor: i % 2 ? bob : alice, template: 'demo', name });
    }
    const baseline = await pass();
    expect(baseline).toMatchObject({ status: 'done', baselineOnly: true, failures: [] });
    expect([...baseline.baselined].sort()).toEqual(names);
    expect(await disagreements()).toEqual([]);

    // when a pass starts and the engine is killed -9 once it samples
    let killed: Promise<void> | undefined;
    let settled = false;
    let settledBeforeKill = false;
    let answeredBeforeKill = -1;
    statsCalls.started = 0;
    statsCalls.answered = 0;
    onStats = () => {
      killed = sleep(KILL_AFTER_MS).then(() => {
        answeredBeforeKill = statsCalls.answered;
        settledBeforeKill = settled;
        return sandbox.kill();
      });
    };
    const t0 = Date.now();
    const during = await pass().finally(() => {
      settled = true;
    });
    const took = Date.now() - t0;
    await killed;
    console.log('DURING', took, JSON.stringify({status: during.status, failures: during.failures, summary: during.summary, cleaned: during.cleaned}));

    // then the kill landed inside the sampling, and the pass ended within its bound
    expect(killed, 'the pass never sampled').toBeDefined();
    expect({ settledBeforeKill, answeredBeforeKill }).toEqual({
      settledBeforeKill: false,
      answeredBeforeKill: 0,
    });
    expect(statsCalls.started).toBe(names.length);
    expect(took).toBeLessThan(PASS_BOUND_MS);
    // failed, or done with a failure for each instance it could not sample: readable either way
    if (during.status !== 'failed') {
      expect(during.status).toBe('done');
      expect(during.failures.map((f) => f.instance).sort()).toEqual(names);
    }
    expect(during.failures.length).toBeGreaterThan(0);
    expectReadable(during);
    // and nothing was closed on the strength of a dead engine
    expect(Object.keys(bed.services.store.read().instances).sort()).toEqual(names);

    // when a pass runs while the engine is gone: it fails at once, readably, and changes nothing
    const t1 = Date.now();
    const down = await pass();
    expect(Date.now() - t1).toBeLessThan(PASS_BOUND_MS);
    expect(down.status).toBe('failed');
    expect(down.failures.at(-1)?.error).toMatch(READABLE[1] as RegExp);
    expectReadable(down);
    expect(Object.keys(bed.services.store.read().instances).sort()).toEqual(names);
    // and the ops channel heard of the outage
    expect(notifier.summaries.at(-1)?.status).toBe('failed');

    // when the engine is started again (it stops what ran before) and passes run
    await sandbox.startDaemon();
    const tr = Date.now();
    const { last, left } = await passUntilAgreed(30_000);
    console.log('RECOVER', Date.now()-tr, JSON.stringify({status: last.status, failures: last.failures, summary: last.summary, cleaned: last.cleaned}), JSON.stringify(notifier.summaries.map(s=>s.summary)));
    console.log('DOWN', JSON.stringify(down.summary));

    // then the store holds what Docker holds, and the first good pass said reclaim works again
    expect(left).toEqual([]);
    expect(last.status).toBe('done');
    expectReadable(last);
    const recovered = notifier.summaries.find((s) => s.recovered !== undefined);
    expect(recovered?.summary).toMatch(/^Reclaim works again/);

    // and every pool port is usable: the pool fills with instances that run, consistently
    const after = ['s1', 's2', 's3'].slice(0, bed.services.pool.counts(bed.services.store.read()).free);
    for (const name of after) {
      await bed.services.instances.launch({ actor: alice, template: 'demo', name });
    }
    const ports = Object.values(bed.services.store.read().instances)
      .map((r) => r.port)
      .sort();
    expect(ports).toEqual([PORTS.first, PORTS.first + 1, PORTS.first + 2]);
    expect(await disagreements()).toEqual([]);

    // and once every instance is stopped nothing of the scope is left
    for (const name of Object.keys(bed.services.store.read().instances)) {
      await bed.services.instances.stop(admin, name);
    }
    expect(await noContainersWithin(10_000)).toBe(0);
    const doc = bed.services.store.read();
    expect(Object.keys(doc.instances)).toEqual([]);
    expect(bed.services.pool.counts(doc)).toMatchObject({ total: PORTS.count, free: PORTS.count });
  }, 120_000);
});
