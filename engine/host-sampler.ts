// Activity counters read on the Docker host itself, instead of through the stats API: a stats
// call waits for the engine's ~1 s collector tick, while /proc answers at once (FACTS: 200
// containers in ~19 ms). Network bytes come from /proc/<pid>/net/dev of the container's main
// process (its network namespace: the interfaces the stats API counts, `lo` left out), CPU from
// its cgroup (cgroup v1 cpuacct.usage, or v2 cpu.stat). The pid comes from inspect and is kept
// with the container; before each read the pid's cgroup file must still name the container, so a
// restarted container or a pid reused by another process is inspected again, never misread.
import { readFileSync } from 'node:fs';
import { isUserError, UserError } from '../lib/errors.ts';
import type { ContainerEngine, EngineOs, NetworkSample } from './types.ts';

/** Which way the reclaim pass reads activity. */
export type SamplerKind = 'host' | 'stats';
/** What the operator asked for (SPREADSERVE_SAMPLER): auto = host counters when they can be read. */
export type SamplerSetting = 'auto' | SamplerKind;

/** How `status` names each sampler. */
export const SAMPLER_TEXT: Record<SamplerKind, string> = {
  host: 'host counters (/proc)',
  stats: 'Docker stats API',
};

/**
 * The rule: host counters only for an engine on this machine's own socket (tcp and ssh engines
 * run their containers elsewhere), with Linux containers (a Windows engine has no /proc of its
 * containers), when a container's /proc can be read here (`readable`: undefined when none was
 * tried yet). `stats` forces the stats API; `host` still needs a local Linux engine.
 */
export function chooseSampler(input: {
  setting: SamplerSetting;
  transport: string;
  os: EngineOs;
  readable: boolean | undefined;
}): SamplerKind {
  if (input.setting === 'stats' || input.transport !== 'unix' || input.os !== 'linux') return 'stats';
  return input.readable === false ? 'stats' : 'host';
}

/** The host cannot give this container's counters (gone pid, no permission): use the stats API. */
export class HostUnreadable extends Error {}

interface Known {
  /** The full container id, as its cgroup paths name it. */
  id: string;
  pid: number;
  /** The file CPU time is read from, with its unit; null when none was found (cpuNs stays 0). */
  cpu: { file: string; v2: boolean } | null;
}

export interface HostSamplerOptions {
  /** Where /proc is (tests may point elsewhere). */
  procRoot?: string;
  /** Where the cgroup hierarchies are mounted. */
  cgroupRoot?: string;
}

export class HostSampler {
  /** By the id or name the caller samples with. */
  private readonly known = new Map<string, Known>();
  private readonly proc: string;
  private readonly cgroupRoot: string;
  /** Inspections made (so a test can see a pid was looked up again). */
  inspections = 0;

  constructor(
    private readonly engine: Pick<ContainerEngine, 'inspect'>,
    options: HostSamplerOptions = {},
  ) {
    this.proc = options.procRoot ?? '/proc';
    this.cgroupRoot = options.cgroupRoot ?? '/sys/fs/cgroup';
  }

  /** Forgets containers not in `keep` (stopped instances), so the cache does not grow. */
  retain(keep: Iterable<string>): void {
    const wanted = new Set(keep);
    for (const key of this.known.keys()) if (!wanted.has(key)) this.known.delete(key);
  }

  /** The pid cached for `idOrName`, if any (for tests and diagnostics). */
  pidOf(idOrName: string): number | undefined {
    return this.known.get(idOrName)?.pid;
  }

  /**
   * One container's counters. Throws 'not-found' when there is no such container, HostUnreadable
   * when the host cannot give them (not running, pid unreadable): the caller then asks the stats API.
   */
  async sample(idOrName: string): Promise<NetworkSample> {
    const cached = this.known.get(idOrName);
    if (cached) {
      const read = this.readOwned(cached);
      if (read) return read;
      this.known.delete(idOrName); // restarted, or the pid now belongs to something else
    }
    const found = await this.lookUp(idOrName);
    const read = this.readOwned(found);
    if (!read) throw new HostUnreadable(`pid ${found.pid} does not belong to container ${found.id}`);
    this.known.set(idOrName, found);
    return read;
  }

  private async lookUp(idOrName: string): Promise<Known> {
    this.inspections++;
    const details = await this.engine.inspect(idOrName);
    if (!details) throw new UserError('not-found', `There is no container ${idOrName} on the Docker host.`);
    if (details.state !== 'running' || !details.pid) {
      throw new HostUnreadable(`container ${idOrName} is ${details.state}, no process to read`);
    }
    return { id: details.id, pid: details.pid, cpu: null };
  }

  /** The counters when `pid` still runs inside container `id`; null when it does not. */
  private readOwned(known: Known): NetworkSample | null {
    const cgroup = this.text(`${this.proc}/${known.pid}/cgroup`);
    if (cgroup === null || !cgroup.includes(known.id)) return null;
    const dev = this.text(`${this.proc}/${known.pid}/net/dev`);
    if (dev === null) return null;
    known.cpu ??= this.cpuFile(cgroup);
    const cpuNs = known.cpu ? this.cpuOf(known.cpu) : 0;
    return { ...netDevTotals(dev), cpuNs };
  }

  /** Where the container's CPU time is: the cgroup v1 cpuacct hierarchy, else the v2 one. */
  private cpuFile(cgroup: string): Known['cpu'] {
    const lines = cgroup.split('\n').map((l) => l.split(':'));
    const v1 = lines.find((f) => f.length >= 3 && (f[1] ?? '').split(',').includes('cpuacct'));
    if (v1) {
      const path = v1.slice(2).join(':');
      for (const mount of ['cpuacct', 'cpu,cpuacct', 'cpuacct,cpu']) {
        const file = `${this.cgroupRoot}/${mount}${path}/cpuacct.usage`;
        if (this.text(file) !== null) return { file, v2: false };
      }
      return null;
    }
    const v2 = lines.find((f) => f[0] === '0' && f[1] === '');
    if (!v2) return null;
    const file = `${this.cgroupRoot}${v2.slice(2).join(':')}/cpu.stat`;
    return this.text(file) !== null ? { file, v2: true } : null;
  }

  private cpuOf(cpu: NonNullable<Known['cpu']>): number {
    const text = this.text(cpu.file) ?? '';
    if (!cpu.v2) return Number(text.trim()) || 0;
    const usec = /^usage_usec\s+(\d+)/m.exec(text)?.[1];
    return usec === undefined ? 0 : Number(usec) * 1000;
  }

  /**
   * A file's text, or null when it cannot be read (gone, no permission). Read synchronously: /proc
   * and cgroup files are made in memory on read and never wait on a disk, and fs/promises' open,
   * stat, read and close, each a trip to the thread pool, made 600 such reads take 83-150 ms
   * against 27-33 ms (200 containers here). The caller gives the loop its turns (core/activity.ts).
   */
  private text(file: string): string | null {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return null;
    }
  }
}

/** Bytes sent and received over every interface of /proc/<pid>/net/dev but `lo`. */
export function netDevTotals(text: string): { txBytes: number; rxBytes: number } {
  let txBytes = 0;
  let rxBytes = 0;
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0 || line.slice(0, colon).trim() === 'lo') continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    // Receive: bytes packets errs drop fifo frame compressed multicast; then Transmit: bytes ...
    rxBytes += Number(fields[0]) || 0;
    txBytes += Number(fields[8]) || 0;
  }
  return { txBytes, rxBytes };
}

/** True for the errors after which the stats API should be asked instead. */
export const wantsStats = (err: unknown): boolean => err instanceof HostUnreadable || !isUserError(err);
