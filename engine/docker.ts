// ContainerEngine on one Docker host through dockerode (the only module importing it).
// Every Docker failure a user can act on becomes a UserError; the rest stay plain Errors.
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { pack } from 'tar-fs';
import { UserError } from '../lib/errors.ts';
import {
  type BuildProgress,
  type BuildRequest,
  type CommitRequest,
  type ContainerDetails,
  type ContainerEngine,
  type ContainerSpec,
  type ContainerState,
  type ContainerSummary,
  type ImageInfo,
  type Labels,
  type NetworkSample,
  type RunToCompletionRequest,
  splitImageTag,
} from './types.ts';

const DEFAULT_SOCKET = '/var/run/docker.sock';
/** Socket and network errors that mean "Docker is not there", whatever the call. */
const UNREACHABLE_CODES = new Set([
  'ENOENT',
  'ECONNREFUSED',
  'EACCES',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const BUILD_TAIL_LINES = 20;

export interface DockerTarget {
  /** The address as users write it, for messages: unix:///var/run/docker.sock, tcp://host:2375. */
  display: string;
  socketPath?: string;
  host?: string;
  port?: number;
}

/** Reads DOCKER_HOST like the docker CLI: unix:///path, tcp://host[:port], host:port; unset = local socket. */
export function parseDockerHost(value: string | undefined): DockerTarget {
  const text = value?.trim() ?? '';
  if (text === '') return { display: `unix://${DEFAULT_SOCKET}`, socketPath: DEFAULT_SOCKET };
  if (text.startsWith('unix://')) {
    const socketPath = text.slice('unix://'.length) || DEFAULT_SOCKET;
    return { display: `unix://${socketPath}`, socketPath };
  }
  const withScheme = text.includes('://') ? text : `tcp://${text}`;
  let url: URL | undefined;
  try {
    url = new URL(withScheme);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'tcp:' && url.protocol !== 'http:') || url.hostname === '') {
    throw new UserError(
      'engine-unreachable',
      `DOCKER_HOST "${text}" is not an address this bot can use; set it to unix:///path/to/docker.sock or tcp://host:port.`,
    );
  }
  // The docker CLI's default for plain tcp is 2375.
  const port = url.port === '' ? 2375 : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { display: `tcp://${url.hostname}:${port}`, host, port };
}

// ---- narrowing helpers for what dockerode throws and returns (typed loosely upstream) ----

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
const stringRecord = (v: unknown): Record<string, string> =>
  isDict(v)
    ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'))
    : {};

function statusOf(err: unknown): number | undefined {
  return isDict(err) && typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

/** Docker's own sentence (from the JSON body) rather than dockerode's "(HTTP code 404) ..." wrapper. */
function dockerMessage(err: unknown): string {
  if (isDict(err) && isDict(err.json) && typeof err.json.message === 'string') return err.json.message;
  // Streaming calls (build) carry no JSON body: strip dockerode's prefix from the message instead.
  if (err instanceof Error) return err.message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
  return String(err);
}

/** Runs fn, rejecting with UserError('timeout', message) as soon as the signal fires. */
function abortable<T>(signal: AbortSignal | undefined, message: string, fn: () => Promise<T>): Promise<T> {
  if (!signal) return fn();
  if (signal.aborted) return Promise.reject(new UserError('timeout', message));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new UserError('timeout', message));
    signal.addEventListener('abort', onAbort, { once: true });
    fn().then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

const STATES: readonly ContainerState[] = [
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
];
const toState = (s: string): ContainerState =>
  (STATES as readonly string[]).includes(s) ? (s as ContainerState) : 'dead';

const toEnvList = (env: Record<string, string>): string[] => Object.entries(env).map(([k, v]) => `${k}=${v}`);
function fromEnvList(list: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of list) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** "Up 5 minutes" / "Exited (1) 2 seconds ago", roughly as `docker ps` words it (inspect has no such field). */
function humanStatus(
  state: ContainerState,
  exitCode: number,
  startedAt: number | null,
  finishedAt: number | null,
) {
  const ago = (since: number) => {
    const s = Math.max(0, Math.round((Date.now() - since) / 1000));
    if (s < 1) return 'Less than a second';
    if (s < 60) return `${s} seconds`;
    if (s < 3600) return `${Math.round(s / 60)} minutes`;
    if (s < 48 * 3600) return `${Math.round(s / 3600)} hours`;
    return `${Math.round(s / 86400)} days`;
  };
  if (state === 'running' && startedAt !== null) return `Up ${ago(startedAt)}`;
  if (state === 'exited' && finishedAt !== null) return `Exited (${exitCode}) ${ago(finishedAt)} ago`;
  return state.charAt(0).toUpperCase() + state.slice(1);
}

/** Docker's zero time ("0001-01-01T00:00:00Z") means "never". */
function dockerTime(text: unknown): number | null {
  const ms = Date.parse(str(text));
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}

/** Splits a log Buffer into lines. Without a TTY Docker multiplexes stdout and stderr into frames
 * of an 8-byte header (stream type, 3 zero bytes, big-endian payload size) and the payload. */
export function demuxLogLines(buf: Buffer): string[] {
  const multiplexed = buf.length >= 8 && buf[0]! <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!multiplexed) return splitLines(buf.toString('utf8'));
  const lines: string[] = [];
  // Partial lines are kept per stream so a stdout fragment never merges with a stderr line.
  const pending = new Map<number, string>();
  let at = 0;
  while (at + 8 <= buf.length) {
    const stream = buf[at]!;
    const size = buf.readUInt32BE(at + 4);
    const text = (pending.get(stream) ?? '') + buf.subarray(at + 8, at + 8 + size).toString('utf8');
    at += 8 + size;
    const parts = text.split('\n');
    pending.set(stream, parts.pop() ?? '');
    lines.push(...parts.map(stripCr));
  }
  for (const rest of pending.values()) if (rest !== '') lines.push(stripCr(rest));
  return lines;
}
const stripCr = (line: string) => line.replace(/\r$/, '');
const splitLines = (text: string): string[] => {
  const lines = text.split('\n').map(stripCr);
  if (lines.at(-1) === '') lines.pop();
  return lines;
};

/** A Dockerfile double-quoted word: commit `changes` are parsed as Dockerfile lines, with $ expansion. */
function dockerfileWord(value: string): string {
  if (/[\r\n]/.test(value))
    throw new Error(`A value for docker commit may not contain a line break: ${value}`);
  return `"${value.replace(/[\\"$]/g, '\\$&')}"`;
}

const STEP_RE = /^Step (\d+)\/(\d+) : /;

/** Every container this engine creates: no privilege gain, and an init as PID 1 that forwards
 * SIGTERM, so a server that ignores it stops in ~0.2 s, not 10 s. */
const HARDENING = { SecurityOpt: ['no-new-privileges'], Init: true };

function createError(err: unknown, name: string, image: string): unknown {
  const status = statusOf(err);
  if (status === 404 && /no such image/i.test(dockerMessage(err))) {
    return new UserError('not-found', `The image ${image} does not exist on the Docker host.`, [], {
      cause: err,
    });
  }
  if (status === 409) {
    return new UserError('conflict', `A container named ${name} already exists.`, [], { cause: err });
  }
  return err;
}

function startError(err: unknown, spec: ContainerSpec): unknown {
  // "Bind for ...: port is already allocated" (another container) or "bind: address already in use" (a host process).
  if (/port is already allocated|address already in use/i.test(dockerMessage(err))) {
    return new UserError(
      'port-taken',
      `Host port ${spec.hostPort} on ${spec.bindIp} is already in use by another process or container.`,
      [],
      { cause: err },
    );
  }
  return err;
}

/** For calls on one container: a 404 means the name or id is unknown. */
function noSuchContainer(idOrName: string): never {
  throw new UserError('not-found', `There is no container ${idOrName} on the Docker host.`);
}

export class DockerEngine implements ContainerEngine {
  private readonly docker: Docker;
  private readonly target: DockerTarget;

  constructor(options: { dockerHost?: string } = {}) {
    this.target = parseDockerHost(options.dockerHost);
    const { socketPath, host, port } = this.target;
    // No API version pinned: this engine answers 400 to newer pins (FACTS). host/socketPath are both
    // given explicitly because docker-modem also reads DOCKER_HOST from the environment and would
    // otherwise let it win over our option.
    this.docker = new Docker(
      socketPath !== undefined
        ? { socketPath, host: undefined, port: undefined, protocol: 'http' }
        : { host, port, protocol: 'http', socketPath: undefined },
    );
  }

  /** The one error mapper: connection failures become 'engine-unreachable', the rest pass through. */
  private mapError(err: unknown): unknown {
    if (err instanceof UserError) return err;
    const code = isDict(err) && typeof err.code === 'string' ? err.code : undefined;
    if (code !== undefined && UNREACHABLE_CODES.has(code)) {
      return new UserError(
        'engine-unreachable',
        `Docker is not reachable at ${this.target.display} (${code}); start it or fix DOCKER_HOST.`,
        [],
        { cause: err },
      );
    }
    return err;
  }

  /** Runs one engine call; 404 answers become `onMissing()` when given, other errors go through mapError. */
  private async call<T>(fn: () => Promise<T>, onMissing?: () => T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (onMissing && statusOf(err) === 404) return onMissing();
      throw this.mapError(err);
    }
  }

  /** Creates a container; a missing image or a taken name becomes a UserError. */
  private create(options: Docker.ContainerCreateOptions & { name: string; Image: string }) {
    return this.call(async () => {
      try {
        return await this.docker.createContainer(options);
      } catch (err) {
        throw createError(err, options.name, options.Image);
      }
    });
  }

  async ping(): Promise<void> {
    await this.call(() => this.docker.ping());
  }

  async createAndStart(spec: ContainerSpec): Promise<string> {
    const port = `${spec.containerPort}/tcp`;
    const container = await this.create({
      name: spec.name,
      Image: spec.image,
      Labels: spec.labels,
      Env: toEnvList(spec.env),
      ...(spec.command ? { Cmd: spec.command } : {}),
      ExposedPorts: { [port]: {} },
      HostConfig: {
        PortBindings: { [port]: [{ HostIp: spec.bindIp, HostPort: String(spec.hostPort) }] },
        ...(spec.memoryBytes !== undefined ? { Memory: spec.memoryBytes } : {}),
        ...(spec.nanoCpus !== undefined ? { NanoCpus: spec.nanoCpus } : {}),
        ...HARDENING,
      },
    });
    try {
      await this.call(() => container.start());
    } catch (err) {
      // A container that never started is useless and would hold its name: remove it.
      await this.remove(container.id).catch(() => undefined);
      throw startError(err, spec);
    }
    return container.id;
  }

  async remove(idOrName: string): Promise<void> {
    // force: kill (no stop grace period) and remove in one call.
    await this.call(
      () => this.docker.getContainer(idOrName).remove({ force: true }),
      () => undefined,
    );
  }

  async list(labels: Labels): Promise<ContainerSummary[]> {
    const label = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
    const rows = await this.call(() => this.docker.listContainers({ all: true, filters: { label } }));
    return rows.map((row) => ({
      id: row.Id,
      name: (row.Names[0] ?? '').replace(/^\//, ''),
      image: row.Image,
      labels: row.Labels ?? {},
      state: toState(row.State),
      status: row.Status,
      createdAt: row.Created * 1000,
    }));
  }

  async inspect(idOrName: string): Promise<ContainerDetails | null> {
    const info = await this.call<Docker.ContainerInspectInfo | null>(
      () => this.docker.getContainer(idOrName).inspect(),
      () => null,
    );
    if (info === null) return null;
    const state = toState(info.State.Status);
    const startedAt = dockerTime(info.State.StartedAt);
    const stopped = state === 'exited' || state === 'dead';
    return {
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      image: info.Config.Image,
      labels: info.Config.Labels ?? {},
      state,
      status: humanStatus(state, info.State.ExitCode, startedAt, dockerTime(info.State.FinishedAt)),
      createdAt: dockerTime(info.Created) ?? 0,
      exitCode: stopped ? info.State.ExitCode : null,
      startedAt,
      env: fromEnvList(info.Config.Env ?? []),
    };
  }

  async logs(idOrName: string, lines: number): Promise<string[]> {
    const buf = await this.call(
      () =>
        this.docker
          .getContainer(idOrName)
          .logs({ stdout: true, stderr: true, tail: lines, timestamps: false }),
      () => noSuchContainer(idOrName),
    );
    return demuxLogLines(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
  }

  async stats(idOrName: string): Promise<NetworkSample> {
    // one-shot: answered at the next collector tick instead of waiting for two samples (~2 s).
    const stats = await this.call(
      () => this.docker.getContainer(idOrName).stats({ stream: false, 'one-shot': true }),
      () => noSuchContainer(idOrName),
    );
    let txBytes = 0;
    let rxBytes = 0;
    // A stopped container has no `networks`.
    for (const net of Object.values(stats.networks ?? {})) {
      txBytes += num(net.tx_bytes);
      rxBytes += num(net.rx_bytes);
    }
    return { txBytes, rxBytes, cpuNs: num(stats.cpu_stats?.cpu_usage?.total_usage) };
  }

  async inspectImage(tag: string): Promise<ImageInfo | null> {
    const info = await this.call<Docker.ImageInspectInfo | null>(
      () => this.docker.getImage(tag).inspect(),
      () => null,
    );
    if (info === null) return null;
    const config: unknown = info.Config;
    const c = isDict(config) ? config : {};
    return {
      id: info.Id,
      tag,
      sizeBytes: info.Size,
      createdAt: dockerTime(info.Created) ?? 0,
      labels: stringRecord(c.Labels),
      env: strings(c.Env),
      cmd: strings(c.Cmd),
      exposedPorts: isDict(c.ExposedPorts) ? Object.keys(c.ExposedPorts) : [],
    };
  }

  async build(request: BuildRequest): Promise<ImageInfo> {
    const { tag, signal } = request;
    const stopped = 'The build was stopped.';
    const tail: string[] = [];
    let step: BuildProgress['step'];
    let failure: string | undefined;

    const onText = makeLineSplitter((line) => {
      const m = STEP_RE.exec(line);
      if (m) step = { index: Number(m[1]), total: Number(m[2]) };
      tail.push(line);
      if (tail.length > BUILD_TAIL_LINES) tail.shift();
      request.onProgress?.(m ? { line, step } : { line });
    });
    const onObject = (obj: unknown) => {
      if (!isDict(obj)) return;
      if (typeof obj.stream === 'string') onText(obj.stream);
      // A failed build arrives as an object in the output, not as an error to followProgress.
      const detail = isDict(obj.errorDetail) ? str(obj.errorDetail.message) : '';
      const error = str(obj.error) || detail;
      if (error !== '' && failure === undefined) failure = error;
    };

    // Checked here: a missing context would surface as a tar ENOENT, read as "Docker unreachable".
    const context = await stat(request.contextDir).catch(() => null);
    if (!context?.isDirectory()) {
      throw new UserError('not-found', `The build context ${request.contextDir} is not a directory.`);
    }

    await abortable(signal, stopped, async () => {
      let output: NodeJS.ReadableStream;
      try {
        output = await this.call(() =>
          this.docker.buildImage(Readable.from(pack(request.contextDir)), {
            t: tag,
            dockerfile: request.dockerfile,
            nocache: request.noCache ?? false,
            // Never pull: no registry is reachable; a missing base image fails at its FROM step.
            pull: false,
            rm: true,
            forcerm: true,
            ...(request.labels ? { labels: request.labels } : {}),
            ...(signal ? { abortSignal: signal } : {}),
          }),
        );
      } catch (err) {
        // Errors before the first step (no such Dockerfile, bad context) come as HTTP 500.
        if (err instanceof UserError || statusOf(err) === undefined) throw err;
        throw new UserError('build-failed', `The build of ${tag} failed: ${dockerMessage(err)}`, [], {
          cause: err,
        });
      }
      // Closing the response makes the daemon cancel the build and remove its intermediate container.
      const destroy = () => (output as Readable).destroy();
      if (signal?.aborted) destroy();
      signal?.addEventListener('abort', destroy, { once: true });
      try {
        await new Promise<void>((resolve, reject) => {
          this.docker.modem.followProgress(
            output,
            (err) => (err ? reject(this.mapError(err)) : resolve()),
            onObject,
          );
        });
      } finally {
        signal?.removeEventListener('abort', destroy);
      }
    });
    onText('\n'); // flush a last line without a newline
    if (failure !== undefined) {
      const at = step ? ` at step ${step.index}/${step.total}` : '';
      throw new UserError('build-failed', `The build of ${tag} failed${at}: ${failure}`, [...tail]);
    }
    const image = await this.inspectImage(tag);
    if (!image) throw new Error(`The build of ${tag} reported success but the image is missing.`);
    return image;
  }

  async runToCompletion(request: RunToCompletionRequest): Promise<{ containerId: string; exitCode: number }> {
    const container = await this.create({
      name: request.name,
      Image: request.image,
      Cmd: request.command,
      Labels: request.labels,
      Env: toEnvList(request.env ?? {}),
      HostConfig: { ...HARDENING },
    });
    try {
      const result = await abortable(request.signal, 'The install was stopped.', async () => {
        await this.call(() => container.start());
        return this.call(() => container.wait());
      });
      const exitCode = isDict(result) ? num(result.StatusCode) : 0;
      return { containerId: container.id, exitCode };
    } catch (err) {
      // Stopped or failed before exiting: nobody will commit it, so do not leave it behind.
      await this.remove(container.id).catch(() => undefined);
      throw err;
    }
  }

  async commit(request: CommitRequest): Promise<ImageInfo> {
    const { repo, tag } = splitImageTag(request.tag);
    const container = this.docker.getContainer(request.containerId);
    // Docker copies the one-off container's labels into the image, and containers inherit image
    // labels: blank the ones the run added (keeping the base image's), so an instance never
    // carries e.g. the build label. Docker cannot delete a label, only set it.
    const info = await this.call(
      () => container.inspect(),
      () => noSuchContainer(request.containerId),
    );
    const base = await this.call(() => this.docker.getImage(info.Image).inspect());
    const baseConfig: unknown = base.Config;
    const baseLabels = stringRecord(isDict(baseConfig) ? baseConfig.Labels : undefined);
    const labels: Labels = {};
    for (const [key, value] of Object.entries(info.Config.Labels ?? {})) {
      if (baseLabels[key] !== value) labels[key] = baseLabels[key] ?? '';
    }
    Object.assign(labels, request.labels ?? {});
    const changes = [
      // Without CMD the image would keep the install command as its command (FACTS).
      `CMD ${JSON.stringify(request.command)}`,
      `EXPOSE ${request.exposedPort}/tcp`,
      ...Object.entries(request.env).map(([k, v]) => `ENV ${k}=${dockerfileWord(v)}`),
      ...Object.entries(labels).map(([k, v]) => `LABEL ${dockerfileWord(k)}=${dockerfileWord(v)}`),
    ];
    // dockerode sends an array as repeated `changes` query parameters, which the API accepts.
    await this.call(() => container.commit({ repo, tag, changes }));
    const image = await this.inspectImage(request.tag);
    if (!image) throw new Error(`docker commit of ${request.containerId} made no image ${request.tag}.`);
    return image;
  }

  async removeImage(tag: string): Promise<void> {
    try {
      await this.call(
        () => this.docker.getImage(tag).remove(),
        () => undefined,
      );
    } catch (err) {
      if (statusOf(err) === 409) {
        throw new UserError('conflict', `The image ${tag} is used by a container; remove that first.`, [], {
          cause: err,
        });
      }
      throw err;
    }
  }
}

/** Feeds chunks of text; calls onLine for each complete line (the builder splits lines across chunks). */
function makeLineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let pending = '';
  return (chunk) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) {
      const line = stripCr(part);
      if (line.trim() !== '') onLine(line);
    }
  };
}
