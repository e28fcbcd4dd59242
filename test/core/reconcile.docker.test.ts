// Reconcile racing launches and stops, and containers left behind by launches that died. The real
// engine is wrapped only to hold or serve one call at a chosen moment (the engine boundary), so
// each interleaving happens the same way on every run.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LABEL, managedFilter } from '../../core/labels.ts';
import { ORPHAN_AFTER_MS } from '../../core/reconcile.ts';
import { DockerEngine } from '../../engine/docker.ts';
import type { ContainerEngine, ContainerSummary, ImageInfo, Labels } from '../../engine/types.ts';
import { ManualClock } from '../../lib/clock.ts';
import { BASE_IMAGE, dockerSync, removeByLabel, scopeContainers, waitForHttp200 } from '../support/docker.ts';
import { admin, alice, bob, buildImage, type TestBed, testBed } from '../support/services.ts';

const SCOPE = 'test-reconcile';
const OTHER_SCOPE = 'test-reconcile-other';
const FIRST = 24800;
const LAST = 24819;
const MIN = 60_000;

const clock = new ManualClock(Date.now());
const real = new DockerEngine();

/** One pending engine call: `reached` resolves when it is made, `release` lets it answer. */
interface Hold {
  reached: Promise<void>;
  release: () => void;
}

/** Replaces the next `list` (or `inspectImage`) answer's delivery; unset, calls pass straight through. */
const next: {
  list?: (labels: Labels) => Promise<ContainerSummary[]>;
  inspectImage?: (info: ImageInfo | null) => Promise<ImageInfo | null>;
} = {};

const engine: ContainerEngine = Object.assign(Object.create(real), {
  list: (labels: Labels) => {
    const hook = next.list;
    next.list = undefined;
    return hook ? hook(labels) : real.list(labels);
  },
  inspectImage: async (tag: string) => {
    const info = await real.inspectImage(tag);
    const hook = next.inspectImage;
    next.inspectImage = undefined;
    return hook ? hook(info) : info;
  },
});

function hold(): Hold & { wait: () => Promise<void> } {
  let reach!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => {
    reach = r;
  });
  const released = new Promise<void>((r) => {
    release = r;
  });
  return {
    reached,
    release,
    wait: () => {
      reach();
      return released;
    },
  };
}

let bed: TestBed;
const store = () => bed.services.store.read();
const docker = dockerSync;

/** A container of `scope` made with `docker create` (never started), run until it exits, or left
 * running; its labels complete (so reconcile could adopt it), its port label unused unless given. */
function container(
  scope: string,
  instance: string,
  how: 'created' | 'exited' | 'running',
  port = LAST - 1,
): string {
  const labels = {
    ...managedFilter(scope),
    [LABEL.instance]: instance,
    [LABEL.owner]: 'UCAROL',
    [LABEL.template]: 'demo',
    [LABEL.port]: String(port),
  };
  const flags = Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  const name = `spreadserve-${instance}-${scope}`;
  if (how === 'created') return docker('create', '--name', name, ...flags, BASE_IMAGE, 'sleep', '300');
  if (how === 'running') return docker('run', '-d', '--name', name, ...flags, BASE_IMAGE, 'sleep', '300');
  docker('run', '--name', name, ...flags, BASE_IMAGE, 'true');
  return docker('inspect', '--format', '{{.Id}}', name);
}

const exists = (id: string) => docker('ps', '-aq', '--no-trunc', '--filter', `id=${id}`) !== '';

async function stopAll(): Promise<void> {
  for (const name of Object.keys(store().instances))
    await bed.services.instances.stop(admin, name).catch(() => undefined);
}

beforeAll(async () => {
  await removeByLabel({ [LABEL.scope]: OTHER_SCOPE });
  bed = await testBed({
    scope: SCOPE,
    ports: `${FIRST}-${LAST}`,
    engine,
    clock,
    env: { MAX_INSTANCES_PER_USER: '0' },
  });
  await buildImage(bed.services, 'demo');
});

beforeEach(async () => {
  next.list = undefined;
  next.inspectImage = undefined;
  clock.set(Date.now());
  await stopAll();
  await removeByLabel({ [LABEL.scope]: SCOPE });
});

afterAll(async () => {
  await removeByLabel({ [LABEL.scope]: OTHER_SCOPE });
  await bed?.cleanup();
});

describe('reconcile racing a launch', () => {
  it('leaves a launch alone from the update that reserves its port, while that write is in flight', async () => {
    // given a running instance beside, and what Docker lists before the launch (no container yet)
    const bystander = await bed.services.instances.launch({ actor: bob, name: 'bystander' });
    const listed = await real.list(managedFilter(SCOPE));

    // when a launch is held just before its reservation, then let go...
    const imageChecked = hold();
    next.inspectImage = async (info) => {
      await imageChecked.wait();
      return info;
    };
    const launch = bed.services.instances.launch({ actor: alice, name: 'racer' });
    await imageChecked.reached;
    imageChecked.release();
    // ...and a reconcile starts the moment the reservation is in the document, its write not yet
    // on disk (microtasks only from here to reconcile's own update: no I/O can complete between),
    // with Docker's answer served from the listing above (the racer has no container yet)
    for (let i = 0; i < 10_000 && !store().instances.racer; i++) await Promise.resolve();
    expect(store().instances.racer).toMatchObject({ state: 'starting', port: FIRST + 1 });
    next.list = async () => listed;
    const report = await bed.services.reconcile({ atStart: false });

    // then reconcile closed nothing and freed no port
    expect(report).toMatchObject({ closed: [], exited: [], orphans: [], freedPorts: [], adopted: [] });
    expect(store().ports[FIRST + 1]).toMatchObject({ instance: 'racer' });

    // and a launch refused for the same name leaves the first one in flight
    await expect(bed.services.instances.launch({ actor: bob, name: 'racer' })).rejects.toThrow(
      'The name racer is taken',
    );
    expect([...bed.services.instances.launching]).toEqual(['racer']);

    // and a second launch takes another port, the first completes on its own, both answer
    const second = await bed.services.instances.launch({ actor: alice, name: 'second' });
    const racer = await launch;
    expect([racer.port, second.port]).toEqual([FIRST + 1, FIRST + 2]);
    expect(store().instances.racer).toMatchObject({ state: 'running', port: FIRST + 1 });
    expect(store().ports[FIRST + 1]).toMatchObject({ state: 'in-use', instance: 'racer' });
    expect(await waitForHttp200(`http://127.0.0.1:${racer.port}/`)).toContain('racer');
    expect(await waitForHttp200(`http://127.0.0.1:${second.port}/`)).toContain('second');
    expect(store().instances.bystander).toMatchObject({ state: 'running', port: bystander.port });
    expect(Object.keys(store().instances).sort()).toEqual(['bystander', 'racer', 'second']);
    expect(bed.services.instances.launching.size).toBe(0);
  });

  it('judges no record made or closed while Docker was being asked', async () => {
    // given an instance that will be stopped while reconcile waits for Docker's listing
    await bed.services.instances.launch({ actor: bob, name: 'leaving' });

    // when reconcile's listing is held while a whole launch and a stop happen
    const listing = hold();
    next.list = async (labels) => {
      const rows = await real.list(labels);
      await listing.wait();
      return rows;
    };
    const reconciled = bed.services.reconcile({ atStart: false });
    await listing.reached;
    const quick = await bed.services.instances.launch({ actor: alice, name: 'quick' });
    await bed.services.instances.stop(bob, 'leaving');
    listing.release();
    const report = await reconciled;

    // then the new instance is not closed, the stopped one is not adopted back
    expect(report).toMatchObject({ closed: [], adopted: [], freedPorts: [] });
    expect(Object.keys(store().instances)).toEqual(['quick']);
    expect(store().ports[quick.port]).toMatchObject({ state: 'in-use', instance: 'quick' });
    expect(await waitForHttp200(`http://127.0.0.1:${quick.port}/`)).toContain('quick');
    expect(scopeContainers(SCOPE, { instance: 'leaving' })).toEqual([]);
  });
});

describe('containers left behind by a launch', () => {
  it('removes a created container with no record only once it is old; never others', async () => {
    // given, in this scope: a created container with no record, an exited one with no record,
    // and a created one whose record says running; and a created one of another scope
    const orphan = container(SCOPE, 'orphan', 'created');
    const exited = container(SCOPE, 'dead-end', 'exited');
    const recorded = container(SCOPE, 'recorded', 'created', LAST);
    const foreign = container(OTHER_SCOPE, 'orphan', 'created');
    await bed.services.store.update((doc) => {
      const at = clock.now();
      doc.instances.recorded = {
        name: 'recorded',
        owner: 'UCAROL',
        template: 'demo',
        port: LAST,
        state: 'running',
        containerId: recorded,
        createdAt: at,
        lastActivityAt: at,
      };
      doc.ports[LAST] = { state: 'in-use', instance: 'recorded', since: at };
    });

    // when reconcile runs while the created one is fresh (a launch may still be under way)
    clock.set(Date.now() + MIN);
    const fresh = await bed.services.reconcile({ atStart: false });

    // then only the exited one goes (as before), and the created one is neither removed nor adopted
    expect(fresh).toMatchObject({ orphans: [], adopted: [], closed: [], freedPorts: [], problems: [] });
    expect(fresh.exited.map((e) => e.instance)).toEqual(['dead-end']);
    expect([orphan, exited, recorded, foreign].map(exists)).toEqual([true, false, true, true]);
    expect(Object.keys(store().instances)).toEqual(['recorded']);

    // when it runs again once the created one is older than ORPHAN_AFTER_MS
    clock.set(Date.now() + ORPHAN_AFTER_MS + MIN);
    const old = await bed.services.reconcile({ atStart: false });

    // then the orphan is removed; the recorded one, its record and port, and the other scope's stay
    expect(old).toMatchObject({ orphans: ['orphan'], adopted: [], closed: [], freedPorts: [], problems: [] });
    expect([orphan, recorded, foreign].map(exists)).toEqual([false, true, true]);
    expect(store().instances.recorded).toMatchObject({ state: 'running', containerId: recorded });
    expect(store().ports[LAST]).toMatchObject({ state: 'in-use', instance: 'recorded' });

    await bed.services.store.update((doc) => {
      delete doc.instances.recorded;
      delete doc.ports[LAST];
    });
  });

  it('cleans up a launch that died with an earlier process: container removed, record closed, port freed', async () => {
    // given a running instance, and a launch an earlier process left: its record starting, its
    // port reserved, its container running, and no launch of it in flight here
    const kept = await bed.services.instances.launch({ actor: bob, name: 'kept' });
    const half = container(SCOPE, 'half', 'running');
    await bed.services.store.update((doc) => {
      const at = clock.now();
      doc.instances.half = {
        name: 'half',
        owner: 'UCAROL',
        template: 'demo',
        port: LAST - 1,
        state: 'starting',
        createdAt: at,
        lastActivityAt: at,
      };
      doc.ports[LAST - 1] = { state: 'reserved', instance: 'half', since: at };
    });

    // when reconcile runs
    const report = await bed.services.reconcile({ atStart: true });

    // then the half launch is gone, container, record and port, and the instance beside stays
    expect(report).toMatchObject({ closed: ['half'], adopted: [], orphans: [], problems: [] });
    expect(exists(half)).toBe(false);
    expect(store().instances.half).toBeUndefined();
    expect(store().ports[LAST - 1]).toBeUndefined();
    expect(store().audit.at(-1)).toMatchObject({
      action: 'close',
      instance: 'half',
      reason: 'its launch was interrupted',
    });
    expect(store().instances.kept).toMatchObject({ state: 'running', port: kept.port });
    expect(await waitForHttp200(`http://127.0.0.1:${kept.port}/`)).toContain('kept');
  });
});
