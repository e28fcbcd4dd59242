// What the scale suite asks of the host itself (bench/scale.ts): whether its kernel can hold the
// run's threads and neighbour entries, before the fill, and whether every instance answers on its
// URL at N.
import { readFileSync } from 'node:fs';
import type { Services } from '../core/context.ts';
import { mapLimit } from '../lib/concurrency.ts';
import type { BenchContext } from './harness.ts';
import { type Bench, benchRow, side, timed } from './rows.ts';

/** A kernel setting that bounds how many instances one host holds, and what each instance takes. */
interface HostLimit {
  setting: string;
  perInstance: number;
  /** What the instances need of it, after the count: "threads (...)". */
  what: string;
  /** A command that raises it to hold `needed`. */
  raise(needed: number): string;
}

/**
 * Both measured on this machine kind by running into them:
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
    raise: (needed) => `sysctl -w kernel.pid_max=${Math.max(65_536, needed)}`,
  },
  {
    setting: 'net.ipv4.neigh.default.gc_thresh3',
    perInstance: 2,
    what: 'neighbour entries when all are asked at once (2 a container: the host’s for it and its own for its gateway)',
    raise: (needed) =>
      `sysctl -w net.ipv4.neigh.default.gc_thresh2=${needed} net.ipv4.neigh.default.gc_thresh3=${2 * needed}`,
  },
];

/**
 * Why this host cannot hold a run of n instances, in one sentence naming the setting and how to
 * raise it; null when it can (or a setting cannot be read: not Linux). Said before the hour-long
 * fill, not after it. `read` gives a setting's text, as readSetting does.
 */
export function hostLimitError(n: number, read: (setting: string) => string | null): string | null {
  for (const limit of HOST_LIMITS) {
    const text = read(limit.setting);
    const value = Number(text);
    if (text === null || text === '' || !Number.isInteger(value)) continue;
    // The core's N and the raw side's batches (half a tenth) at once, with room to spare.
    const needed = Math.ceil((n * 1.1 * limit.perInstance) / 1000) * 1000;
    if (needed > value) {
      return `This host's ${limit.setting} is ${value}, and ${n} instances need about ${needed} ${limit.what}; raise it first, for example \`${limit.raise(needed)}\`.`;
    }
  }
  return null;
}

/** A sysctl setting's text (kernel.pid_max from /proc/sys/kernel/pid_max); null when unreadable. */
export function readSetting(setting: string): string | null {
  try {
    return readFileSync(`/proc/sys/${setting.replaceAll('.', '/')}`, 'utf8').trim();
  } catch {
    return null; // not Linux, or not readable: nothing to check
  }
}

/** How many times the kernel's neighbour table was full and dropped an entry since boot (the sum
 * of /proc/net/stat/arp_cache's table_fulls over CPUs); null when unreadable. */
export function neighbourTableFulls(): number | null {
  try {
    const [head, ...cpus] = readFileSync('/proc/net/stat/arp_cache', 'utf8').trim().split('\n');
    const column = head?.trim().split(/\s+/).indexOf('table_fulls') ?? -1;
    if (column < 0) return null;
    return cpus.reduce((sum, row) => sum + Number.parseInt(row.trim().split(/\s+/)[column] ?? '0', 16), 0);
  } catch {
    return null;
  }
}

/** Starts counting the neighbour table's overflows: the returned function says how many there
 * were since (null when the counter cannot be read). */
export function neighbourFullsSince(): () => number | null {
  const before = neighbourTableFulls();
  return () => (before === null ? null : (neighbourTableFulls() ?? before) - before);
}

/** Every running instance's URL asked (16 in flight, 5 s each), then each that did not answer
 * 200 asked again (4 in flight, 30 s each): the count that answered 200. The launches polled each
 * one ready already; this says they all still serve together at N. Why a first ask failed is
 * logged and noted, grouped: at 1400 a run had 170 of them and no way to tell why. */
export async function reachableRow(ctx: BenchContext, services: Services, n: number): Promise<Bench> {
  const views = (await services.instances.observe()).filter((o) => o.state === 'running');
  const fullsSince = neighbourFullsSince();
  const latencyMs: number[] = [];
  const ask = async (urls: readonly string[], inFlight: number, timeoutMs: number) => {
    const failed = new Map<string, string>();
    await mapLimit(urls, inFlight, async (url) => {
      const t = performance.now();
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        await res.arrayBuffer();
        if (res.ok) latencyMs.push(performance.now() - t);
        else failed.set(url, `HTTP ${res.status}`);
      } catch (err) {
        const cause = (err as Error & { cause?: { code?: string } }).cause?.code;
        failed.set(url, cause ?? (err as Error).name);
      }
    });
    return failed;
  };
  const wall = await timed(() =>
    ask(
      views.map((v) => v.url),
      16,
      5_000,
    ),
  );
  const first = wall.value;
  const again = first.size > 0 ? await ask([...first.keys()], 4, 30_000) : first;
  const grouped = (failed: Map<string, string>) => {
    const counts = new Map<string, number>();
    for (const why of failed.values()) counts.set(why, (counts.get(why) ?? 0) + 1);
    return [...counts].map(([why, count]) => `${count} ${why}`).join(', ');
  };
  const retried =
    first.size === 0
      ? ''
      : `; ${first.size} failed the first ask (${grouped(first)}), ${first.size - again.size} of them answered the second (30 s)${again.size ? `, not: ${grouped(again)}, e.g. ${[...again.keys()].slice(0, 3).join(' ')}` : ''}`;
  const fulls = fullsSince();
  const table = fulls === null ? '' : `; the neighbour table was full ${fulls} times`;
  if (first.size > 0 || fulls) ctx.log(`  reachable at ${n}${retried}${table}`);
  return benchRow({
    suite: 'scale',
    id: 'scale.reachable',
    name: `all ${n} reachable by their URLs`,
    ours: side('GET each running instance URL, 16 in flight (5 s), failures again (30 s)', latencyMs, {
      wallMs: wall.ms,
    }),
    result: { label: 'answered 200', value: latencyMs.length, unit: 'count' },
    target: { op: '>=', value: n, unit: 'count', source: 'issue 12' },
    notes: `${views.length} running instances${retried}${table}`,
  });
}
