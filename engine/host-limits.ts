// The Docker host's kernel settings that bound how many instances it holds, each with what one
// instance takes of it. The scale suite refuses a run the host cannot hold (bench/scale.ts), and
// `status` warns on-call when the running instances come near what the host holds. Both only
// where the bot runs on the Docker host (a local socket) and can read /proc/sys.
import { readFileSync } from 'node:fs';

/** A kernel setting's text by its sysctl name, or null when it cannot be read. */
export type ReadSetting = (setting: string) => string | null;

interface HostLimit {
  setting: string;
  perInstance: number;
  /** What instances take of it, after a count: "threads (...)". */
  what: string;
  /** What one takes, after a count of instances: "(20 threads each)". */
  each: string;
  /** A command that raises it to hold `needed`. */
  raise(needed: number): string;
}

/**
 * Both measured on this project's machine kind by running into them (bench/SCALE.md):
 * - Threads: a running instance costs its containerd-shim (~12) and its port's docker-proxy (~7),
 *   counted on 20 busybox httpd containers. At the default kernel.pid_max of 32768 a run at 2000
 *   failed near 1550 containers, runc's hook unable to start a thread ("pthread_create failed:
 *   Resource temporarily unavailable").
 * - Neighbour (ARP) entries: a request to an instance makes two in the kernel's one table for all
 *   network namespaces (the host's for the container, the container's for its gateway), each held
 *   while reachable (15-45 s) and so not freed to make room. Past gc_thresh3 (default 1024) the
 *   kernel drops new ones: with the table cut to 128, 37 of 100 instances asked at once timed out
 *   or were reset by docker-proxy; runs at 1400 and 2000 at the default lost 12% of their URL
 *   sweeps' first asks that way (/proc/net/stat/arp_cache counted 3765 "table_fulls").
 */
const HOST_LIMITS: readonly HostLimit[] = [
  {
    setting: 'kernel.pid_max',
    perInstance: 20,
    what: 'threads (20 a container: its containerd-shim and docker-proxy)',
    each: '20 threads each',
    raise: (needed) => `sysctl -w kernel.pid_max=${Math.max(65_536, needed)}`,
  },
  {
    setting: 'net.ipv4.neigh.default.gc_thresh3',
    perInstance: 2,
    what: 'neighbour entries when all are asked at once (2 a container: the host’s for it and its own for its gateway)',
    each: '2 neighbour entries each, when all are asked at once',
    raise: (needed) =>
      `sysctl -w net.ipv4.neigh.default.gc_thresh2=${needed} net.ipv4.neigh.default.gc_thresh3=${2 * needed}`,
  },
];

/** Room beyond the instances themselves: the host's own processes, a scale run's raw side. */
const MARGIN = 1.1;
/** `status` warns once this share of what the host holds runs. */
const WARN_AT = 0.8;

/** What `n` instances need of a limit, margin included, in round thousands. */
const neededFor = (n: number, limit: HostLimit) => Math.ceil((n * MARGIN * limit.perInstance) / 1000) * 1000;

/** Each limit whose setting reads as an integer, with its value (none off Linux). */
function readLimits(read: ReadSetting): { limit: HostLimit; value: number }[] {
  return HOST_LIMITS.flatMap((limit) => {
    const text = read(limit.setting);
    const value = Number(text);
    return text === null || text === '' || !Number.isInteger(value) ? [] : [{ limit, value }];
  });
}

/**
 * Why this host cannot hold n instances, in one sentence naming the setting and how to raise it;
 * null when it can (or a setting cannot be read). The scale suite says it before its hour-long fill.
 */
export function hostLimitError(n: number, read: ReadSetting): string | null {
  for (const { limit, value } of readLimits(read)) {
    const needed = neededFor(n, limit);
    if (needed > value) {
      return `This host's ${limit.setting} is ${value}, and ${n} instances need about ${needed} ${limit.what}; raise it first, for example \`${limit.raise(needed)}\`.`;
    }
  }
  return null;
}

/**
 * For `status`: one sentence per setting the running instances have come near (80% of what it
 * holds), with a command that raises it for the whole pool.
 */
export function hostLimitWarnings(running: number, poolSize: number, read: ReadSetting): string[] {
  return readLimits(read).flatMap(({ limit, value }) => {
    const holds = Math.floor(value / (limit.perInstance * MARGIN));
    if (running < WARN_AT * holds) return [];
    const raise = limit.raise(neededFor(Math.max(running, poolSize), limit));
    return [
      `This host runs ${running} ${running === 1 ? 'instance' : 'instances'}, and its ${limit.setting} of ${value} holds about ${holds} (${limit.each}); raise it, for example \`${raise}\`.`,
    ];
  });
}

/** A sysctl setting's text (kernel.pid_max from /proc/sys/kernel/pid_max); null when unreadable. */
export function readSetting(setting: string): string | null {
  try {
    return readFileSync(`/proc/sys/${setting.replaceAll('.', '/')}`, 'utf8').trim();
  } catch {
    return null; // not Linux, or not readable: nothing to check
  }
}
