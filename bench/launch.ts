// The launch suite (issue 2): launch to first HTTP 200 through the core against raw dockerode
// with the same options and the same poll, alternating the two (A B B A ...) so drift of the
// machine hits both sides alike.
import type Docker from 'dockerode';
import { waitForHttp } from '../core/http-probe.ts';
import { containerName, instanceLabels, managedFilter } from '../core/labels.ts';
import { networkName } from '../core/networks.ts';
import { instanceHostConfig } from '../engine/docker-hardening.ts';
import { OwnNetworks } from '../engine/docker-networks.ts';
import type { ContainerSpec } from '../engine/types.ts';
import type { BenchContext, Suite } from './harness.ts';
import { alternate, benchRow, median, ratio, side, timed } from './rows.ts';

const LAUNCH_ROUNDS = 10;

/** The spec the core's launch saga gives the engine for this instance (core/launch.ts). */
function rawSpec(ctx: BenchContext, instance: string, port: number, network: string): ContainerSpec {
  const t = ctx.template;
  return {
    name: containerName(instance),
    image: t.image,
    labels: instanceLabels({ scope: ctx.scope, instance, owner: ctx.actor.id, template: t.name, port }),
    env: { ...t.env, SS_OWNER: ctx.actor.id, SS_INSTANCE: instance },
    command: t.command,
    containerPort: t.containerPort,
    hostPort: port,
    bindIp: ctx.bindIp,
    memoryBytes: t.memoryBytes,
    nanoCpus: t.nanoCpus,
    pidsLimit: t.pidsLimit,
    readOnly: t.readOnly,
    user: t.user,
    network: { name: network, labels: managedFilter(ctx.scope) },
  };
}

/** The bot's own networks as DockerEngine makes them (engine/docker-networks.ts: the same body, one
 * creation in flight per name, a namesake with other labels refused), over raw dockerode. */
const ownNetworks = new WeakMap<Docker, OwnNetworks>();
function networksOf(docker: Docker): OwnNetworks {
  const known = ownNetworks.get(docker);
  if (known) return known;
  const made = new OwnNetworks({
    create: (body) =>
      docker.createNetwork(body).then(
        () => true,
        (err: unknown) => (statusOf(err) === 409 ? false : Promise.reject(err)),
      ),
    labelsOf: (name) =>
      docker
        .getNetwork(name)
        .inspect()
        .then(
          (info: { Labels?: Record<string, string> | null }) => info.Labels ?? {},
          (err: unknown) => (statusOf(err) === 404 ? null : Promise.reject(err)),
        ),
  });
  ownNetworks.set(docker, made);
  return made;
}

const statusOf = (err: unknown) => (err as { statusCode?: number }).statusCode;

/**
 * Raw dockerode with exactly the options DockerEngine.createAndStart sends today (same image,
 * labels, env, command, port binding, and engine/docker-hardening.ts's confinement: capabilities,
 * pids, rotated log, memory, CPU, no-new-privileges, Init, one of the bot's own bridge networks:
 * `network`, by default the first), then the SAME waitForHttp poll the core uses, with the same
 * kind of liveness check. Returns the container.
 */
export async function rawLaunch(
  ctx: BenchContext,
  instance: string,
  port: number,
  network = networkName(ctx.scope),
): Promise<Docker.Container> {
  const t = ctx.template;
  const spec = rawSpec(ctx, instance, port, network);
  const portKey = `${spec.containerPort}/tcp`;
  if (spec.network) await networksOf(ctx.docker).ensure(spec.network);
  const container = await ctx.docker.createContainer({
    name: spec.name,
    Image: spec.image,
    Labels: spec.labels,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    ...(spec.command ? { Cmd: spec.command } : {}),
    ...(spec.user ? { User: spec.user } : {}),
    ExposedPorts: { [portKey]: {} },
    HostConfig: {
      PortBindings: { [portKey]: [{ HostIp: spec.bindIp, HostPort: String(port) }] },
      ...instanceHostConfig(spec),
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
    const paired = coreMs.map((ms, i) => ms - (rawMs[i] ?? Number.NaN));
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
