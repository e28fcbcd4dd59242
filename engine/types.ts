// The narrow container engine the core needs. engine/docker.ts implements it with dockerode on
// one host; engine/swarm.ts with Swarm services (one replica each) across a swarm's nodes.
// Failures are thrown as UserError with kind 'not-found', 'conflict', 'port-taken' or
// 'engine-unreachable' (see lib/errors.ts); anything else as a plain Error.

export type Labels = Record<string, string>;

/** "repo/name:tag" -> repo and tag; a registry port ("host:5000/x") is not a tag. */
export function splitImageTag(image: string): { repo: string; tag: string } {
  const colon = image.lastIndexOf(':');
  if (colon > image.lastIndexOf('/')) return { repo: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { repo: image, tag: 'latest' };
}

/** The operating system of the engine's containers (Docker's OSType). */
export type EngineOs = 'linux' | 'windows';
/** How a Windows container is isolated: sharing the host's kernel, or in a utility VM. */
export type WindowsIsolation = 'process' | 'hyperv';

/** What the engine runs, from GET /info: learned once per engine. */
export interface EnginePlatform {
  os: EngineOs;
  /** Docker's OperatingSystem, e.g. "Windows Server 2022 Datacenter Version 2009 (OS Build 20348.2113)". */
  osVersion: string;
  kernelVersion: string;
  /** Docker's ServerVersion, e.g. "24.0.7". */
  engineVersion: string;
  /** Where the engine was reached, as DOCKER_HOST names it (for sentences about it). */
  host: string;
}

export interface ContainerSpec {
  /** Docker container name, e.g. spreadserve-alice-demo. */
  name: string;
  image: string;
  labels: Labels;
  env: Record<string, string>;
  /** Overrides the image's CMD when set. */
  command?: string[];
  containerPort: number;
  hostPort: number;
  /** Host address the port is published on. */
  bindIp: string;
  /** Memory limit; swap is set equal to it (no swap). */
  memoryBytes?: number;
  nanoCpus?: number;
  /** Processes and threads the container may hold; DEFAULT_PIDS_LIMIT when absent. */
  pidsLimit?: number;
  /** Read-only root file system, with a small tmpfs on /tmp. */
  readOnly?: boolean;
  /** "uid[:gid]" (or a user name of the image) the command runs as; the image's user when absent. */
  user?: string;
  /** A bridge network of the bot's own, created (with these labels and inter-container traffic
   * off) when missing; Docker's default bridge when absent. Linux only: a Windows engine has no
   * bridge driver, so its containers stay on its default `nat` network. */
  network?: { name: string; labels: Labels };
  /** Windows only: process or Hyper-V isolation; the engine's default when absent. */
  isolation?: WindowsIsolation;
  /** Multi-host engines (Swarm): the id of the node it must run on (the bot chose it and
   * reserved the port there); absent on a single host. */
  node?: string;
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** What one list call returns per container: enough for `list` without inspecting each. */
export interface ContainerSummary {
  id: string;
  /** Without Docker's leading slash. */
  name: string;
  image: string;
  labels: Labels;
  state: ContainerState;
  /** Docker's human status, e.g. "Up 5 minutes", "Exited (1) 2 seconds ago". */
  status: string;
  createdAt: number;
  /** The networks it is attached to, by name (from a list answer; absent from inspect's). */
  networks?: string[];
  /** Multi-host engines (Swarm): the id of the node it runs (or ran) on. */
  node?: string;
}

/** A machine of a multi-host engine (a Swarm node) that may run instances. */
export interface EngineNode {
  /** Swarm's node id: stable while the node stays in the swarm. */
  id: string;
  /** Its hostname (Description.Hostname), shown to users. */
  name: string;
  /** Where its published ports are reached: the configured public name for it, else the address
   * it reports (a manager reporting 0.0.0.0 gives its manager address instead). */
  address: string;
  role: 'manager' | 'worker';
  /** Spec.Labels, for placement constraints. */
  labels: Labels;
  /** Ready and Active: new instances may be placed on it. */
  available: boolean;
}

export interface ContainerDetails extends ContainerSummary {
  exitCode: number | null;
  startedAt: number | null;
  env: Record<string, string>;
  /** The main process's pid on the engine's host while it runs; null otherwise. */
  pid: number | null;
}

export interface NetworkSample {
  /** Cumulative bytes the container sent / received over all its interfaces. */
  txBytes: number;
  rxBytes: number;
  /** Cumulative CPU time in nanoseconds. */
  cpuNs: number;
}

export interface ImageInfo {
  id: string;
  tag: string;
  sizeBytes: number;
  createdAt: number;
  labels: Labels;
  env: string[];
  cmd: string[];
  exposedPorts: string[];
}

export interface BuildProgress {
  /** One line of builder output, e.g. "Step 2/3 : ADD ss031.sh /install/". */
  line: string;
  /** Set when the line starts a step: 1-based step and step count. */
  step?: { index: number; total: number };
}

export interface BuildRequest {
  /** Directory sent as the build context. */
  contextDir: string;
  dockerfile: string;
  tag: string;
  noCache?: boolean;
  labels?: Labels;
  signal?: AbortSignal;
  onProgress?: (progress: BuildProgress) => void;
}

export interface RunToCompletionRequest {
  name: string;
  image: string;
  command: string[];
  labels: Labels;
  env?: Record<string, string>;
  /** Windows only, as in ContainerSpec. */
  isolation?: WindowsIsolation;
  signal?: AbortSignal;
}

export interface CommitRequest {
  containerId: string;
  tag: string;
  command: string[];
  env: Record<string, string>;
  exposedPort: number;
  labels?: Labels;
}

export interface ContainerEngine {
  /** How the engine is reached: kind 'unix' is this machine's own socket, so its containers'
   * processes are in this machine's /proc (engine/host-sampler.ts). */
  readonly target: { readonly kind: string; readonly display: string };
  /** Resolves when the engine answers; throws 'engine-unreachable' otherwise. */
  ping(): Promise<void>;
  /** Multi-host engines only: the nodes instances may run on, with `constraints` (Swarm's
   * placement syntax, e.g. "node.labels.zone==a") applied. Absent: everything runs on one host. */
  nodes?(constraints?: readonly string[]): Promise<EngineNode[]>;
  /** Multi-host engines only: whether the counters of containers on this node (id) can be read
   * (Swarm: the node has an engine endpoint); absent: always. */
  canSample?(node: string): boolean;
  /** Multi-host engines only: how a built image reaches the nodes, in one sentence. */
  imageDelivery?(): Promise<string>;
  /** The engine's OS and versions, asked once (a failed lookup is asked again next time). */
  platform(): Promise<EnginePlatform>;
  /** Creates and starts a container with one published port; returns its id. */
  createAndStart(spec: ContainerSpec): Promise<string>;
  /** Stops (no grace wait beyond a moment) and removes; a missing container is not an error. */
  remove(idOrName: string): Promise<void>;
  /** All containers (running or not) carrying every given label, in one engine call. */
  list(labels: Labels): Promise<ContainerSummary[]>;
  /** null when there is no such container. */
  inspect(idOrName: string): Promise<ContainerDetails | null>;
  /** The last `lines` lines of stdout and stderr, interleaved as written. */
  logs(idOrName: string, lines: number): Promise<string[]>;
  /** One-shot network and CPU counters. */
  stats(idOrName: string): Promise<NetworkSample>;
  /** null when the image is missing. */
  inspectImage(tag: string): Promise<ImageInfo | null>;
  build(request: BuildRequest): Promise<ImageInfo>;
  /** Runs a one-off container until it exits; returns its id and exit code (container kept). */
  runToCompletion(request: RunToCompletionRequest): Promise<{ containerId: string; exitCode: number }>;
  commit(request: CommitRequest): Promise<ImageInfo>;
  removeImage(tag: string): Promise<void>;
}
