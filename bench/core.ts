// The core's suites (issue 2): launch to first HTTP 200, list at 100 instances, port
// reservations through the store. Each compares the bot's code with the raw way in the same run,
// alternating the two (A B B A ...) so drift of the machine hits both sides alike.
import path from 'node:path';
import type Docker from 'dockerode';
import { dispatch } from '../commands/index.ts';
import { waitForHttp } from '../core/http-probe.ts';
import { containerName, instanceLabels, managedFilter } from '../core/labels.ts';
import { PortPool } from '../core/port-pool.ts';
import { Store } from '../store/store.ts';
import {
  alternate,
  type Bench,
  type BenchContext,
  benchRow,
  median,
  ratio,
  type Suite,
  side,
  timed,
} from './harness.ts';

// ---- launch -----------------------------------------------------------------------------------

const LAUNCH_ROUNDS = 10;

/**
 * Raw dockerode with exactly the options DockerEngine.createAndStart sends (same image, labels,
 * env, command, port binding, limits, no-new-privileges, Init), then the SAME waitForHttp poll the
 * core uses, with the same kind of liveness check. Returns the container for removal.
 */
async function rawLaunch(ctx: BenchContext, instance: string, port: number): Promise<Docker.Container> {
  const t = ctx.template;
  const portKey = `${t.containerPort}/tcp`;
  const env = { ...t.env, SS_OWNER: ctx.actor.id, SS_INSTANCE: instance };
  const container = await ctx.docker.createContainer({
    name: containerName(instance),
    Image: t.image,
    Labels: instanceLabels({
      scope: ctx.scope,
      instance,
      owner: ctx.actor.id,
      template: t.name,
      port,
    }),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...(t.command ? { Cmd: t.command } : {}),
    ExposedPorts: { [portKey]: {} },
    HostConfig: {
      PortBindings: { [portKey]: [{ HostIp: ctx.bindIp, HostPort: String(port) }] },
      ...(t.memoryBytes !== undefined ? { Memory: t.memoryBytes } : {}),
      ...(t.nanoCpus !== undefined ? { NanoCpus: t.nanoCpus } : {}),
      SecurityOpt: ['no-new-privileges'],
      Init: true,
    },
  });
  await container.start();
  const healthy = await waitForHttp(`http://${ctx.bindIp}:${port}${t.healthPath}`, {
    timeoutMs: t.startTimeoutMs,
    stillAlive: async () => {
      const info = await container.inspect();
      if (!info.State.Running) throw new Error(`${instance} exited with code ${info.State.ExitCode}`);
    },
  });
  if (!healthy) throw new Error(`${instance} did not answer within ${t.startTimeoutMs} ms`);
  return container;
}

export const launchSuite: Suite = {
  name: 'launch',
  description: `launch to first HTTP 200: Instances.launch vs raw dockerode, ${LAUNCH_ROUNDS} each, alternating`,
  needsDocker: true,
  async run(ctx) {
    const services = await ctx.services('launch');
    // The core takes the lowest free pool port (ctx.ports.from, freed again by each stop); the raw
    // side publishes on the highest, so the two never wait on each other's port.
    const rawPort = ctx.ports.to;
    let seq = 0;
    const core = async (): Promise<number> => {
      const name = `launch-core-${seq++}`;
      const { ms } = await timed(() =>
        services.instances.launch({ actor: ctx.actor, template: 'demo', name }),
      );
      await services.instances.stop(ctx.actor, name);
      return ms;
    };
    const raw = async (): Promise<number> => {
      const name = `launch-raw-${seq++}`;
      const { ms, value: container } = await timed(() => rawLaunch(ctx, name, rawPort));
      await container.remove({ force: true });
      return ms;
    };

    ctx.log('launch: warm-up (1 each, not counted)');
    await core();
    await raw();
    const coreMs: number[] = [];
    const rawMs: number[] = [];
    ctx.log(`launch: ${LAUNCH_ROUNDS} rounds`);
    await alternate(
      ctx.signal,
      LAUNCH_ROUNDS,
      async () => void coreMs.push(await core()),
      async () => void rawMs.push(await raw()),
    );
    const ours = side('Instances.launch (saga: checks, store, create+start, waitForHttp, store)', coreMs);
    const baseline = side('raw dockerode createContainer + start + the same waitForHttp', rawMs);
    const paired = coreMs.map((ms, i) => ms - rawMs[i]!);
    return [
      benchRow({
        suite: 'launch',
        id: 'launch.core-vs-raw',
        name: 'launch demo to first HTTP 200',
        ours,
        baseline,
        result: { label: 'median ratio', value: ratio(ours, baseline), unit: 'x' },
        target: { op: '<=', value: 1.1, unit: 'x', source: 'issue 2' },
        notes: `same image, same container options, same poll (core/http-probe.ts); ${LAUNCH_ROUNDS} each after 1 warm-up, alternating A/B`,
      }),
      // Each round's two launches ran back to back, so their difference is what the core adds
      // with the machine's drift taken out: the figure to read when the ratio is noisy.
      benchRow({
        suite: 'launch',
        id: 'launch.core-overhead',
        name: 'what the core adds to a launch',
        ours: side('Instances.launch minus the raw launch of the same round', paired),
        result: { label: 'median paired difference', value: median(paired), unit: 'ms' },
        notes: "informational: the saga's own work (image check, two store writes, audit) plus noise",
      }),
    ];
  },
};

// ---- list -------------------------------------------------------------------------------------

const LIST_INSTANCES = 100;
const LIST_ROUNDS = 20;
const LIST_LAUNCH_CONCURRENCY = 4;

export const listSuite: Suite = {
  name: 'list',
  description: `list at ${LIST_INSTANCES} running instances: Instances.observe vs one raw listContainers`,
  needsDocker: true,
  async run(ctx) {
    const services = await ctx.services('list');
    ctx.log(
      `list: launching ${LIST_INSTANCES} instances through the core, ${LIST_LAUNCH_CONCURRENCY} at a time`,
    );
    const { wallMs } = await ctx.launchMany(services, LIST_INSTANCES, {
      concurrency: LIST_LAUNCH_CONCURRENCY,
      prefix: 'list',
    });
    const observed = await services.instances.observe();
    const running = observed.filter((o) => o.state === 'running').length;
    if (running !== LIST_INSTANCES) {
      throw new Error(`list: expected ${LIST_INSTANCES} running instances, observe() saw ${running}`);
    }

    // The same label filter DockerEngine.list sends (managed + scope), in one call.
    const label = Object.entries(managedFilter(ctx.scope)).map(([k, v]) => `${k}=${v}`);
    const raw = async () => {
      const rows = await ctx.docker.listContainers({ all: true, filters: { label } });
      if (rows.length !== LIST_INSTANCES) throw new Error(`raw listContainers saw ${rows.length}`);
    };
    const observe = async () => {
      const rows = await services.instances.observe();
      if (rows.length !== LIST_INSTANCES) throw new Error(`observe saw ${rows.length}`);
    };
    const command = async () => {
      const reply = await dispatch('list all', { actor: ctx.actor, services, prefix: '' });
      if (reply.kind !== 'instances' || reply.instances.length !== LIST_INSTANCES) {
        throw new Error(`list all answered ${reply.summary}`);
      }
    };

    ctx.log('list: warm-up (2 each, not counted)');
    for (let i = 0; i < 2; i++) {
      await raw();
      await observe();
      await command();
    }
    const rawMs: number[] = [];
    const observeMs: number[] = [];
    const commandMs: number[] = [];
    const t = (fn: () => Promise<void>, into: number[]) => async () => void into.push((await timed(fn)).ms);
    ctx.log(`list: ${LIST_ROUNDS} rounds`);
    await alternate(
      ctx.signal,
      LIST_ROUNDS,
      async () => {
        await t(observe, observeMs)();
        await t(command, commandMs)();
      },
      t(raw, rawMs),
    );

    const baseline = side('raw dockerode listContainers, same label filter', rawMs);
    const ours = side('Instances.observe (one engine list + the store)', observeMs);
    const cmd = side('the `list all` command (dispatch: parse, observe, views)', commandMs);
    const target = { op: '<=' as const, value: 1.5, unit: 'x' as const, source: 'issue 2' };
    return [
      benchRow({
        suite: 'list',
        id: 'list.observe-vs-raw',
        name: `list at ${LIST_INSTANCES} instances`,
        ours,
        baseline,
        result: { label: 'median ratio', value: ratio(ours, baseline), unit: 'x' },
        target,
        notes: `${LIST_ROUNDS} rounds each after 2 warm-ups, alternating A/B`,
      }),
      benchRow({
        suite: 'list',
        id: 'list.command-vs-raw',
        name: `\`list all\` command at ${LIST_INSTANCES} instances`,
        ours: cmd,
        baseline,
        result: { label: 'median ratio', value: ratio(cmd, baseline), unit: 'x' },
        target,
        notes: 'the whole command as every front end runs it, against the same raw list',
      }),
      benchRow({
        suite: 'list',
        id: 'list.setup-launches',
        name: `set-up: ${LIST_INSTANCES} launches at concurrency ${LIST_LAUNCH_CONCURRENCY}`,
        ours: side(`Instances.launch x${LIST_INSTANCES}, ${LIST_LAUNCH_CONCURRENCY} in flight`, [wallMs]),
        result: { label: 'launches/s', value: (LIST_INSTANCES / wallMs) * 1000, unit: 'ops/s' },
        notes: 'informational: the launch rate while filling the host (FACTS: ~5/s at 4-8 in parallel)',
      }),
    ];
  },
};

// ---- ports ------------------------------------------------------------------------------------

const PORT_OPS = 1000;
/** The default pool (8080-9079): bookkeeping only, nothing binds these ports here. */
const PORT_POOL = { from: 8080, to: 8080 + PORT_OPS - 1 };

export const portsSuite: Suite = {
  name: 'ports',
  description: `${PORT_OPS} port reservations and frees through PortPool + Store.update, sequential and concurrent`,
  needsDocker: false,
  async run(ctx) {
    const file = path.join(ctx.dir, 'ports.json');
    const store = await Store.open(file);
    const pool = new PortPool([PORT_POOL], store.read());
    const names = Array.from({ length: PORT_OPS }, (_, i) => `port-${i}`);
    const rows: Bench[] = [];

    const reserve = (name: string) => store.update((doc) => pool.reserve(doc, name, Date.now()));
    const release = (name: string, port: number) => store.update((doc) => pool.release(doc, port, name));
    const check = (ports: number[], what: string) => {
      if (new Set(ports).size !== PORT_OPS) throw new Error(`${what}: a port was handed out twice`);
      if (Object.keys(store.read().ports).length !== PORT_OPS) throw new Error(`${what}: store lost ports`);
    };
    const checkEmpty = (what: string) => {
      const left = Object.keys(store.read().ports).length;
      if (left !== 0) throw new Error(`${what}: ${left} ports still held after freeing all`);
    };

    const perOp = (label: string, samples: number[], wallMs: number) =>
      side(label, samples, { keep: 0, wallMs });
    const row = (id: string, name: string, s: ReturnType<typeof side>, concurrent: boolean): Bench =>
      benchRow({
        suite: 'ports',
        id,
        name,
        ours: s,
        result: concurrent
          ? { label: 'wall time / op', value: s.wallMs! / PORT_OPS, unit: 'ms' }
          : { label: 'median / op', value: s.stats.median, unit: 'ms' },
        notes: concurrent
          ? `${PORT_OPS} updates issued at once: their file writes collapse into a few; per-op figures are latencies from issue to on-disk`
          : `${PORT_OPS} updates, each awaited (one atomic file write each); store on a temp file`,
      });

    // Sequential: each update awaited (a file write each).
    ctx.log(`ports: ${PORT_OPS} sequential reservations and frees`);
    let wall = performance.now();
    const seqReserve: number[] = [];
    const ports: number[] = [];
    for (const name of names) {
      const { ms, value } = await timed(() => reserve(name));
      seqReserve.push(ms);
      ports.push(value);
    }
    const seqReserveWall = performance.now() - wall;
    check(ports, 'sequential reserve');
    wall = performance.now();
    const seqFree: number[] = [];
    for (const [i, name] of names.entries()) seqFree.push((await timed(() => release(name, ports[i]!))).ms);
    const seqFreeWall = performance.now() - wall;
    checkEmpty('sequential free');

    // Concurrent: all issued in one go, latency of each from issue to resolve.
    ctx.log(`ports: ${PORT_OPS} concurrent reservations and frees`);
    wall = performance.now();
    const conc = await Promise.all(names.map((name) => timed(() => reserve(name))));
    const concReserveWall = performance.now() - wall;
    const concPorts = conc.map((c) => c.value);
    check(concPorts, 'concurrent reserve');
    wall = performance.now();
    const concFree = await Promise.all(names.map((name, i) => timed(() => release(name, concPorts[i]!))));
    const concFreeWall = performance.now() - wall;
    checkEmpty('concurrent free');

    // What is on disk agrees: a reopened store holds no ports.
    await store.flushed();
    await store.close();
    const reopened = await Store.open(file);
    if (Object.keys(reopened.read().ports).length !== 0) throw new Error('ports: the file still holds ports');
    await reopened.close();

    rows.push(
      row(
        'ports.reserve-sequential',
        `${PORT_OPS} reservations, sequential`,
        perOp('store.update(pool.reserve), awaited each', seqReserve, seqReserveWall),
        false,
      ),
      row(
        'ports.free-sequential',
        `${PORT_OPS} frees, sequential`,
        perOp('store.update(pool.release), awaited each', seqFree, seqFreeWall),
        false,
      ),
      row(
        'ports.reserve-concurrent',
        `${PORT_OPS} reservations, concurrent`,
        perOp(
          'store.update(pool.reserve), all in flight',
          conc.map((c) => c.ms),
          concReserveWall,
        ),
        true,
      ),
      row(
        'ports.free-concurrent',
        `${PORT_OPS} frees, concurrent`,
        perOp(
          'store.update(pool.release), all in flight',
          concFree.map((c) => c.ms),
          concFreeWall,
        ),
        true,
      ),
    );
    // Allocation cost must not grow with the ports in use (issue 2): the first 100 sequential
    // reservations (an almost empty pool) against the last 100 (900+ in use).
    const first = side('first 100 reservations (0-99 in use)', seqReserve.slice(0, 100));
    const last = side('last 100 reservations (900-999 in use)', seqReserve.slice(-100));
    rows.push(
      benchRow({
        suite: 'ports',
        id: 'ports.reserve-growth',
        name: 'reservation cost as the pool fills',
        ours: last,
        baseline: first,
        result: { label: 'median ratio', value: ratio(last, first), unit: 'x' },
        notes:
          'informational: includes the awaited file write, which grows with the document; pool.reserve itself is O(log n)',
      }),
    );
    return rows;
  },
};
