// SwarmEngine (engine/swarm.ts) against the real two-node test swarm (test/support/swarm-fixture.ts):
// instances as one-replica services placed by node, host-mode ports per node, a port taken on one
// node, list states, remove then reuse, logs, nodes and constraints, stats through a node's own
// engine, and an image copied to a node that lacks it. Ports 25340-25379 are this file's;
// everything it creates carries spreadserve.test=swarm-engine and is removed before and after.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DockerEngine } from '../../engine/docker.ts';
import { SwarmEngine } from '../../engine/swarm.ts';
import type { ContainerSpec } from '../../engine/types.ts';
import { UserError } from '../../lib/errors.ts';
import { BASE_IMAGE, freshTag, httpGet, waitForHttp200 } from '../support/docker.ts';
import { killNode, restartNode, type SwarmNode, swarmEngine, waitForNode } from '../support/swarm-fixture.ts';

const run = promisify(execFile);
const swarm = inject('swarm');
const LABEL_KEY = 'spreadserve.test';
const TEST_LABEL = { [LABEL_KEY]: 'swarm-engine' };
const PORT = {
  both: 25340,
  held: 25341,
  reuse: 25342,
  states: 25343,
  copy: 25344,
  logs: 25345,
  raw: 25346,
  twice: 25347,
  lost: 25348,
};

const nodeByRole = (role: 'manager' | 'worker'): SwarmNode => {
  const node = swarm.nodes.find((n) => n.role === role);
  if (!node) throw new Error(`the test swarm has no ${role}`);
  return node;
};
const mgr = nodeByRole('manager');
const wrk = nodeByRole('worker');

/** With each node's own engine configured (stats, image copies). */
const engine = new SwarmEngine({
  dockerHost: swarm.managerHost,
  nodeEndpoints: { [mgr.name]: { dockerHost: mgr.host }, [wrk.name]: { dockerHost: wrk.host } },
});
/** The same swarm with no node endpoints: no stats, no image copies. */
const bare = new SwarmEngine({ dockerHost: swarm.managerHost });
/** The manager's API through dockerode, for what the test itself sets up or checks. */
const manager = swarmEngine(swarm);
const copyTag = freshTag('spreadserve-test/swarm-copy');

/** The docker CLI against one node's own engine (or the main one). */
const dockerOn = async (host: string | null, ...args: string[]): Promise<string> =>
  (await run('docker', [...(host ? ['-H', host] : []), ...args], { timeout: 60_000 })).stdout.trim();

/** An instance serving "<name>" over HTTP on port 80 with busybox httpd, logging "started". */
function spec(
  name: string,
  node: SwarmNode,
  hostPort: number,
  over: Partial<ContainerSpec> = {},
): ContainerSpec {
  return {
    name: `sst-swarm-${name}`,
    image: BASE_IMAGE,
    labels: { ...TEST_LABEL, 'spreadserve.test.instance': name },
    env: { SS_INSTANCE: name },
    command: [
      'sh',
      '-c',
      'mkdir -p /tmp/www && echo "$SS_INSTANCE" > /tmp/www/index.html && echo started && exec httpd -f -v -p 80 -h /tmp/www',
    ],
    containerPort: 80,
    hostPort,
    bindIp: '0.0.0.0',
    node: node.id,
    ...over,
  };
}

async function userError(p: Promise<unknown>): Promise<UserError> {
  const err = await p.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

/** Removes this file's services (waiting, bounded, for their tasks), containers and images everywhere. */
async function cleanUp(): Promise<void> {
  const label = `${LABEL_KEY}=${TEST_LABEL[LABEL_KEY]}`;
  for (const s of await manager.listServices({ filters: { label: [label] } })) await engine.remove(s.ID);
  for (const host of [mgr.host, wrk.host, null]) {
    const ids = (await dockerOn(host, 'ps', '-aq', '--filter', `label=${label}`)).split('\n').filter(Boolean);
    // A task's container may be in Swarm's own removal already: that one goes by itself.
    if (ids.length > 0) await dockerOn(host, 'rm', '-f', ...ids).catch(() => '');
    const images = (await dockerOn(host, 'images', '-q', '--filter', `label=${label}`))
      .split('\n')
      .filter(Boolean);
    if (images.length > 0) await dockerOn(host, 'rmi', '-f', ...new Set(images)).catch(() => '');
  }
  const node = await manager.getNode(wrk.id).inspect();
  if (node.Spec.Labels?.zone !== undefined) {
    await manager.getNode(wrk.id).update({ version: node.Version.Index, ...node.Spec, Labels: {} });
  }
}

beforeAll(cleanUp);
afterAll(cleanUp);

describe('SwarmEngine on a two-node swarm', () => {
  it('answers ping only from a swarm manager', async () => {
    // Given the manager, and the worker's own engine (in the swarm, but no manager)
    // When each is pinged as a swarm
    await expect(engine.ping()).resolves.toBeUndefined();
    const err = await userError(new SwarmEngine({ dockerHost: wrk.host }).ping());
    // Then only the manager passes; the worker's sentence says what to do
    expect(err.kind).toBe('engine-unreachable');
    expect(err.message).toContain(wrk.host);
    expect(err.message).toContain('docker swarm init');
    // And any other call there says the same, not an internal error
    const listed = await userError(new SwarmEngine({ dockerHost: wrk.host }).list(TEST_LABEL));
    expect(listed.kind).toBe('engine-unreachable');
    expect(listed.message).toBe(err.message);
    expect(engine.target).toEqual({ kind: 'swarm', display: swarm.managerHost });
  });

  it('lists the nodes with their addresses, roles and labels, and applies constraints', async () => {
    // Given the worker labelled zone=b through the manager
    const node = await manager.getNode(wrk.id).inspect();
    await manager
      .getNode(wrk.id)
      .update({ version: node.Version.Index, ...node.Spec, Labels: { zone: 'b' } });
    // When the nodes are listed, with and without constraints
    const all = await engine.nodes();
    // Then both are there, available, at the addresses the host reaches them on
    expect(all.map((n) => [n.name, n.id, n.role, n.address, n.available]).sort()).toEqual(
      swarm.nodes.map((n) => [n.name, n.id, n.role, n.address, true]).sort(),
    );
    expect(all.find((n) => n.id === wrk.id)?.labels).toEqual({ zone: 'b' });
    const names = async (constraints: string[]) => (await engine.nodes(constraints)).map((n) => n.name);
    expect(await names(['node.labels.zone==b'])).toEqual([wrk.name]);
    expect(await names(['node.labels.zone!=b'])).toEqual([mgr.name]);
    expect(await names(['node.role==manager'])).toEqual([mgr.name]);
    expect(await names([`node.hostname==${wrk.name.toUpperCase()}`, 'node.labels.zone == B'])).toEqual([
      wrk.name,
    ]);
    expect(await names([`node.id!=${mgr.id}`])).toEqual([wrk.name]);
    // And an unknown key is a usage error naming it; a configured public name replaces the address
    const err = await userError(engine.nodes(['engine.labels.os==linux']));
    expect(err.kind).toBe('usage');
    expect(err.message).toContain('engine.labels.os==linux');
    const named = new SwarmEngine({
      dockerHost: swarm.managerHost,
      nodeAddresses: { [wrk.name]: 'w.example' },
    });
    expect((await named.nodes([`node.id==${wrk.id}`]))[0]?.address).toBe('w.example');
  });

  it('launches on each node by spec.node; both answer from the host on the same port at once', async () => {
    // Given port 25340 free on both nodes
    // When one instance is placed on the manager and one on the worker, both on that port
    const started = Date.now();
    const onMgr = await engine.createAndStart(spec('both-m', mgr, PORT.both));
    const launchMs = Date.now() - started;
    const limits = { memoryBytes: 64 * 1024 * 1024, nanoCpus: 500_000_000, pidsLimit: 100, readOnly: true };
    const onWrk = await engine.createAndStart(spec('both-w', wrk, PORT.both, limits));
    // Then each node's address answers with its own instance
    expect((await waitForHttp200(`http://${mgr.address}:${PORT.both}/`)).trim()).toBe('both-m');
    expect((await waitForHttp200(`http://${wrk.address}:${PORT.both}/`)).trim()).toBe('both-w');
    // And list and inspect show them running, each on its node
    const listed = await engine.list(TEST_LABEL);
    const row = (id: string) => listed.find((c) => c.id === id);
    expect(row(onMgr)).toMatchObject({
      name: 'sst-swarm-both-m',
      state: 'running',
      node: mgr.id,
      image: BASE_IMAGE,
    });
    expect(row(onWrk)).toMatchObject({ name: 'sst-swarm-both-w', state: 'running', node: wrk.id });
    expect(row(onWrk)?.status).toContain(`on ${wrk.name}`);
    expect(row(onWrk)?.labels).toMatchObject(TEST_LABEL);
    const details = await engine.inspect('sst-swarm-both-w');
    expect(details).toMatchObject({ id: onWrk, state: 'running', exitCode: null, pid: null, node: wrk.id });
    expect(details?.env.SS_INSTANCE).toBe('both-w');
    expect(details?.startedAt).toBeGreaterThan(started - 1000);
    // And the task's container carries the labels and the hardening Swarm can express
    const [container] = await swarmEngine(swarm, wrk.name).listContainers({
      filters: { label: ['spreadserve.test.instance=both-w'] },
    });
    const inspected = await swarmEngine(swarm, wrk.name)
      .getContainer(container?.Id ?? '')
      .inspect();
    expect(inspected.HostConfig).toMatchObject({
      Init: true,
      CapDrop: ['ALL'],
      CapAdd: ['NET_BIND_SERVICE'],
      PidsLimit: 100,
      Memory: limits.memoryBytes,
      NanoCpus: limits.nanoCpus,
      ReadonlyRootfs: true,
    });
    expect(inspected.HostConfig.Mounts?.map((m) => [m.Type, m.Target])).toContainEqual(['tmpfs', '/tmp']);
    expect(inspected.HostConfig.LogConfig).toEqual({
      Type: 'json-file',
      Config: { 'max-size': '10m', 'max-file': '3' },
    });
    console.log(`swarm engine: createAndStart to a running task on ${mgr.name} in ${launchMs} ms`);
  });

  it('reports a port held on the worker by something else as port-taken, and removes the service', async () => {
    // Given port 25341 held on the worker by a container of the worker's own engine
    await dockerOn(
      wrk.host,
      'run',
      '-d',
      '--label',
      `${LABEL_KEY}=${TEST_LABEL[LABEL_KEY]}`,
      '-p',
      `${PORT.held}:80`,
      BASE_IMAGE,
      'sleep',
      '600',
    );
    // When an instance is launched on the worker on that port
    const err = await userError(engine.createAndStart(spec('held', wrk, PORT.held)));
    // Then it fails as port-taken, naming the port and the node, and leaves no service behind
    expect(err.kind).toBe('port-taken');
    expect(err.message).toContain(String(PORT.held));
    expect(err.message).toContain(wrk.name);
    expect(await engine.inspect('sst-swarm-held')).toBeNull();
    // And the same port is still free on the manager: only the worker's is taken
    await engine.createAndStart(spec('held-m', mgr, PORT.held));
    expect((await waitForHttp200(`http://${mgr.address}:${PORT.held}/`)).trim()).toBe('held-m');
  });

  it('reports a port another of its own services holds on that node as port-taken, and a taken name as conflict', async () => {
    // Given an instance serving the worker's port 25347
    await engine.createAndStart(spec('twice-1', wrk, PORT.twice));
    // When a second instance asks for the same port on the same node
    const started = Date.now();
    const err = await userError(engine.createAndStart(spec('twice-2', wrk, PORT.twice)));
    // Then it fails at once as port-taken (Swarm would keep it pending), leaving no service
    expect(err.kind).toBe('port-taken');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await engine.inspect('sst-swarm-twice-2')).toBeNull();
    // And a second service of a name in use is a conflict
    expect((await userError(engine.createAndStart(spec('twice-1', mgr, PORT.twice)))).kind).toBe('conflict');
    expect((await waitForHttp200(`http://${wrk.address}:${PORT.twice}/`)).trim()).toBe('twice-1');
  });

  it('frees the port on remove, so the next launch on that node can take it at once', async () => {
    // Given an instance on the worker's port 25342
    const first = await engine.createAndStart(spec('reuse-1', wrk, PORT.reuse));
    await waitForHttp200(`http://${wrk.address}:${PORT.reuse}/`);
    // When it is removed, and another is launched on the same node and port straight after
    const removing = Date.now();
    await engine.remove(first);
    const removeMs = Date.now() - removing;
    await engine.createAndStart(spec('reuse-2', wrk, PORT.reuse));
    // Then the new one serves that port, and the old one is gone (removing it again is fine)
    expect((await waitForHttp200(`http://${wrk.address}:${PORT.reuse}/`)).trim()).toBe('reuse-2');
    expect(await engine.inspect(first)).toBeNull();
    await expect(engine.remove(first)).resolves.toBeUndefined();
    console.log(`swarm engine: remove until the task stopped in ${removeMs} ms`);
  });

  it('shows an instance whose command ended as exited, with its exit code', async () => {
    // Given an instance on the worker whose command exits with 3 after a second
    const id = await engine.createAndStart(
      spec('ends', wrk, PORT.states, { command: ['sh', '-c', 'sleep 1; exit 3'] }),
    );
    // When it has ended
    let state = '';
    for (let i = 0; i < 50 && state !== 'exited'; i++) {
      state = (await engine.list(TEST_LABEL)).find((c) => c.id === id)?.state ?? 'absent';
      if (state !== 'exited') await new Promise((r) => setTimeout(r, 200));
    }
    // Then list shows it exited with the task's own reason, and inspect its exit code
    const row = (await engine.list(TEST_LABEL)).find((c) => c.id === id);
    expect(row?.state).toBe('exited');
    expect(row?.status).toMatch(new RegExp(`Failed on ${wrk.name}: .*\\(3\\)`));
    expect(await engine.inspect(id)).toMatchObject({ state: 'exited', exitCode: 3, startedAt: null });
    // And nothing answers its port any more
    expect(await httpGet(`http://${wrk.address}:${PORT.states}/`, 1000)).toBeNull();
  });

  it('fails a launch whose image the node lacks with the task error, and copies it where an endpoint exists', async () => {
    // Given an image only the manager holds (built on the main engine, loaded into the manager)
    await run('sh', [
      '-c',
      `printf 'FROM ${BASE_IMAGE}\\nLABEL ${LABEL_KEY}=${TEST_LABEL[LABEL_KEY]} copy=${copyTag}\\n' | docker build -q -t ${copyTag} - && docker save ${copyTag} | docker -H ${mgr.host} load -q`,
    ]);
    await expect(dockerOn(wrk.host, 'image', 'inspect', copyTag)).rejects.toThrow();
    // When it is launched on the worker with no endpoint for it
    const err = await userError(bare.createAndStart(spec('nocopy', wrk, PORT.copy, { image: copyTag })));
    // Then the launch fails with the task's own error and the node's name, and no service stays
    expect(err.kind).toBe('unhealthy');
    expect(err.message).toContain(wrk.name);
    expect(err.message).toMatch(/no such image/i);
    expect(await engine.inspect('sst-swarm-nocopy')).toBeNull();
    // When it is launched there with the worker's endpoint configured
    const copying = Date.now();
    await engine.createAndStart(spec('copied', wrk, PORT.copy, { image: copyTag }));
    const copyMs = Date.now() - copying;
    // Then the image was copied to the worker, with the manager's image id, and the instance serves
    expect(await dockerOn(wrk.host, 'image', 'inspect', '-f', '{{.Id}}', copyTag)).toBe(
      await dockerOn(mgr.host, 'image', 'inspect', '-f', '{{.Id}}', copyTag),
    );
    expect((await waitForHttp200(`http://${wrk.address}:${PORT.copy}/`)).trim()).toBe('copied');
    console.log(`swarm engine: launch with an image copied to ${wrk.name} in ${copyMs} ms`);
  });

  it('reads logs through the service, and stats through the node engine or says why it cannot', async () => {
    // Given an instance on the worker that has served a few requests
    const id = await engine.createAndStart(spec('logs', wrk, PORT.logs));
    for (let i = 0; i < 3; i++) await waitForHttp200(`http://${wrk.address}:${PORT.logs}/`);
    // When its logs and stats are read
    let lines: string[] = [];
    for (let i = 0; i < 30 && !lines.some((l) => l.includes('started')); i++) {
      lines = await engine.logs(id, 20);
      if (!lines.includes('started')) await new Promise((r) => setTimeout(r, 200));
    }
    const sample = await engine.stats(id);
    // Then the logs hold its own lines, and the sample its traffic and CPU
    expect(lines).toContain('started');
    expect(sample.rxBytes).toBeGreaterThan(0);
    expect(sample.txBytes).toBeGreaterThan(0);
    expect(sample.cpuNs).toBeGreaterThan(0);
    expect(engine.canSample(wrk.id)).toBe(true);
    expect(engine.canSample(wrk.name)).toBe(true);
    // And without an endpoint for the worker, stats say which setting is missing
    expect(bare.canSample(wrk.name)).toBe(false);
    const err = await userError(bare.stats(id));
    expect(err.kind).toBe('not-found');
    expect(err.message).toBe(
      `No engine endpoint is configured for node ${wrk.name}, so its instances cannot be sampled; set SPREADSERVE_NODE_ENDPOINTS.`,
    );
    // And an unknown service has no logs and no details
    expect((await userError(engine.logs('sst-swarm-nothing', 5))).kind).toBe('not-found');
    expect(await engine.inspect('sst-swarm-nothing')).toBeNull();
  });

  it('measures a launch through Swarm against a plain container on one engine', async () => {
    // Given the worker's own engine as a single-host DockerEngine
    const single = new DockerEngine({ dockerHost: wrk.host });
    // When each launches the same instance to a running state, three times
    const times = { swarm: [] as number[], plain: [] as number[] };
    for (let i = 0; i < 3; i++) {
      let t = Date.now();
      const service = await engine.createAndStart(spec(`timed-s${i}`, wrk, PORT.raw));
      times.swarm.push(Date.now() - t);
      await engine.remove(service);
      t = Date.now();
      const container = await single.createAndStart({
        ...spec(`timed-p${i}`, wrk, PORT.raw),
        node: undefined,
      });
      times.plain.push(Date.now() - t);
      await single.remove(container);
    }
    // Then both finish, and the ratio is recorded
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1] ?? 0;
    expect(median(times.swarm)).toBeGreaterThan(0);
    console.log(
      `swarm engine: launch median ${median(times.swarm)} ms on Swarm vs ${median(times.plain)} ms plain (x${(median(times.swarm) / Math.max(1, median(times.plain))).toFixed(1)}); ${JSON.stringify(times)}`,
    );
  });

  it('shows an instance on a lost node as exited, removes it without waiting, and nothing comes back', async () => {
    // Given an instance serving on the worker
    const id = await engine.createAndStart(spec('lost', wrk, PORT.lost));
    await waitForHttp200(`http://${wrk.address}:${PORT.lost}/`);
    // When the worker's dockerd is killed and the manager marks the node down
    await killNode(swarm, wrk.name);
    try {
      await waitForNode(swarm, wrk.name, 'down', 20_000);
      // Then list shows the instance exited, lost with its node, and the node unavailable
      const row = (await engine.list(TEST_LABEL)).find((c) => c.id === id);
      expect(row).toMatchObject({ state: 'exited', status: `Lost: node ${wrk.name} is down`, node: wrk.id });
      expect((await engine.nodes()).find((n) => n.id === wrk.id)?.available).toBe(false);
      // And its logs fail with one sentence
      const err = await userError(engine.logs(id, 5));
      expect(err.kind).toBe('engine-unreachable');
      expect(err.message).toBe(`The logs of ${id} cannot be read now: node ${wrk.name} is not available.`);
      // And removing it does not wait for the lost task
      const removing = Date.now();
      await engine.remove(id);
      expect(Date.now() - removing).toBeLessThan(3000);
      expect(await engine.inspect(id)).toBeNull();
    } finally {
      await restartNode(swarm, wrk.name);
      await waitForNode(swarm, wrk.name, 'ready', 30_000);
    }
    // When the worker is back
    // Then its old container is stopped by its daemon, and no service came back
    let answer = await httpGet(`http://${wrk.address}:${PORT.lost}/`, 1000);
    for (let i = 0; i < 50 && answer !== null; i++) {
      await new Promise((r) => setTimeout(r, 200));
      answer = await httpGet(`http://${wrk.address}:${PORT.lost}/`, 1000);
    }
    expect(answer).toBeNull();
    expect((await engine.list(TEST_LABEL)).find((c) => c.name === 'sst-swarm-lost')).toBeUndefined();
  });
});
