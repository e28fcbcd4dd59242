// What Docker answers, read into the engine's types. dockerode types its answers loosely, so
// each one is narrowed here from the fields it is known to carry (plain data, no dockerode).
import type {
  ContainerDetails,
  ContainerState,
  ContainerSummary,
  EnginePlatform,
  ImageInfo,
  Labels,
  NetworkSample,
} from './types.ts';

// ---- narrowing helpers ----------------------------------------------------------------------

type Dict = Record<string, unknown>;
export const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);
export const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
const stringRecord = (v: unknown): Record<string, string> =>
  isDict(v)
    ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'))
    : {};

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

export const toEnvList = (env: Record<string, string>): string[] =>
  Object.entries(env).map(([k, v]) => `${k}=${v}`);

export function fromEnvList(list: string[]): Record<string, string> {
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

// ---- the answers ----------------------------------------------------------------------------

/** One row of GET /containers/json. */
export interface ContainerRow {
  Id: string;
  Names: string[];
  Image: string;
  Labels?: Labels;
  State: string;
  Status: string;
  /** Seconds since the epoch. */
  Created: number;
  NetworkSettings?: { Networks?: Record<string, unknown> };
}

export function summaryOf(row: ContainerRow): ContainerSummary {
  return {
    id: row.Id,
    name: (row.Names[0] ?? '').replace(/^\//, ''),
    image: row.Image,
    labels: row.Labels ?? {},
    state: toState(row.State),
    status: row.Status,
    createdAt: row.Created * 1000,
    networks: Object.keys(row.NetworkSettings?.Networks ?? {}),
  };
}

/** The labels of GET /networks/{id}. */
export const networkLabels = (answer: unknown): Labels => (isDict(answer) ? stringRecord(answer.Labels) : {});

/** The part of GET /containers/{id}/json the engine reads. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  Created: string;
  Config: { Image: string; Labels?: Labels; Env?: string[] };
  State: { Status: string; ExitCode: number; StartedAt: string; FinishedAt: string; Pid?: number };
}

export function detailsOf(info: ContainerInspect): ContainerDetails {
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
    pid: state === 'running' && num(info.State.Pid) > 0 ? num(info.State.Pid) : null,
  };
}

/** The labels of an image's config (GET /images/{name}/json), whatever else it holds. */
export const imageLabels = (config: unknown): Labels =>
  stringRecord(isDict(config) ? config.Labels : undefined);

/** The part of GET /images/{name}/json the engine reads. */
export interface ImageInspect {
  Id: string;
  Size: number;
  Created: string;
  Config?: unknown;
}

export function imageOf(tag: string, info: ImageInspect): ImageInfo {
  const c = isDict(info.Config) ? info.Config : {};
  return {
    id: info.Id,
    tag,
    sizeBytes: info.Size,
    createdAt: dockerTime(info.Created) ?? 0,
    labels: imageLabels(info.Config),
    env: strings(c.Env),
    cmd: strings(c.Cmd),
    exposedPorts: isDict(c.ExposedPorts) ? Object.keys(c.ExposedPorts) : [],
  };
}

/** The part of a one-shot GET /containers/{id}/stats the engine reads. */
export interface StatsAnswer {
  /** Absent for a stopped container. */
  networks?: Record<string, { tx_bytes?: unknown; rx_bytes?: unknown }>;
  cpu_stats?: { cpu_usage?: { total_usage?: unknown } };
}

export function sampleOf(stats: StatsAnswer): NetworkSample {
  let txBytes = 0;
  let rxBytes = 0;
  for (const net of Object.values(stats.networks ?? {})) {
    txBytes += num(net.tx_bytes);
    rxBytes += num(net.rx_bytes);
  }
  return { txBytes, rxBytes, cpuNs: num(stats.cpu_stats?.cpu_usage?.total_usage) };
}

/** GET /info, read for the platform: OSType is "windows" on a Windows engine, "linux" otherwise. */
export function platformOf(info: unknown, host: string): EnginePlatform {
  const i = isDict(info) ? info : {};
  return {
    os: str(i.OSType).toLowerCase() === 'windows' ? 'windows' : 'linux',
    osVersion: str(i.OperatingSystem) || str(i.OSVersion),
    kernelVersion: str(i.KernelVersion),
    engineVersion: str(i.ServerVersion),
    host,
  };
}
