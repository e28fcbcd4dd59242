// The one place where a container's create body differs per platform (pure: plain data, no
// dockerode). Linux gets the hardening of docker-hardening.ts and the bot's own bridge network.
// Windows gets what a Windows engine takes: moby's verifyPlatformContainerResources
// (daemon/daemon_windows.go) refuses MemorySwap and PidsLimit outright, a Windows engine has no
// init, no Linux capabilities or security options, no read-only root or tmpfs, and no bridge
// driver (its containers stay on the default `nat` network). What it does take: Memory, NanoCpus
// (turned into a CPU percentage; more than the host has is refused) and Isolation.
import { toEnvList } from './docker-data.ts';
import { BASE_HARDENING, instanceHostConfig, ROTATED_LOG } from './docker-hardening.ts';
import type { ContainerSpec, EngineOs, Labels, RunToCompletionRequest, WindowsIsolation } from './types.ts';

/** The HostConfig fields this bot ever sends. */
export interface HostConfigBody {
  PortBindings?: Record<string, { HostIp: string; HostPort: string }[]>;
  Init?: boolean;
  SecurityOpt?: string[];
  CapDrop?: string[];
  CapAdd?: string[];
  PidsLimit?: number;
  LogConfig?: { Type: string; Config: Record<string, string> };
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  ReadonlyRootfs?: boolean;
  Tmpfs?: Record<string, string>;
  NetworkMode?: string;
  Isolation?: WindowsIsolation;
}

/** The body of POST /containers/create (with the name dockerode sends as a query parameter). */
export interface CreateBody {
  name: string;
  Image: string;
  Labels: Labels;
  Env: string[];
  Cmd?: string[];
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  HostConfig: HostConfigBody;
}

/** Whether instances on this platform join the bot's own bridge network (created when missing). */
export function joinsOwnNetwork(
  spec: ContainerSpec,
  os: EngineOs,
): spec is ContainerSpec & {
  network: NonNullable<ContainerSpec['network']>;
} {
  return os === 'linux' && spec.network !== undefined;
}

/** What Windows supports of an instance's limits: memory (no swap setting), CPUs, isolation. */
function windowsHostConfig(spec: ContainerSpec): HostConfigBody {
  return {
    LogConfig: ROTATED_LOG,
    ...(spec.memoryBytes !== undefined ? { Memory: spec.memoryBytes } : {}),
    ...(spec.nanoCpus !== undefined ? { NanoCpus: spec.nanoCpus } : {}),
    ...(spec.isolation ? { Isolation: spec.isolation } : {}),
  };
}

/** The create body of an instance: one published port, and the platform's own confinement. */
export function instanceCreateBody(spec: ContainerSpec, os: EngineOs): CreateBody {
  const port = `${spec.containerPort}/tcp`;
  return {
    name: spec.name,
    Image: spec.image,
    Labels: spec.labels,
    Env: toEnvList(spec.env),
    ...(spec.command ? { Cmd: spec.command } : {}),
    ...(spec.user ? { User: spec.user } : {}),
    ExposedPorts: { [port]: {} },
    HostConfig: {
      PortBindings: { [port]: [{ HostIp: spec.bindIp, HostPort: String(spec.hostPort) }] },
      ...(os === 'linux' ? instanceHostConfig(spec) : windowsHostConfig(spec)),
    },
  };
}

/** The create body of a one-off container (a commit build's install run). */
export function oneOffCreateBody(request: RunToCompletionRequest, os: EngineOs): CreateBody {
  return {
    name: request.name,
    Image: request.image,
    Cmd: request.command,
    Labels: request.labels,
    Env: toEnvList(request.env ?? {}),
    HostConfig:
      os === 'linux'
        ? { ...BASE_HARDENING }
        : { ...(request.isolation ? { Isolation: request.isolation } : {}) },
  };
}
