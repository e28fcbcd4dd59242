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
import { containerName, LABEL } from '../../core/labels.ts';
import type { Notifier, ReclaimReport } from '../../core/notifier.ts';
import { DockerEngine } from '../../engine/docker.ts';
import type { ContainerEngine } from '../../engine/types.ts';
import { ManualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import {
  EngineSandbox,
  SANDBOX_QUICK_MS as QUICK_MS,
  showEngineLogOnFailure,
} from '../support/engine-sandbox.ts';
import { admin, alice, bob, buildImage, type TestBed, testBed } from '../support/services.ts';

const SCOPE = 'reclaim-faults';
const PORTS = { first: 24903, count: 3 };
const POOL = `${PORTS.first}-${PORTS.first + PORTS.count - 1}`;
/** What one pass may take with its engine killed under it: the listing, a round of stats (each
 * bounded by QUICK_MS), the store, and slack for a loaded CI machine. */
const PASS_BOUND_MS = 3 * QUICK_MS + 2000;
/** How long after the first stats call of the pass the engine is killed (a stats call waits ~1 s
 * for the engine's collector tick, so this lands while they are in flight). */
const KILL_AFTER_MS = 300;
/** How long after the first remove of a reclaim reaches the engine it is killed: while the
 * removes (a kill and a layer cleanup each) are under way. */
const REMOVE_KILL_AFTER_MS = 30;
const MIN = 60_000;
/** IDLE_TIMEOUT and IDLE_WARNING (the defaults). */
const IDLE_MS = 2 * 60 * MIN;
const GRACE_MS = 15 * MIN;

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
showEngineLogOnFailure(() => sandbox);
let engine: DockerEngine;
let bed: TestBed;
/** The engine calls a test may fault at. */
type Watched = 'stats' | 'remove';
/** Armed by a test: runs once, when the next call of that kind reaches the engine. */
let armed: { method: Watched; run: () => void } | undefined;
/** Calls of each watched kind that reached the engine, and those that answered. */
const calls: Record<Watched, { started: number; answered: number }> = {
  stats: { started: 0, answered: 0 },
  remove: { started: 0, answered: 0 },
};

/** The real engine, watched: a test arms a hook to fault the sandbox at a step of a pass. */
function watched(real: DockerEngine): ContainerEngine {
  const wrap =
    <A extends unknown[], R>(method: Watched, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const hook = armed?.method === method ? armed : undefined;
      if (hook) armed = undefined;
      hook?.run();
      calls[method].started++;
      const result = await fn(...args);
      calls[method].answered++;
      return result;
    };
  return new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === 'stats') return wrap('stats', target.stats.bind(target));
      if (prop === 'remove') return wrap('remove', target.remove.bind(target));
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

/**
 * Runs a pass whose engine is killed -9 `afterMs` after the pass's first `method` call reaches it;
 * says how long the pass took, and what had happened when the kill came.
 */
async function passKilledAt(method: Watched, afterMs: number) {
  let killed: Promise<void> | undefined;
  let settled = false;
  const atKill = { settled: false, started: -1, answered: -1 };
  calls[method] = { started: 0, answered: 0 };
  armed = {
    method,
    run: () => {
      killed = sleep(afterMs).then(() => {
        Object.assign(atKill, { settled, ...calls[method] });
        return sandbox.kill();
      });
    },
  };
  const t0 = Date.now();
  const report = await pass().finally(() => {
    settled = true;
  });
  const ms = Date.now() - t0;
  armed = undefined;
  await killed;
  return { report, ms, killed: killed !== undefined, atKill };
}

/** A pass while the engine is gone: it fails at once, readably, and changes no record. */
async function expectPassFailsWhileDown(): Promise<void> {
  const before = Object.keys(bed.services.store.read().instances).sort();
  const t0 = Date.now();
  const down = await pass();
  expect(Date.now() - t0).toBeLessThan(PASS_BOUND_MS);
  expect(down.status).toBe('failed');
  expect(down.failures.at(-1)?.error).toMatch(READABLE[1] as RegExp);
  expectReadable(down);
  expect(Object.keys(bed.services.store.read().instances).sort()).toEqual(before);
  // and the ops channel heard of the outage
  expect(notifier.summaries.at(-1)).toMatchObject({ status: 'failed', summary: down.summary });
}

/**
 * Starts the engine again (it stops what ran before), runs passes until the store holds what
 * Docker holds, checks the first good pass said reclaim works again, fills the pool with instances
 * that run, stops them all, and checks nothing of the scope is left.
 */
async function expectRecovery(): Promise<void> {
  const told = notifier.summaries.length;
  await sandbox.startDaemon();
  const { last, left } = await passUntilAgreed(30_000);
  expect(left).toEqual([]);
  expect(last.status).toBe('done');
  expectReadable(last);
  expect(notifier.summaries[told]?.summary).toMatch(/^Reclaim works again/);

  // every pool port is usable: the pool fills with instances that run, as the store says
  const free = bed.services.pool.counts(bed.services.store.read()).free;
  for (let i = 0; i < free; i++) {
    await bed.services.instances.launch({ actor: alice, template: 'demo', name: `fill-${i}` });
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
}

/** Launches `names` (the pool's size), alternating owners. */
async function launchAll(names: string[]): Promise<void> {
  for (const [i, name] of names.entries()) {
    await bed.services.instances.launch({ actor: i % 2 ? bob : alice, template: 'demo', name });
  }
}

beforeAll(async () => {
  sandbox = await EngineSandbox.start({ tag: 'rfaults', subnet: 42 });
  engine = new DockerEngine({
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
      // These faults strike while the pass calls the engine's stats API; the host counters
      // (the default on a local socket) would read /proc and never call it.
      SPREADSERVE_SAMPLER: 'stats',
    },
  });
  await buildImage(bed.services);
}, 120_000);

afterAll(async () => {
  armed = undefined;
  await bed?.services.stop();
  await sandbox?.teardown();
}, 60_000);

describe('an engine killed -9 mid-reclaim and started again', () => {
  it('while the pass samples: the pass ends within its bound, readably, and recovery restores the truth', async () => {
    // given the pool full of running instances, and the first pass since start (a baseline) behind them
    const names = ['r1', 'r2', 'r3'];
    await launchAll(names);
    const baseline = await pass();
    expect(baseline).toMatchObject({ status: 'done', baselineOnly: true, failures: [] });
    expect([...baseline.baselined].sort()).toEqual(names);
    expect(await disagreements()).toEqual([]);

    // when a pass starts right after the engine's stats collector ticked (a stats call of our
    // own), and the engine is killed -9 once the pass samples, before the next tick
    await engine.stats(containerName('r1'));
    const { report, ms, killed, atKill } = await passKilledAt('stats', KILL_AFTER_MS);

    // then the kill landed while every stats call was in flight, and the pass ended within its bound
    expect(killed, 'the pass never sampled').toBe(true);
    expect(atKill).toEqual({ settled: false, started: names.length, answered: 0 });
    expect(ms).toBeLessThan(PASS_BOUND_MS);
    // done with a failure for each instance it could not sample, or failed: readable either way
    if (report.status !== 'failed') {
      expect(report.status).toBe('done');
      expect(report.failures.map((f) => f.instance).sort()).toEqual(names);
    }
    expect(report.failures.length).toBeGreaterThan(0);
    expectReadable(report);
    // and nothing was closed on the strength of a dead engine
    expect(Object.keys(bed.services.store.read().instances).sort()).toEqual(names);

    await expectPassFailsWhileDown();
    await expectRecovery();
  }, 180_000);

  it('while the pass stops what it reclaims: the same, whichever stops got through', async () => {
    // given the pool full of instances warned as idle, their grace period over
    const names = ['q1', 'q2', 'q3'];
    await launchAll(names);
    const sampled = await pass();
    expect(sampled).toMatchObject({ status: 'done', failures: [] });
    expect([...sampled.baselined].sort()).toEqual(names);
    clock.advance(IDLE_MS + MIN);
    const warned = await pass();
    expect(warned.actions.map((a) => [a.kind, a.outcome])).toEqual(names.map(() => ['warn', 'done']));
    clock.advance(GRACE_MS);

    // when the pass that reclaims them runs, and the engine is killed -9 while its removes are under way
    const { report, ms, killed, atKill } = await passKilledAt('remove', REMOVE_KILL_AFTER_MS);

    // then the kill came before the pass ended, and the pass ended within its bound
    expect(killed, 'the pass never stopped anything').toBe(true);
    expect(atKill.settled).toBe(false);
    expect(ms).toBeLessThan(PASS_BOUND_MS);
    // each reclaim either went through (record closed) or failed readably (record kept for later)
    const reclaims = report.actions.filter((a) => a.kind === 'reclaim');
    expect(reclaims.map((a) => a.instance).sort()).toEqual(names);
    const records = bed.services.store.read().instances;
    for (const a of reclaims) {
      expect(['done', 'failed']).toContain(a.outcome);
      expect(records[a.instance] === undefined, `${a.instance}: ${a.outcome}`).toBe(a.outcome === 'done');
    }
    expectReadable(report);
    for (const f of report.failures) expect(f.error).toMatch(/^could not stop it: /);

    await expectPassFailsWhileDown();
    await expectRecovery();
  }, 180_000);
});
