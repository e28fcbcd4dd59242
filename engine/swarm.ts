// ContainerEngine across a Docker Swarm, through a manager's Engine API (dockerode, as in
// engine/docker.ts): an instance is a service of one replica. Beside it: swarm-spec.ts (the
// service spec, constraints), swarm-data.ts (the manager's answers, what a task's state means),
// swarm-nodes.ts (calls, timeouts, each node's own engine), swarm-images.ts (image copies).
import Docker from 'dockerode';
import { formatDuration } from '../lib/duration.ts';
import { UserError } from '../lib/errors.ts';
import { DockerEngine } from './docker.ts';
import { isDict, str } from './docker-data.ts';
import { statusOf, within } from './docker-errors.ts';
import { connect } from './docker-host.ts';
import { demuxLogLines } from './docker-streams.ts';
import {
  detailsOf,
  ENDED,
  latestTasks,
  launchOutcome,
  logsUnreadable,
  nodeOf,
  type SwarmNode,
  serviceOf,
  streamError,
  summaryOf,
  type TaskView,
  taskOf,
} from './swarm-data.ts';
import { deliverySentence, ImageDistribution } from './swarm-images.ts';
import {
  type ApiRequest,
  type Dial,
  type Endpoint,
  type NodeEndpoint,
  NodeEngines,
  notManager,
  SWARM_TIMEOUTS,
  type SwarmEngineOptions,
  type SwarmTimeouts,
  swarmRefusal,
} from './swarm-nodes.ts';
import { parseConstraints, satisfies, serviceSpecOf } from './swarm-spec.ts';
import type {
  BuildRequest,
  CommitRequest,
  ContainerDetails,
  ContainerEngine,
  ContainerSpec,
  ContainerSummary,
  EngineNode,
  EnginePlatform,
  ImageInfo,
  Labels,
  NetworkSample,
  RunToCompletionRequest,
} from './types.ts';

export { SWARM_TIMEOUTS, type SwarmEngineOptions, type SwarmTimeouts } from './swarm-nodes.ts';

/** The Engine API calls of one dockerode client: the only use of dockerode here. */
function dialOf(docker: Docker): Dial {
  return <T>(request: ApiRequest, abortSignal: AbortSignal) =>
    new Promise<T>((resolve, reject) => {
      docker.modem.dial(
        {
          path: request.query ? `${request.path}?` : request.path,
          method: request.method ?? 'GET',
          options: {
            _query: request.query ?? {},
            ...(request.body !== undefined ? { _body: request.body } : {}),
          },
          ...(request.file ? { file: request.file } : {}),
          isStream: request.isStream ?? false,
          abortSignal,
          statusCodes: { 200: true, 201: true, 204: true, 404: 'no such object', 409: 'conflict' },
        },
        (err, data) => (err ? reject(err) : resolve(data as T)),
      );
    });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SwarmEngine implements ContainerEngine {
  readonly target: { readonly kind: 'swarm'; readonly display: string };
  readonly timeouts: Readonly<SwarmTimeouts>;
  private readonly docker: Docker;
  /** The manager's own engine: platform, images, builds, commits. */
  private readonly manager: DockerEngine;
  private readonly addresses: Readonly<Record<string, string>>;
  private readonly endpoints: NodeEngines;
  /** Hostnames by node id, as last seen (canSample takes either). */
  private readonly hostnames = new Map<string, string>();
  private readonly images: ImageDistribution;
  private readonly api: Endpoint;

  constructor(options: SwarmEngineOptions = {}) {
    const { target, modem } = connect(options);
    this.target = { kind: 'swarm', display: target.display };
    this.docker = new Docker(modem);
    this.timeouts = { ...SWARM_TIMEOUTS, ...options.timeouts };
    this.manager = new DockerEngine({ ...options, timeouts: this.timeouts });
    this.addresses = options.nodeAddresses ?? {};
    const nodes = new Map<string, NodeEndpoint>();
    for (const [hostname, endpoint] of Object.entries(options.nodeEndpoints ?? {})) {
      const node = connect(endpoint);
      const engine = new DockerEngine({ ...endpoint, timeouts: this.timeouts });
      nodes.set(hostname, { dial: dialOf(new Docker(node.modem)), display: node.target.display, engine });
    }
    this.api = { dial: dialOf(this.docker), display: this.target.display };
    this.endpoints = new NodeEngines(nodes, this.api, this.timeouts);
    this.images = new ImageDistribution({
      managerImageId: async (tag) => (await this.manager.inspectImage(tag))?.id ?? null,
      nodeImageId: (node, tag) => this.endpoints.imageId(node, tag),
      copy: (node, tag) => this.endpoints.copyImage(node, tag),
    });
  }

  /** How images reach the nodes (`templates` says it). */
  async imageDelivery(): Promise<string> {
    const names = (await this.nodes()).map((n) => n.name).sort();
    const reached = (name: string) => this.endpoints.has(name);
    return deliverySentence(
      names.filter(reached),
      names.filter((n) => !reached(n)),
    );
  }

  /** Whether instances on this node (id or hostname) can be sampled for activity: it has an endpoint. */
  canSample(node: string): boolean {
    return this.endpoints.has(node) || this.endpoints.has(this.hostnames.get(node) ?? '');
  }

  /** A call within `ms` of the manager; 404 becomes onMissing() when given. */
  private async call<T>(
    ms: number,
    fn: (signal: AbortSignal) => Promise<T>,
    onMissing?: () => T,
  ): Promise<T> {
    try {
      return await within(ms, this.target.display, fn, onMissing);
    } catch (err) {
      throw swarmRefusal(err, this.target.display);
    }
  }

  /** A quick call of the manager. */
  private ask<T>(request: ApiRequest, onMissing?: () => T): Promise<T> {
    return this.call(this.timeouts.quickMs, (signal) => this.api.dial<T>(request, signal), onMissing);
  }

  async ping(): Promise<void> {
    const info = await this.ask<unknown>({ path: '/info' });
    const swarm = isDict(info) && isDict(info.Swarm) ? info.Swarm : {};
    if (swarm.ControlAvailable !== true) throw notManager(this.target.display);
  }

  platform(): Promise<EnginePlatform> {
    return this.manager.platform();
  }

  private async allNodes(): Promise<SwarmNode[]> {
    const rows = await this.ask<unknown[]>({ path: '/nodes' });
    const nodes = (Array.isArray(rows) ? rows : []).map((row) => nodeOf(row, this.addresses));
    for (const n of nodes) this.hostnames.set(n.id, n.name);
    return nodes;
  }

  async nodes(constraints: readonly string[] = []): Promise<EngineNode[]> {
    const parsed = parseConstraints(constraints);
    const nodes = await this.allNodes();
    return nodes.filter((n) => satisfies(n, parsed)).map(({ down: _, ...node }) => node);
  }

  /** The tasks of one service (by id or name); none when there is no such service. */
  private async tasksOf(service: string): Promise<TaskView[]> {
    const rows = await this.ask<unknown[]>(
      { path: '/tasks', query: { filters: { service: [service] } } },
      () => [],
    );
    return rows.map(taskOf);
  }

  async createAndStart(spec: ContainerSpec): Promise<string> {
    const node = spec.node ? await this.ask<unknown>({ path: `/nodes/${spec.node}` }, () => null) : undefined;
    const placed = node ? nodeOf(node, this.addresses) : undefined;
    if (spec.node && !placed) {
      throw new UserError(
        'not-found',
        `There is no node ${spec.node} in the swarm at ${this.target.display}.`,
      );
    }
    if (placed) this.hostnames.set(placed.id, placed.name);
    if (placed && this.endpoints.has(placed.name)) await this.images.ensure(placed.name, spec.image);
    const created = await this.ask<{ ID?: string } | null>({
      path: '/services/create',
      method: 'POST',
      body: serviceSpecOf(spec),
    }).catch((err: unknown) => {
      if (statusOf(err) !== 409) throw err;
      throw new UserError('conflict', `A service named ${spec.name} already exists in the swarm.`, [], {
        cause: err,
      });
    });
    const id = str(created?.ID);
    if (id === '') throw new Error(`The swarm manager created ${spec.name} but answered no service id.`);
    try {
      await this.untilRunning(id, spec, placed?.name ?? 'any node');
      return id;
    } catch (err) {
      // A service whose task never ran is useless and holds its name (and maybe the port).
      await this.remove(id).catch(() => undefined);
      throw err;
    }
  }

  /** Polls the service's task until it runs; throws its own failure, or after launchMs. */
  private async untilRunning(id: string, spec: ContainerSpec, nodeName: string): Promise<void> {
    const started = Date.now();
    let pendingSince: number | null = null;
    while (Date.now() - started < this.timeouts.launchMs) {
      const task = latestTasks(await this.tasksOf(id)).get(id);
      if (task?.err && !ENDED.has(task.state)) pendingSince ??= Date.now();
      else pendingSince = null;
      const giveUp = pendingSince !== null && Date.now() - pendingSince >= this.timeouts.pendingMs;
      const where = task?.nodeId ? (this.hostnames.get(task.nodeId) ?? nodeName) : nodeName;
      const outcome = launchOutcome(task, spec, where, giveUp);
      if (outcome.kind === 'running') return;
      if (outcome.kind === 'failed') throw outcome.error;
      await sleep(this.timeouts.pollMs);
    }
    throw new UserError(
      'unhealthy',
      `${spec.name} did not start on node ${nodeName} within ${formatDuration(this.timeouts.launchMs)}; it was removed.`,
    );
  }

  async remove(idOrName: string): Promise<void> {
    const before = await this.tasksOf(idOrName);
    await this.ask({ path: `/services/${idOrName}`, method: 'DELETE' }, () => undefined);
    let live = before.filter((t) => !ENDED.has(t.state));
    if (live.length === 0) return;
    // A down node's task cannot stop now (its daemon kills the container when it comes back).
    const down = new Set((await this.allNodes()).filter((n) => n.down).map((n) => n.id));
    live = live.filter((t) => !down.has(t.nodeId));
    const started = Date.now();
    while (live.length > 0 && Date.now() - started < this.timeouts.removeWaitMs) {
      await sleep(this.timeouts.pollMs);
      const rows = await this.ask<unknown[]>({
        path: '/tasks',
        query: { filters: { id: live.map((t) => t.id) } },
      });
      const states = new Map(rows.map(taskOf).map((t) => [t.id, t.state]));
      // Gone from the list, or in a state it never leaves: its container is stopped, its port free.
      live = live.filter((t) => {
        const state = states.get(t.id);
        return state !== undefined && !ENDED.has(state);
      });
    }
  }

  async list(labels: Labels): Promise<ContainerSummary[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    // Three calls however many instances: tasks carry their service's labels for the filter too.
    const [serviceRows, taskRows, nodes] = await Promise.all([
      this.ask<unknown[]>({ path: '/services', query: { filters } }),
      this.ask<unknown[]>({ path: '/tasks', query: { filters } }),
      this.allNodes(),
    ]);
    const services = serviceRows.map(serviceOf);
    const latest = latestTasks(taskRows.map(taskOf));
    const byId = new Map(nodes.map((n) => [n.id, n]));
    return services.map((s) => summaryOf(s, latest.get(s.id), byId));
  }

  async inspect(idOrName: string): Promise<ContainerDetails | null> {
    const row = await this.ask<unknown>({ path: `/services/${idOrName}` }, () => null);
    if (row === null) return null;
    const service = serviceOf(row);
    const [tasks, nodes] = await Promise.all([this.tasksOf(service.id), this.allNodes()]);
    return detailsOf(service, latestTasks(tasks).get(service.id), new Map(nodes.map((n) => [n.id, n])));
  }

  async logs(idOrName: string, lines: number): Promise<string[]> {
    const query = { stdout: true, stderr: true, tail: lines, timestamps: false };
    let buf: unknown;
    try {
      buf = await this.call(
        this.timeouts.logsMs,
        (signal) => this.api.dial<unknown>({ path: `/services/${idOrName}/logs`, query }, signal),
        () => {
          throw new UserError('not-found', `There is no service ${idOrName} in the swarm.`);
        },
      );
    } catch (err) {
      if (statusOf(err) === undefined || err instanceof UserError) throw err;
      const why = isDict(err) && isDict(err.json) ? str(err.json.message) : String(err);
      throw logsUnreadable(idOrName, why, this.hostnames);
    }
    const bytes = Buffer.isBuffer(buf) ? buf : Buffer.from(typeof buf === 'string' ? buf : '');
    const failed = streamError(bytes);
    if (failed !== null) throw logsUnreadable(idOrName, failed, this.hostnames);
    return demuxLogLines(bytes);
  }

  /** The node (hostname) and container of a service's current task; undefined for no service. */
  private async placed(idOrName: string): Promise<{ hostname: string; containerId: string } | undefined> {
    const [task] = latestTasks(await this.tasksOf(idOrName)).values();
    if (task === undefined) return undefined;
    if (!task.nodeId || task.containerId === '') {
      throw new UserError('not-found', `${idOrName} has no container on any node.`);
    }
    const node =
      this.hostnames.get(task.nodeId) ?? nodeOf(await this.ask({ path: `/nodes/${task.nodeId}` }), {}).name;
    return { hostname: node, containerId: task.containerId };
  }

  async stats(idOrName: string): Promise<NetworkSample> {
    const at = await this.placed(idOrName);
    if (!at) throw new UserError('not-found', `There is no service ${idOrName} on the swarm.`);
    return this.endpoints.stats(at.hostname, at.containerId, idOrName);
  }

  inspectImage(tag: string): Promise<ImageInfo | null> {
    return this.manager.inspectImage(tag);
  }

  build(request: BuildRequest): Promise<ImageInfo> {
    return this.manager.build(request);
  }

  runToCompletion(request: RunToCompletionRequest): Promise<{ containerId: string; exitCode: number }> {
    return this.manager.runToCompletion(request);
  }

  /** A build's container is the manager's; an instance's (`save`) is committed on its node and copied to the manager. */
  async commit(request: CommitRequest): Promise<ImageInfo> {
    const at = await this.placed(request.containerId);
    if (!at) return this.manager.commit(request);
    await this.endpoints.commit(at.hostname, { ...request, containerId: at.containerId });
    await this.endpoints.copyImage(at.hostname, request.tag, 'to manager');
    const image = await this.manager.inspectImage(request.tag);
    if (!image)
      throw new Error(`Copying ${request.tag} from node ${at.hostname} left no image on the manager.`);
    return image;
  }

  removeImage(tag: string): Promise<void> {
    return this.manager.removeImage(tag);
  }
}
