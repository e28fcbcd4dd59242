// How every instance container is confined on a Linux engine (pure: the HostConfig part of a
// create call; engine/docker-platform.ts chooses it per platform). All of it exists in Engine API
// 1.41, so Debian's docker.io 20.10 applies it.
import type { ContainerSpec } from './types.ts';

/** Capabilities an instance gets back after dropping all: binding a port below 1024 (port 80). */
export const INSTANCE_CAPS = ['NET_BIND_SERVICE'] as const;
/** Processes (threads included) an instance may hold when its spec gives no limit. */
export const DEFAULT_PIDS_LIMIT = 256;
/** Each instance's log: json-file, rotated at 10 MB, three files kept (at most ~30 MB on disk). */
export const LOG_LIMITS = { maxSize: '10m', maxFile: '3' } as const;
/** The log configuration of every instance (json-file is a Windows engine's default driver too). */
export const ROTATED_LOG = {
  Type: 'json-file',
  Config: { 'max-size': LOG_LIMITS.maxSize, 'max-file': LOG_LIMITS.maxFile },
};
/** The tmpfs a read-only instance writes to. */
export const READ_ONLY_TMPFS = { '/tmp': 'rw,noexec,nosuid,size=64m' } as const;

/** Every container the engine creates: no privilege gain, and an init as PID 1 that forwards
 * SIGTERM, so a server that ignores it stops in ~0.2 s, not 10 s. */
export const BASE_HARDENING = { SecurityOpt: ['no-new-privileges'], Init: true };

/** The HostConfig confinement of an instance: capabilities, pids, log, memory (swap equal to
 * memory, so none), CPU, and optionally a read-only root and a network. */
export function instanceHostConfig(spec: ContainerSpec) {
  return {
    ...BASE_HARDENING,
    CapDrop: ['ALL'],
    CapAdd: [...INSTANCE_CAPS],
    PidsLimit: spec.pidsLimit ?? DEFAULT_PIDS_LIMIT,
    LogConfig: ROTATED_LOG,
    ...(spec.memoryBytes !== undefined ? { Memory: spec.memoryBytes, MemorySwap: spec.memoryBytes } : {}),
    ...(spec.nanoCpus !== undefined ? { NanoCpus: spec.nanoCpus } : {}),
    ...(spec.readOnly ? { ReadonlyRootfs: true, Tmpfs: { ...READ_ONLY_TMPFS } } : {}),
    ...(spec.network ? { NetworkMode: spec.network.name } : {}),
  };
}
