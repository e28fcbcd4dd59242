// The core on a real two-node swarm (issue 13; test/support/swarm-fixture.ts builds it): with
// SPREADSERVE_ENGINE=swarm the same launches, lists, logs and stops spread instances over the
// manager (ssmgr) and the worker (sswork), each node with its own table of ports; a port held on
// one node is set aside for that node only; placement constraints steer or refuse launches; a
// killed worker's instances are closed and nothing comes back with it; a restarted bot finds the
// services by their labels; and the reclaim pass samples each node through its own engine, or
// says it cannot. Ports 25380-25399 are this file's (test/bot/swarm.swarm.test.ts has 25400-25419);
// everything carries the scope `swarmcore`.
import { copyFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { replyToText } from '../../cli/text.ts';
import { dispatch } from '../../commands/index.ts';
import { configuredEngine, createServices, type Services } from '../../core/context.ts';
import { LABEL } from '../../core/labels.ts';
import type { Notifier, ReclaimReport, ReclaimWarning } from '../../core/notifier.ts';
import type { Actor } from '../../core/policy.ts';
import { portTable } from '../../core/port-pool.ts';
import type { LostInstance } from '../../core/reconcile.ts';
import type { ContainerEngine } from '../../engine/types.ts';
import { type Clock, ManualClock } from '../../lib/clock.ts';
import { UserError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { BASE_IMAGE, httpGet, waitForHttp200 } from '../support/docker.ts';
import {
  admin,
  alice,
  bob,
  buildImage,
  prepareScope,
  realTemplates,
  testConfig,
} from '../support/services.ts';
import {
  killNode,
  nodeContainers as nodeContainersOf,
  removeLabelled,
  restartNode,
  type SwarmNode,
  swarmEngine,
  untilNoContainers,
  waitForNode,
} from '../support/swarm-fixture.ts';

const swarm = inject('swarm');
const SCOPE = 'swarmcore';
const FIRST = 25380;
const LAST = 25399;
const PORTS = `${FIRST}-${LAST}`;
const MIN = 60_000;
const HOUR = 60 * MIN;
const IDLE = 2 * HOUR; // IDLE_TIMEOUT (default)
const GRACE = 15 * MIN; // IDLE_WARNING (default)
/** What this file starts directly on a node's engine (not through the bot) carries this label. */
const TEST_LABEL = { 'spreadserve.test': SCOPE };

const nodeNamed = (name: string): SwarmNode => {
  const node = swarm.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`the test swarm has no node ${name}`);
  return node;
};
const mgr = nodeNamed('ssmgr');
const wrk = nodeNamed('sswork');
/** The manager's Engine API, and each node's own engine, through dockerode (set-up and checks). */
const manager = swarmEngine(swarm);
const engineOf = (node: SwarmNode): Docker => swarmEngine(swarm, node.name);
const BOTH_ENDPOINTS = `${mgr.name}=${mgr.host},${wrk.name}=${wrk.host}`;

/** The demo template, one pinned to the manager and one whose constraints match no node. */
const templates = realTemplates(SCOPE, {
  pinned: { placement: [`node.hostname==${mgr.name}`] },
  nowhere: { placement: ['node.labels.zone==nowhere'] },
});

type Bed = Awaited<ReturnType<typeof prepareScope>>;
let bed: Bed;
/** The services of the test running now: afterEach stops their instances and them. */
let current: Services | undefined;
let opened = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records what reclaim passes and reconciles tell owners and ops. */
class RecordingNotifier implements Notifier {
  warnings: ReclaimWarning[] = [];
  summaries: ReclaimReport[] = [];
  lost: LostInstance[] = [];
  async tellLost(l: LostInstance) {
    this.lost.push(l);
    return { delivered: true, detail: 'recorded' };
  }
  async warnOwner(w: ReclaimWarning) {
    this.warnings.push(w);
    return { delivered: true, detail: 'recorded' };
  }
  async opsSummary(r: ReclaimReport) {
    this.summaries.push(r);
  }
}

/**
 * The core as the bot builds it with SPREADSERVE_ENGINE=swarm (configuredEngine: a SwarmEngine on
 * the manager, each node's own engine from SPREADSERVE_NODE_ENDPOINTS), on a store file of its
 * own unless `dataFile` is given.
 */
async function open(
  options: {
    env?: Record<string, string>;
    dataFile?: string;
    clock?: Clock;
    notifier?: Notifier;
    /** The bot's schedule and, on Swarm, its node watch (looking every `nodeWatchMs`). */
    scheduled?: boolean;
    nodeWatchMs?: number;
  } = {},
): Promise<Services> {
  const config = testConfig(
    {
      scope: SCOPE,
      ports: PORTS,
      env: {
        SPREADSERVE_ENGINE: 'swarm',
        DOCKER_HOST: swarm.managerHost,
        SPREADSERVE_NODE_ENDPOINTS: BOTH_ENDPOINTS,
        MAX_INSTANCES_PER_USER: '0',
        ...options.env,
      },
    },
    bed.dir,
  );
  config.dataFile = options.dataFile ?? path.join(bed.dir, `store-${++opened}.json`);
  const services = await createServices(config, {
    engine: configuredEngine(config),
    log: silentLogger(),
    templates,
    clock: options.clock,
    notifier: options.notifier,
    scheduled: options.scheduled,
    nodeWatchMs: options.nodeWatchMs,
  });
  current = services;
  return services;
}

const scopeLabel = `${LABEL.scope}=${SCOPE}`;

/** The scope's services on the manager. */
const scopeServices = async () => manager.listServices({ filters: { label: [scopeLabel] } });

/** The containers of the scope (and of this file's own direct ones) on one node's engine. */
const nodeContainers = (node: SwarmNode, label = scopeLabel) => nodeContainersOf(swarm, node.name, label);

/** What this file (or an interrupted earlier run) left: the scope's services and containers, and
 * this file's own direct containers. */
const removeLeftovers = () => removeLabelled(swarm, scopeLabel, [`spreadserve.test=${SCOPE}`]);

const as = (services: Services, actor: Actor) => async (text: string) =>
  replyToText(await dispatch(text, { actor, services, prefix: '', log: services.log }));

/** The entry of a port in a node's table of the store (undefined: free there). */
const portOn = (services: Services, node: SwarmNode, port: number) =>
  portTable(services.store.read(), node.id)[port];

/** One reclaim pass, as the schedule runs it. */
const pass = (services: Services) => services.reclaimer.run({ trigger: 'schedule', dryRun: false });

/** The node id of the running task of an instance's service, as the manager reports it. */
async function taskNodeOf(instance: string): Promise<string | undefined> {
  const tasks: { NodeID?: string; Status?: { State?: string } }[] = await manager.listTasks({
    filters: { service: [`spreadserve-${instance}`], 'desired-state': ['running'] },
  });
  return tasks.find((t) => t.Status?.State === 'running')?.NodeID;
}

beforeAll(async () => {
  bed = await prepareScope({ scope: SCOPE, ports: PORTS, templates });
  await removeLeftovers();
  // The demo image, built through the bot on the manager's own engine (builds run there); the
  // engine copies it to the worker the first time an instance is placed there.
  const builder = await open();
  await buildImage(builder, 'demo');
  await builder.stop();
  current = undefined;
}, 300_000);

afterEach(async () => {
  const services = current;
  current = undefined;
  if (services) {
    for (const name of Object.keys(services.store.read().instances)) {
      await services.instances.stop(admin, name).catch(() => undefined);
    }
    await services.stop();
  }
  await removeLeftovers();
}, 120_000);

afterAll(async () => {
  await removeLeftovers();
  // then nothing of the scope is left on the swarm
  expect(await scopeServices()).toEqual([]);
  for (const node of swarm.nodes) expect(await nodeContainers(node)).toEqual([]);
  await bed?.cleanup();
  rmSync(bed.dir, { recursive: true, force: true });
}, 120_000);

describe('the core on a two-node swarm', () => {
  it('spreads launches over both nodes, one port table per node, and lists, logs and stops them', async () => {
    // given the core on the swarm, both nodes with an engine endpoint
    const services = await open();
    const t0 = Date.now();
    // when three instances launch one after the other
    const one = await services.instances.launch({ actor: alice, name: 'one' });
    const two = await services.instances.launch({ actor: alice, name: 'two' });
    const three = await services.instances.launch({ actor: bob, name: 'three' });
    console.log(`swarm core: three launches in ${Date.now() - t0} ms`);

    // then the fewest-first rule puts them on ssmgr, sswork, ssmgr (ties by name)
    expect([one, two, three].map((r) => r.node?.name)).toEqual([mgr.name, wrk.name, mgr.name]);
    expect(one.node).toEqual({ id: mgr.id, name: mgr.name, address: mgr.address });
    expect(two.node).toEqual({ id: wrk.id, name: wrk.name, address: wrk.address });
    // and the manager runs each task on the node the record names
    for (const r of [one, two, three]) expect(await taskNodeOf(r.name)).toBe(r.node?.id);
    // and the first instance on each node got the pool's first port: one table per node
    expect([one.port, two.port, three.port]).toEqual([FIRST, FIRST, FIRST + 1]);
    expect(portOn(services, mgr, FIRST)).toMatchObject({ state: 'in-use', instance: 'one' });
    expect(portOn(services, wrk, FIRST)).toMatchObject({ state: 'in-use', instance: 'two' });
    expect(services.store.read().ports).toEqual({}); // the one-host table stays empty
    // and `templates` says how images reach the nodes: copied to both (each has an endpoint)
    expect(await as(services, alice)('templates')).toContain(
      `Images are copied from the swarm manager to ${[mgr.name, wrk.name].sort().join(', ')} before their first instance there`,
    );

    // and each URL is the node's address and answers from the host, the same port on two nodes at once
    expect(services.instances.url(one)).toBe(`http://${mgr.address}:${FIRST}`);
    expect(services.instances.url(two)).toBe(`http://${wrk.address}:${FIRST}`);
    for (const r of [one, two, three]) {
      await waitForHttp200(`${services.instances.url(r)}/`, { deadlineMs: 20_000, tries: 200 });
    }

    // when `list all` is typed
    const listed = await as(services, admin)('list all');
    // then each instance's line names its node and its node's URL
    for (const r of [one, two, three]) {
      const line =
        listed.split('\n').find((l) => l.includes(r.name)) ?? `no line for ${r.name} in:\n${listed}`;
      expect(line).toContain(r.node?.name ?? 'a node');
      expect(line).toContain(services.instances.url(r));
    }

    // and `status` counts each node's instances and every node's ports
    const status = await services.health.status();
    expect(status.nodes?.map((n) => [n.name, n.available, n.instances]).sort()).toEqual([
      [mgr.name, true, 2],
      [wrk.name, true, 1],
    ]);
    expect(status.ports).toMatchObject({ total: 2 * (LAST - FIRST + 1), inUse: 3, reserved: 0 });

    // when the owner asks for the logs of the instance on the worker
    const logs = await as(services, alice)('logs two');
    // then they come from its service, wherever it runs
    expect(logs).toMatch(/dbaseweb: SpreadServe 0\.3\.1 on port 80, .*instance two, owner UALICE/);

    // when an admin saves it as a template (its container is on the worker)
    const saved = await as(services, admin)('save two --as twosnap');
    // then it is committed there and the image reaches the manager, from which launches take it
    expect(saved).toMatch(/^Saved two as template twosnap \(/);
    const snap = services.snapshots.saved.get('twosnap');
    expect(snap).toBeDefined();
    expect((await manager.getImage(snap?.template.image ?? '-').inspect()).Id).toMatch(/^sha256:/);
    // and a launch of it goes to the least busy node and serves
    const copy = await services.instances.launch({ actor: alice, template: 'twosnap', name: 'copy' });
    await waitForHttp200(`${services.instances.url(copy)}/`, { deadlineMs: 20_000, tries: 200 });
    await services.instances.stop(alice, 'copy');

    // when the instance on the worker stops
    const stopped = await as(services, alice)('stop two');
    expect(stopped).not.toMatch(/^Error/);
    // then its service is gone, its port on that node free, the manager's same port still in use
    expect((await scopeServices()).map((s) => s.Spec?.Name).sort()).toEqual([
      'spreadserve-one',
      'spreadserve-three',
    ]);
    expect(portOn(services, wrk, FIRST)).toBeUndefined();
    expect(portOn(services, mgr, FIRST)).toMatchObject({ state: 'in-use', instance: 'one' });
    expect(await httpGet(`http://${wrk.address}:${FIRST}/`, 1000)).toBeNull();

    // when another instance launches
    const four = await services.instances.launch({ actor: bob, name: 'four' });
    // then it goes to the worker (fewest instances) and reuses the port freed there
    expect(four.node?.name).toBe(wrk.name);
    expect(four.port).toBe(FIRST);
    await waitForHttp200(`${services.instances.url(four)}/`, { deadlineMs: 20_000, tries: 200 });
  }, 240_000);

  it('sets a port held on the worker aside for the worker only, and uses the next one there', async () => {
    // given the pool's first port held on the worker by a container started on its own engine
    const holder = await engineOf(wrk).createContainer({
      Image: BASE_IMAGE,
      Cmd: ['httpd', '-f', '-p', '80'],
      Labels: TEST_LABEL,
      HostConfig: { PortBindings: { '80/tcp': [{ HostPort: String(FIRST) }] } },
      ExposedPorts: { '80/tcp': {} },
    });
    await holder.start();
    const services = await open();
    // and one instance on the manager, so the next launch goes to the worker
    const anchor = await services.instances.launch({ actor: alice, name: 'anchor' });
    expect([anchor.node?.name, anchor.port]).toEqual([mgr.name, FIRST]);

    // when an instance launches on the worker
    const progress: string[] = [];
    const clash = await services.instances.launch({
      actor: alice,
      name: 'clash',
      onProgress: (line) => progress.push(line),
    });

    // then it runs on the worker on the next port, and answers there
    expect(clash.node?.name).toBe(wrk.name);
    expect(clash.port).toBe(FIRST + 1);
    await waitForHttp200(`http://${wrk.address}:${FIRST + 1}/`, { deadlineMs: 20_000, tries: 200 });
    expect(progress).toContain(`Port ${FIRST} is held by another process; trying ${FIRST + 1}.`);
    // and the held port is set aside in the worker's table only; the manager's same port stays in use
    expect(portOn(services, wrk, FIRST)).toMatchObject({ state: 'set-aside' });
    expect(portOn(services, wrk, FIRST + 1)).toMatchObject({ state: 'in-use', instance: 'clash' });
    expect(portOn(services, mgr, FIRST)).toMatchObject({ state: 'in-use', instance: 'anchor' });
    expect((await services.health.status()).ports.setAside).toEqual([FIRST]);
    // and the audit says which port of which node
    const setAside = services.store.read().audit.filter((e) => e.action === 'set-aside');
    expect(setAside.map((e) => [e.instance, e.reason])).toEqual([
      ['clash', `port ${FIRST} on node ${wrk.name}`],
    ]);
    // and no service of the failed try is left: only the two instances
    expect((await scopeServices()).map((s) => s.Spec?.Name).sort()).toEqual([
      'spreadserve-anchor',
      'spreadserve-clash',
    ]);
    // and the holder was never touched
    expect((await holder.inspect()).State.Running).toBe(true);

    // when the manager gets a second instance
    const second = await services.instances.launch({ actor: bob, name: 'second' });
    // then the manager's port after the first is taken normally (its first is anchor's, none set aside there)
    expect([second.node?.name, second.port]).toEqual([mgr.name, FIRST + 1]);
  }, 240_000);

  it('places by SPREADSERVE_PLACEMENT and by a template, and refuses constraints no node meets', async () => {
    // given the core with every instance constrained to workers
    const services = await open({ env: { SPREADSERVE_PLACEMENT: 'node.role==worker' } });
    // when two demo instances launch
    const a = await services.instances.launch({ actor: alice, name: 'placed-a' });
    const b = await services.instances.launch({ actor: alice, name: 'placed-b' });
    // then both run on sswork, though the manager has none
    expect([a.node?.name, b.node?.name]).toEqual([wrk.name, wrk.name]);
    expect(await taskNodeOf('placed-a')).toBe(wrk.id);
    expect(await taskNodeOf('placed-b')).toBe(wrk.id);
    expect([a.port, b.port].sort()).toEqual([FIRST, FIRST + 1]);

    // when a template whose own placement names the manager launches
    const pinned = await services.instances.launch({ actor: alice, template: 'pinned', name: 'pinned-a' });
    // then its placement replaces the configured one: it runs on ssmgr
    expect(pinned.node?.name).toBe(mgr.name);
    expect(await taskNodeOf('pinned-a')).toBe(mgr.id);
    await waitForHttp200(`${services.instances.url(pinned)}/`, { deadlineMs: 20_000, tries: 200 });

    // when a template whose constraints match no node launches
    const before = JSON.stringify(services.store.read().nodePorts);
    const servicesBefore = (await scopeServices()).length;
    const refused = await services.instances
      .launch({ actor: alice, template: 'nowhere', name: 'nowhere-a' })
      .then(
        () => new Error('the launch was not refused'),
        (err: unknown) => err,
      );
    // then it is refused with one readable sentence
    expect(refused).toBeInstanceOf(UserError);
    const sentence = (refused as UserError).message;
    expect(sentence).toMatch(
      /^No swarm node may run template nowhere \(its placement constraints match none\)/,
    );
    expect(sentence.split(/\.\s/)).toHaveLength(1);
    expect(sentence).toMatch(/\.$/);
    // and through the command, the same sentence
    expect(await as(services, alice)('launch nowhere --name nowhere-b')).toBe(`Error: ${sentence}`);
    // and nothing is left: no record, no port, no service
    expect(services.store.read().instances['nowhere-a']).toBeUndefined();
    expect(services.store.read().instances['nowhere-b']).toBeUndefined();
    expect(JSON.stringify(services.store.read().nodePorts)).toBe(before);
    expect((await scopeServices()).length).toBe(servicesBefore);
  }, 240_000);

  it('closes the instances of a killed worker, frees their ports, and brings nothing back with it', async () => {
    // given an instance on the worker and one on the manager
    const notifier = new RecordingNotifier();
    const services = await open({ notifier });
    const kept = await services.instances.launch({ actor: alice, name: 'kept' });
    const lost = await services.instances.launch({ actor: alice, name: 'lost' });
    expect([kept.node?.name, lost.node?.name]).toEqual([mgr.name, wrk.name]);
    await waitForHttp200(`${services.instances.url(lost)}/`, { deadlineMs: 20_000, tries: 200 });

    // when the worker's dockerd is killed
    await killNode(swarm, wrk.name);
    const killedAt = Date.now();
    try {
      // then within 30 s a reconcile pass closes its instance
      const reports = [];
      while (services.store.read().instances.lost && Date.now() - killedAt < 30_000) {
        reports.push(await services.reconcile({ atStart: false }));
        if (services.store.read().instances.lost) await sleep(500);
      }
      const closedMs = Date.now() - killedAt;
      console.log(`swarm core: a killed worker's instance closed ${closedMs} ms after kill -9`);
      expect(services.store.read().instances.lost).toBeUndefined();
      const exited = reports.flatMap((r) => r.exited);
      expect(exited).toEqual([{ instance: 'lost', status: `Lost: node ${wrk.name} is down` }]);
      // and its port on the worker is free; the manager's instance is untouched
      expect(portOn(services, wrk, lost.port)).toBeUndefined();
      expect(services.store.read().instances.kept?.state).toBe('running');
      expect(portOn(services, mgr, kept.port)).toMatchObject({ state: 'in-use', instance: 'kept' });
      // and the close is audited, by the schedule, with why
      const closed = services.store.read().audit.filter((e) => e.instance === 'lost' && e.action === 'close');
      expect(closed.map((e) => [e.actor, e.reason])).toEqual([
        ['schedule', `its container had exited (Lost: node ${wrk.name} is down)`],
      ]);
      // and the pass reports it lost, and its owner is told (in the background, bounded here)
      const lostReport = { instance: 'lost', owner: alice.id, template: 'demo', node: wrk.name };
      expect(reports.flatMap((r) => r.lost)).toEqual([
        { ...lostReport, why: `Lost: node ${wrk.name} is down` },
      ]);
      for (let i = 0; i < 50 && notifier.lost.length === 0; i++) await sleep(100);
      expect(notifier.lost).toEqual([{ ...lostReport, why: `Lost: node ${wrk.name} is down` }]);
      // and its service is gone from the swarm
      expect((await scopeServices()).map((s) => s.Spec?.Name)).toEqual(['spreadserve-kept']);
      // and while the worker is down, status says so and a launch goes to the manager
      const status = await services.health.status();
      expect(status.nodes?.find((n) => n.name === wrk.name)?.available).toBe(false);
      const meanwhile = await services.instances.launch({ actor: bob, name: 'meanwhile' });
      expect(meanwhile.node?.name).toBe(mgr.name);
    } finally {
      // when the worker's dockerd starts again
      await restartNode(swarm, wrk.name);
    }
    const readyMs = await waitForNode(swarm, wrk.name, 'ready', 60_000);
    console.log(`swarm core: the worker Ready again ${readyMs} ms after its restart`);

    // then, once its engine has caught up (bounded), no container of the scope is left on it
    const left = await untilNoContainers(swarm, wrk.name, scopeLabel);
    expect(left.map((c) => [c.Names, c.State])).toEqual([]);
    // and nothing came back: no service, no record, nothing for a reconcile to adopt, nothing answers
    expect((await scopeServices()).map((s) => s.Spec?.Name).sort()).toEqual([
      'spreadserve-kept',
      'spreadserve-meanwhile',
    ]);
    const after = await services.reconcile({ atStart: false });
    expect([after.adopted, after.closed, after.exited]).toEqual([[], [], []]);
    expect(Object.keys(services.store.read().instances).sort()).toEqual(['kept', 'meanwhile']);
    expect(await httpGet(`http://${wrk.address}:${lost.port}/`, 1000)).toBeNull();
    // and the worker takes new instances again (fewest first), on the port freed there
    const back = await services.instances.launch({ actor: bob, name: 'back' });
    expect([back.node?.name, back.port]).toEqual([wrk.name, lost.port]);
    await waitForHttp200(`${services.instances.url(back)}/`, { deadlineMs: 20_000, tries: 200 });
  }, 300_000);

  it('closes the instances of a drained worker once its task is gone, frees their ports, and places nothing there', async () => {
    const availability = async (value: 'drain' | 'active') => {
      const node = await manager.getNode(wrk.id).inspect();
      await manager
        .getNode(wrk.id)
        .update({ version: node.Version.Index, ...node.Spec, Availability: value });
    };
    // given an instance on each node
    const notifier = new RecordingNotifier();
    const services = await open({ notifier });
    const kept = await services.instances.launch({ actor: alice, name: 'stays' });
    const drained = await services.instances.launch({ actor: alice, name: 'drained' });
    expect([kept.node?.name, drained.node?.name]).toEqual([mgr.name, wrk.name]);

    // when an operator drains the worker
    await availability('drain');
    const drainedAt = Date.now();
    try {
      // then within 30 s a reconcile closes its instance (Swarm shuts its task down; restart none)
      while (services.store.read().instances.drained && Date.now() - drainedAt < 30_000) {
        await services.reconcile({ atStart: false });
        if (services.store.read().instances.drained) await sleep(500);
      }
      console.log(
        `swarm core: a drained worker's instance closed ${Date.now() - drainedAt} ms after the drain`,
      );
      expect(services.store.read().instances.drained).toBeUndefined();
      // and its port on the worker is free, the manager's instance untouched, the owner told
      expect(portOn(services, wrk, drained.port)).toBeUndefined();
      expect(services.store.read().instances.stays?.state).toBe('running');
      for (let i = 0; i < 50 && notifier.lost.length === 0; i++) await sleep(100);
      expect(notifier.lost.map((l) => [l.instance, l.node])).toEqual([['drained', wrk.name]]);
      // and its container is gone from the worker (bounded), nothing answers there
      expect(await untilNoContainers(swarm, wrk.name, scopeLabel)).toEqual([]);
      expect(await httpGet(`http://${wrk.address}:${drained.port}/`, 1000)).toBeNull();
      // and while it is drained, no launch goes there: status says it takes no instances
      const next = await services.instances.launch({ actor: bob, name: 'next' });
      expect(next.node?.name).toBe(mgr.name);
      const status = await services.health.status();
      expect(status.nodes?.find((n) => n.name === wrk.name)?.available).toBe(false);
    } finally {
      await availability('active');
    }
    // and once it is active again it takes the next launch, on the port freed there
    const back = await services.instances.launch({ actor: bob, name: 'after' });
    expect([back.node?.name, back.port]).toEqual([wrk.name, drained.port]);
  }, 240_000);

  it('finds the services of a bot restarted mid-launch by their labels, with their nodes', async () => {
    // given a bot whose store is copied as it stands in the middle of a launch (record `starting`,
    // service created), and a copy from before that launch (no record at all)
    const first = await open();
    const dataFile = first.config.dataFile;
    const before = path.join(bed.dir, 'before-launch.json');
    const midway = path.join(bed.dir, 'mid-launch.json');
    await first.instances.launch({ actor: alice, name: 'earlier' }); // on ssmgr
    await first.store.flushed();
    copyFileSync(dataFile, before);
    const adoptee = await first.instances.launch({ actor: bob, name: 'adoptee' }); // on sswork
    await first.store.flushed();
    copyFileSync(dataFile, midway); // overwritten mid-launch below
    const interrupted = await first.instances.launch({
      actor: bob,
      name: 'interrupted',
      onProgress: (line) => {
        // The starting record is on disk (store.update resolves once written) and the service exists.
        if (line.startsWith('Container started')) copyFileSync(dataFile, midway);
      },
    });
    expect([adoptee.node?.name, interrupted.node?.name]).toEqual([wrk.name, mgr.name]);
    // and the bot stopped, its instances left running (as a crash or a restart leaves them)
    await first.stop();
    current = undefined;

    // when a bot starts on the store from before the launch of `adoptee` and `interrupted`
    const restarted = await open({ dataFile: before });
    const adoptedReport = await restarted.reconcile({ atStart: true });
    // then it adopts both services it has no record of, each with the node it runs on
    expect(adoptedReport.adopted.sort()).toEqual(['adoptee', 'interrupted']);
    const doc = restarted.store.read();
    expect(doc.instances.adoptee).toMatchObject({
      owner: bob.id,
      template: 'demo',
      port: adoptee.port,
      state: 'running',
      node: { id: wrk.id, name: wrk.name, address: wrk.address },
    });
    expect(doc.instances.interrupted?.node).toEqual({ id: mgr.id, name: mgr.name, address: mgr.address });
    // and their ports are in use on their own nodes' tables
    expect(portOn(restarted, wrk, adoptee.port)).toMatchObject({ state: 'in-use', instance: 'adoptee' });
    expect(portOn(restarted, mgr, interrupted.port)).toMatchObject({
      state: 'in-use',
      instance: 'interrupted',
    });
    // and the adopted instance's URL is its node's and answers
    expect(restarted.instances.url(doc.instances.adoptee ?? adoptee)).toBe(
      `http://${wrk.address}:${adoptee.port}`,
    );
    await waitForHttp200(`http://${wrk.address}:${adoptee.port}/`, { deadlineMs: 20_000, tries: 200 });
    await restarted.stop();
    current = undefined;

    // when a bot starts instead on the store as it stood mid-launch (`interrupted` starting)
    const resumed = await open({ dataFile: midway });
    expect(resumed.store.read().instances.interrupted?.state).toBe('starting');
    const report = await resumed.reconcile({ atStart: true });
    // then the launch that died with the earlier process is undone: service removed, record closed, port freed
    expect(report.closed).toEqual(['interrupted']);
    expect(resumed.store.read().instances.interrupted).toBeUndefined();
    expect(portOn(resumed, mgr, interrupted.port)).toBeUndefined();
    expect((await scopeServices()).map((s) => s.Spec?.Name).sort()).toEqual([
      'spreadserve-adoptee',
      'spreadserve-earlier',
    ]);
    const closed = resumed.store
      .read()
      .audit.find((e) => e.instance === 'interrupted' && e.action === 'close');
    expect(closed?.reason).toBe('its launch was interrupted');
    // and the instances it knew stay, on their nodes
    expect(Object.keys(resumed.store.read().instances).sort()).toEqual(['adoptee', 'earlier']);
  }, 300_000);

  it('warns and reclaims an idle instance on the worker through its engine, and keeps a busy one', async () => {
    // given two instances on the worker, sampled through its own engine
    const clock = new ManualClock();
    const notifier = new RecordingNotifier();
    const services = await open({
      env: { SPREADSERVE_PLACEMENT: `node.hostname==${wrk.name}` },
      clock,
      notifier,
    });
    // the first pass after a start only takes a baseline
    expect((await pass(services)).baselineOnly).toBe(true);
    const idle = await services.instances.launch({ actor: alice, name: 'idle' });
    const busy = await services.instances.launch({ actor: alice, name: 'busy' });
    expect([idle.node?.name, busy.node?.name]).toEqual([wrk.name, wrk.name]);
    const traffic = async () => {
      // 24 page loads (~29 KiB sent by the instance): use, above the 16 KiB floor; bounded
      for (let i = 0; i < 24; i++) {
        expect((await httpGet(`${services.instances.url(busy)}/`, 2_000))?.status).toBe(200);
      }
    };
    expect((await pass(services)).baselined.sort()).toEqual(['busy', 'idle']);
    expect((await services.health.status()).reclaim.sampler).not.toMatch(/time limits only/);

    // when IDLE_TIMEOUT goes by, the busy one used in the meantime
    clock.advance(IDLE + MIN);
    await traffic();
    const warned = await pass(services);
    // then the idle one is warned, the busy one counts as used
    expect(warned.failures).toEqual([]);
    expect(warned.actions.map((a) => [a.kind, a.instance, a.outcome])).toEqual([['warn', 'idle', 'done']]);
    expect(warned.active).toEqual(['busy']);
    expect(notifier.warnings.map((w) => [w.instance, w.url])).toEqual([
      ['idle', services.instances.url(idle)],
    ]);

    // when IDLE_WARNING goes by, the busy one used again
    clock.advance(GRACE + MIN);
    await traffic();
    const reclaimed = await pass(services);
    // then the idle one is reclaimed: service gone, its port on the worker free; the busy one runs on
    expect(reclaimed.actions.map((a) => [a.kind, a.instance, a.outcome])).toEqual([
      ['reclaim', 'idle', 'done'],
    ]);
    expect(reclaimed.active).toEqual(['busy']);
    expect(services.store.read().instances.idle).toBeUndefined();
    expect(portOn(services, wrk, idle.port)).toBeUndefined();
    expect((await scopeServices()).map((s) => s.Spec?.Name)).toEqual(['spreadserve-busy']);
    expect(services.store.read().instances.busy?.warning).toBeUndefined();
    await waitForHttp200(`${services.instances.url(busy)}/`, { deadlineMs: 10_000 });
  }, 240_000);

  it("closes a lost worker's instance by the bot's node watch within seconds, and tells its owner", async () => {
    // given the bot as it runs (scheduled, with the node watch looking every second) and an instance on the worker
    const notifier = new RecordingNotifier();
    const services = await open({
      env: { SPREADSERVE_PLACEMENT: `node.hostname==${wrk.name}` },
      notifier,
      scheduled: true,
      nodeWatchMs: 1_000,
    });
    await services.start();
    const watched = await services.instances.launch({ actor: alice, name: 'watched' });
    expect(watched.node?.name).toBe(wrk.name);
    await waitForHttp200(`${services.instances.url(watched)}/`, { deadlineMs: 20_000, tries: 200 });

    // when the worker's dockerd is killed, and nobody runs a pass or a reconcile
    await killNode(swarm, wrk.name);
    const killedAt = Date.now();
    try {
      // then within 30 s the watch has closed the instance and freed its port on the worker
      while (services.store.read().instances.watched && Date.now() - killedAt < 30_000) await sleep(200);
      const closedMs = Date.now() - killedAt;
      console.log(
        `swarm core: the node watch closed a killed worker's instance ${closedMs} ms after kill -9`,
      );
      expect(services.store.read().instances.watched).toBeUndefined();
      expect(portOn(services, wrk, watched.port)).toBeUndefined();
      // and its owner is told, naming the node
      for (let i = 0; i < 100 && notifier.lost.length === 0; i++) await sleep(100);
      expect(notifier.lost).toEqual([
        {
          instance: 'watched',
          owner: alice.id,
          template: 'demo',
          node: wrk.name,
          why: `Lost: node ${wrk.name} is down`,
        },
      ]);
      // and the audit trail has it
      const trail = services.store.read().audit.filter((e) => e.instance === 'watched');
      expect(trail.map((e) => [e.action, e.actor])).toEqual([
        ['launch', alice.id],
        ['close', 'schedule'],
      ]);
    } finally {
      await restartNode(swarm, wrk.name);
    }
    await waitForNode(swarm, wrk.name, 'ready', 60_000);
    // and after the worker is back nothing returns
    const left = await untilNoContainers(swarm, wrk.name, scopeLabel);
    expect(left.map((c) => [c.Names, c.State])).toEqual([]);
    expect(await scopeServices()).toEqual([]);
    expect(services.store.read().instances).toEqual({});
    // and ops heard of it: exactly one pass the watch ran says it closed it (a pass started on the
    // first sign may list the task before the manager ends it; the next look's pass closes it)
    const summaries = notifier.summaries.map((r) => r.summary);
    expect(summaries.filter((t) => /closed 1 whose container was gone or had exited/.test(t))).toHaveLength(
      1,
    );
    expect(summaries.length).toBeLessThanOrEqual(2);
  }, 240_000);

  it('answers every other command on the swarm as on one engine', async () => {
    // given an instance of alice's on the swarm
    const services = await open();
    await services.instances.launch({ actor: alice, name: 'cmds' });
    const ok = (reply: string) => expect(reply).not.toMatch(/^Error/);

    // when the commands the other tests do not type are typed, each works
    expect(await as(services, alice)('help')).toMatch(/launch/);
    ok(await as(services, alice)('extend cmds 1h'));
    ok(await as(services, alice)('give cmds <@UBOB>'));
    expect(services.store.read().instances.cmds?.owner).toBe(bob.id);
    expect(await as(services, admin)('history cmds')).toMatch(/give/);
    expect(await as(services, admin)('usage all')).toMatch(/launch/i);
    expect(await as(services, admin)('reclaim --dry-run')).toMatch(/Dry run|First pass/);
    ok(await as(services, admin)('build demo'));
    // and the new owner stops it
    ok(await as(services, bob)('stop cmds'));
    expect(await scopeServices()).toEqual([]);
  }, 240_000);

  it('judges a node with no engine endpoint by time limits only, and says so in status', async () => {
    // given the core with an endpoint for the manager only, and an instance on the worker
    const clock = new ManualClock();
    const notifier = new RecordingNotifier();
    const services = await open({
      env: {
        SPREADSERVE_NODE_ENDPOINTS: `${mgr.name}=${mgr.host}`,
        SPREADSERVE_PLACEMENT: `node.hostname==${wrk.name}`,
      },
      clock,
      notifier,
    });
    const blind = await services.instances.launch({ actor: alice, name: 'blind' });
    expect(blind.node?.name).toBe(wrk.name);

    // when status is asked
    const listings = vi.spyOn(services.engine as Required<Pick<ContainerEngine, 'nodes'>>, 'nodes');
    const status = await services.health.status();
    // then the nodes are listed once, for the nodes' lines and the sampler's words alike
    expect(listings).toHaveBeenCalledTimes(1);
    listings.mockRestore();
    expect(status.nodes?.map((n) => n.name).sort()).toEqual([mgr.name, wrk.name].sort());
    // and its sampler text says the worker has time limits only, and why
    expect(status.reclaim.sampler).toMatch(new RegExp(`none for ${wrk.name}: time limits only there`));
    expect(status.reclaim.sampler).not.toMatch(new RegExp(`none for [^:]*${mgr.name}`));
    expect(await as(services, admin)('status')).toContain(`none for ${wrk.name}: time limits only there`);
    // and `templates` says the worker gets no image copies: it must hold them already
    expect(await as(services, admin)('templates')).toContain(`${wrk.name} must hold them already`);

    // when IDLE_TIMEOUT and IDLE_WARNING go by with passes in between
    await pass(services);
    await pass(services);
    clock.advance(IDLE + MIN);
    const later = await pass(services);
    clock.advance(GRACE + MIN);
    const last = await pass(services);
    // then it is neither warned nor reclaimed, and no pass counts it as a failure
    for (const r of [later, last]) {
      expect(r.actions).toEqual([]);
      expect(r.failures).toEqual([]);
    }
    expect(notifier.warnings).toEqual([]);
    expect(services.store.read().instances.blind?.state).toBe('running');
    await waitForHttp200(`${services.instances.url(blind)}/`, { deadlineMs: 10_000 });
  }, 240_000);
});
