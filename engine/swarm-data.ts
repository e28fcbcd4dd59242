// What a swarm manager answers (GET /nodes, /services, /tasks), read into the engine's types,
// and what a task's state means for an instance (plain data, no dockerode).
import { UserError } from '../lib/errors.ts';
import { fromEnvList, isDict, num, str } from './docker-data.ts';
import type {
  ContainerDetails,
  ContainerSpec,
  ContainerState,
  ContainerSummary,
  EngineNode,
  Labels,
} from './types.ts';

type Dict = Record<string, unknown>;
const dict = (v: unknown): Dict => (isDict(v) ? v : {});
const stringRecord = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(dict(v)).filter((e): e is [string, string] => typeof e[1] === 'string'));
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
/** Docker's zero time ("0001-01-01T00:00:00Z") means "never". */
const time = (text: unknown): number | null => {
  const ms = Date.parse(str(text));
  return Number.isFinite(ms) && ms > 0 ? ms : null;
};

// ---- nodes ------------------------------------------------------------------------------------

/** A node with what the engine needs beyond EngineNode: whether the manager has lost it. */
export interface SwarmNode extends EngineNode {
  /** Down or disconnected: its tasks' states are stale, its daemon unreachable from the manager. */
  down: boolean;
}

/** "10.231.0.11:2377" or "[fd00::1]:2377" -> the host part. */
const hostOf = (addr: string): string => addr.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');

/** One row of GET /nodes. The address: the configured public name for its hostname, else the one
 * it reports (a manager may report 0.0.0.0: then the host of its manager address). */
export function nodeOf(answer: unknown, addresses: Readonly<Record<string, string>>): SwarmNode {
  const n = dict(answer);
  const spec = dict(n.Spec);
  const status = dict(n.Status);
  const name = str(dict(n.Description).Hostname);
  const reported = str(status.Addr);
  const managerAddr = hostOf(str(dict(n.ManagerStatus).Addr));
  const usable = reported !== '' && reported !== '0.0.0.0';
  const state = str(status.State);
  return {
    id: str(n.ID),
    name,
    address:
      (Object.hasOwn(addresses, name) ? addresses[name] : undefined) ??
      (usable ? reported : managerAddr || reported),
    role: str(spec.Role) === 'manager' ? 'manager' : 'worker',
    labels: stringRecord(spec.Labels),
    available: state === 'ready' && str(spec.Availability) === 'active',
    down: state === 'down' || state === 'disconnected',
  };
}

// ---- services and tasks -----------------------------------------------------------------------

export interface ServiceView {
  id: string;
  name: string;
  image: string;
  labels: Labels;
  env: Record<string, string>;
  createdAt: number;
}

/** One row of GET /services (or GET /services/{id}). */
export function serviceOf(answer: unknown): ServiceView {
  const s = dict(answer);
  const spec = dict(s.Spec);
  const container = dict(dict(spec.TaskTemplate).ContainerSpec);
  return {
    id: str(s.ID),
    name: str(spec.Name),
    // A digest pinned by a client ("tag@sha256:...") is not part of the name users know.
    image: str(container.Image).replace(/@sha256:[0-9a-f]+$/, ''),
    labels: stringRecord(spec.Labels),
    env: fromEnvList(strings(container.Env)),
    createdAt: time(s.CreatedAt) ?? 0,
  };
}

export interface TaskView {
  id: string;
  serviceId: string;
  /** Empty until the scheduler assigns it. */
  nodeId: string;
  /** Swarm's task state: new, pending, assigned, ... running, complete, shutdown, failed, ... */
  state: string;
  desired: string;
  err: string;
  message: string;
  /** When it reached its current state. */
  since: number | null;
  createdAt: number;
  containerId: string;
  exitCode: number | null;
}

/** One row of GET /tasks. */
export function taskOf(answer: unknown): TaskView {
  const t = dict(answer);
  const status = dict(t.Status);
  const container = dict(status.ContainerStatus);
  return {
    id: str(t.ID),
    serviceId: str(t.ServiceID),
    nodeId: str(t.NodeID),
    state: str(status.State),
    desired: str(t.DesiredState),
    err: str(status.Err),
    message: str(status.Message),
    since: time(status.Timestamp),
    createdAt: time(t.CreatedAt) ?? 0,
    containerId: str(container.ContainerID),
    exitCode: typeof container.ExitCode === 'number' ? num(container.ExitCode) : null,
  };
}

/** Each service's newest task (a service of one replica that is never restarted has one; an
 * updated one keeps its old tasks for a while). */
export function latestTasks(tasks: readonly TaskView[]): Map<string, TaskView> {
  const latest = new Map<string, TaskView>();
  for (const t of tasks) {
    const seen = latest.get(t.serviceId);
    if (!seen || t.createdAt > seen.createdAt) latest.set(t.serviceId, t);
  }
  return latest;
}

/** States a task passes through before running. */
const STARTING = new Set([
  'new',
  'allocated',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
]);
/** States a task never leaves. */
export const ENDED = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']);

function ago(since: number | null): string {
  const s = since === null ? 0 : Math.max(0, Math.round((Date.now() - since) / 1000));
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${s} seconds`;
  if (s < 3600) return `${Math.round(s / 60)} minutes`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} hours`;
  return `${Math.round(s / 86400)} days`;
}

/** What a task means for its instance: a container state and a sentence like `docker ps` shows. */
export function stateOf(
  task: TaskView | undefined,
  nodes: ReadonlyMap<string, SwarmNode>,
): { state: ContainerState; status: string } {
  if (!task) return { state: 'created', status: 'Created (no task yet)' };
  const node = nodes.get(task.nodeId);
  const where = node ? node.name : task.nodeId || 'no node yet';
  const why = task.err || task.message;
  // A lost node's tasks keep their last reported state (often Running) while the node is down.
  if (node?.down) return { state: 'exited', status: `Lost: node ${where} is down` };
  if (task.state === 'running' && task.desired === 'running') {
    return { state: 'running', status: `Up ${ago(task.since)} on ${where}` };
  }
  if (STARTING.has(task.state) && task.desired === 'running') {
    return { state: 'created', status: task.err ? `Pending: ${task.err}` : `Starting on ${where}` };
  }
  switch (task.state) {
    case 'complete':
      return { state: 'exited', status: `Exited (${task.exitCode ?? 0}) ${ago(task.since)} ago on ${where}` };
    case 'failed':
    case 'rejected':
      return { state: 'exited', status: `Failed on ${where}: ${why || task.state}` };
    case 'orphaned':
      return { state: 'exited', status: `Lost: node ${where} was unreachable too long` };
    default:
      // Desired shutdown while it still runs (the swarm shut it down: node drained, or removed
      // from the swarm), or shut down already.
      return { state: 'exited', status: `Shut down on ${where}${why ? `: ${why}` : ''}` };
  }
}

export function summaryOf(
  service: ServiceView,
  task: TaskView | undefined,
  nodes: ReadonlyMap<string, SwarmNode>,
): ContainerSummary {
  return {
    id: service.id,
    name: service.name,
    image: service.image,
    labels: service.labels,
    ...stateOf(task, nodes),
    createdAt: service.createdAt,
    ...(task?.nodeId ? { node: task.nodeId } : {}),
  };
}

export function detailsOf(
  service: ServiceView,
  task: TaskView | undefined,
  nodes: ReadonlyMap<string, SwarmNode>,
): ContainerDetails {
  const summary = summaryOf(service, task, nodes);
  const running = summary.state === 'running';
  return {
    ...summary,
    exitCode: summary.state === 'exited' ? (task?.exitCode ?? null) : null,
    startedAt: running ? (task?.since ?? null) : null,
    env: service.env,
    // The pid is on the node's host, not this one (engine/host-sampler.ts does not sample Swarm).
    pid: null,
  };
}

// ---- a launch's outcome -------------------------------------------------------------------------

/** The task's own error when its port is taken: by a process or container on the node ("port is
 * already allocated", "address already in use"), or by another service's task on it (the
 * scheduler keeps the task pending: "host-mode port already in use on 1 node"). */
const PORT_TAKEN = /port is already allocated|address already in use|host-mode port already in use/i;

export type LaunchOutcome = { kind: 'running' } | { kind: 'waiting' } | { kind: 'failed'; error: UserError };

/**
 * Where a launched task stands. `pendingGiveUp`: whether it has waited with a scheduler error
 * (no suitable node) long enough to call it failed.
 */
export function launchOutcome(
  task: TaskView | undefined,
  spec: ContainerSpec,
  nodeName: string,
  pendingGiveUp: boolean,
): LaunchOutcome {
  if (!task) return { kind: 'waiting' };
  if (task.state === 'running') return { kind: 'running' };
  const ended = ENDED.has(task.state);
  const why = task.err || task.message || task.state;
  if (PORT_TAKEN.test(task.err) && (ended || task.state === 'pending')) {
    return {
      kind: 'failed',
      error: new UserError(
        'port-taken',
        `Host port ${spec.hostPort} on node ${nodeName} is already in use by another process, container or service.`,
      ),
    };
  }
  if (ended || (pendingGiveUp && task.err !== '')) {
    const sentence = why.replace(/\.*\s*$/, '');
    return {
      kind: 'failed',
      error: new UserError('unhealthy', `${spec.name} could not start on node ${nodeName}: ${sentence}.`),
    };
  }
  return { kind: 'waiting' };
}

/** Stream type 3 of Docker's multiplexed stream: the daemon's own error, sent after the 200 (a
 * service's logs from a node the manager has lost: "Error grabbing logs: node ... is not
 * available"). Its text, or null when the stream carries none. */
export function streamError(buf: Buffer): string | null {
  let at = 0;
  while (at + 8 <= buf.length && buf.readUInt8(at) <= 3 && buf.readUIntBE(at + 1, 3) === 0) {
    const size = buf.readUInt32BE(at + 4);
    if (buf.readUInt8(at) === 3)
      return buf
        .subarray(at + 8, at + 8 + size)
        .toString('utf8')
        .trim();
    at += 8 + size;
  }
  return null;
}

/** The manager reads each task's log from its node; a node it has lost fails the whole read
 * ("... some logs could not be retrieved ...: node <id> is not available"). */
export function logsUnreadable(
  idOrName: string,
  why: string,
  hostnames: ReadonlyMap<string, string>,
): UserError {
  const lost = /node (\w+) is not available/.exec(why)?.[1];
  const reason = lost ? `node ${hostnames.get(lost) ?? lost} is not available` : why.replace(/\.*\s*$/, '');
  return new UserError('engine-unreachable', `The logs of ${idOrName} cannot be read now: ${reason}.`);
}
