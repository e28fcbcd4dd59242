// How the swarm engine calls an Engine API (the manager's, or a node's own), and what it asks a
// node's own engine: the stats of an instance's container (the manager cannot proxy them) and
// images, for copies from the manager without a registry. Plain: the dial functions come from
// engine/swarm.ts, the one place that holds dockerode clients.
import type { Readable } from 'node:stream';
import { UserError } from '../lib/errors.ts';
import type { DockerEngine } from './docker.ts';
import { isDict, type StatsAnswer, sampleOf, str } from './docker-data.ts';
import { statusOf, within } from './docker-errors.ts';
import { DOCKER_TIMEOUTS, type DockerEngineOptions, type DockerTimeouts } from './docker-timeouts.ts';
import type { CommitRequest, ImageInfo, NetworkSample } from './types.ts';

export interface SwarmTimeouts extends DockerTimeouts {
  /** From the service's creation to its task running (an image pulled or copied counts apart). */
  launchMs: number;
  /** How long a task may sit pending with a scheduler error ("no suitable node") before the launch fails. */
  pendingMs: number;
  /** After a service's removal: how long to wait for its task to stop, so its port is free. */
  removeWaitMs: number;
  /** Between two looks at a task. */
  pollMs: number;
}

export const SWARM_TIMEOUTS: Readonly<SwarmTimeouts> = {
  ...DOCKER_TIMEOUTS,
  launchMs: DOCKER_TIMEOUTS.quickMs + 60_000,
  pendingMs: 5_000,
  removeWaitMs: 15_000,
  pollMs: 150,
};

export interface SwarmEngineOptions extends Omit<DockerEngineOptions, 'timeouts'> {
  /** The public name or address of each node (by hostname), for URLs; else the address it reports. */
  nodeAddresses?: Readonly<Record<string, string>>;
  /** Each node's own engine (by hostname): for stats, and for copying images to it. */
  nodeEndpoints?: Readonly<Record<string, DockerEngineOptions>>;
  timeouts?: Partial<SwarmTimeouts>;
}

export interface ApiRequest {
  path: string;
  method?: 'GET' | 'POST' | 'DELETE';
  query?: Record<string, unknown>;
  body?: unknown;
  /** A request body streamed as is (an image tarball). */
  file?: Readable;
  /** Answer with the response stream rather than its parsed body. */
  isStream?: boolean;
}

/** One Engine API call, its request aborted by the signal. */
export type Dial = <T>(request: ApiRequest, signal: AbortSignal) => Promise<T>;

/** An engine the swarm engine calls: how, and how sentences name it. */
export interface Endpoint {
  dial: Dial;
  display: string;
}

/** A node's own engine: raw calls, and the one-host engine for what it already does (commit). */
export interface NodeEndpoint extends Endpoint {
  engine: DockerEngine;
}

/** The sentence of an engine that answers but is no swarm manager. */
export function notManager(display: string): UserError {
  return new UserError(
    'engine-unreachable',
    `The Docker engine at ${display} is not a swarm manager; run \`docker swarm init\` there, or point DOCKER_HOST at a manager of the swarm.`,
  );
}

/** A 503 of the manager is the swarm refusing (this engine is no manager, or the managers lost
 * their quorum): one sentence. Other errors pass through. */
export function swarmRefusal(err: unknown, display: string): unknown {
  if (statusOf(err) !== 503) return err;
  const why = isDict(err) && isDict(err.json) ? str(err.json.message) : '';
  if (/not a swarm manager/i.test(why)) return notManager(display);
  const sentence = `The swarm at ${display} cannot act now: ${why.replace(/\.*\s*$/, '')}.`;
  return new UserError('engine-unreachable', sentence, [], { cause: err });
}

/** The nodes' own engines, by hostname (SPREADSERVE_NODE_ENDPOINTS). */
export class NodeEngines {
  constructor(
    private readonly byHostname: ReadonlyMap<string, NodeEndpoint>,
    private readonly manager: Endpoint,
    private readonly timeouts: Readonly<DockerTimeouts>,
  ) {}

  has(hostname: string): boolean {
    return this.byHostname.has(hostname);
  }

  private endpoint(hostname: string): NodeEndpoint {
    const endpoint = this.byHostname.get(hostname);
    if (!endpoint) {
      throw new UserError(
        'not-found',
        `No engine endpoint is configured for node ${hostname}, so its instances cannot be sampled; set SPREADSERVE_NODE_ENDPOINTS.`,
      );
    }
    return endpoint;
  }

  /** One-shot network and CPU counters of a container on the node. */
  async stats(hostname: string, containerId: string, instance: string): Promise<NetworkSample> {
    const node = this.endpoint(hostname);
    const query = { stream: false, 'one-shot': true };
    const stats = await within(
      this.timeouts.quickMs,
      node.display,
      (signal) => node.dial<StatsAnswer>({ path: `/containers/${containerId}/stats`, query }, signal),
      () => {
        throw new UserError('not-found', `The container of ${instance} is gone from node ${hostname}.`);
      },
    );
    return sampleOf(stats);
  }

  /** The id of `tag` on the node's engine, or null when it lacks it. */
  imageId(hostname: string, tag: string): Promise<string | null> {
    const node = this.endpoint(hostname);
    return within(
      this.timeouts.quickMs,
      node.display,
      async (signal) => str((await node.dial<{ Id?: unknown }>({ path: `/images/${tag}/json` }, signal)).Id),
      () => null,
    );
  }

  /** `docker commit` of a container on the node (`save` on Swarm). */
  commit(hostname: string, request: CommitRequest): Promise<ImageInfo> {
    if (!this.has(hostname)) {
      throw new UserError(
        'not-found',
        `save needs the engine of node ${hostname}, where the instance runs; set SPREADSERVE_NODE_ENDPOINTS.`,
      );
    }
    return this.endpoint(hostname).engine.commit(request);
  }

  /** `docker save` on one side streamed into `docker load` on the other, within imageMs: from the
   * manager to the node (launches), or back (an image committed on the node). */
  async copyImage(
    hostname: string,
    tag: string,
    direction: 'to node' | 'to manager' = 'to node',
  ): Promise<void> {
    const node = this.endpoint(hostname);
    const [from, to] = direction === 'to node' ? [this.manager, node] : [node, this.manager];
    const answer = await within(this.timeouts.imageMs, to.display, async (signal) => {
      const tar = await from.dial<Readable>({ path: `/images/${tag}/get`, isStream: true }, signal);
      const load = { path: '/images/load', method: 'POST', query: { quiet: true }, file: tar } as const;
      return to.dial<unknown>(load, signal);
    });
    // A failed load still answers 200, with the error inside its stream of JSON messages.
    const text = Buffer.isBuffer(answer) ? answer.toString('utf8') : JSON.stringify(answer ?? '');
    const failure = /"error"\s*:\s*"([^"]*)"/.exec(text);
    if (failure) throw new Error(`Loading ${tag} ${direction} (node ${hostname}) failed: ${failure[1]}`);
  }
}
