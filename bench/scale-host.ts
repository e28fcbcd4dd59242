// What the scale suite asks of the host itself (bench/scale.ts): whether its pids can hold the
// run's threads, before the fill, and whether every instance answers on its URL at N.
import { readFileSync } from 'node:fs';
import type { Services } from '../core/context.ts';
import { mapLimit } from '../lib/concurrency.ts';
import type { BenchContext } from './harness.ts';
import { type Bench, benchRow, side, timed } from './rows.ts';

/** Threads (pids) a running instance costs the host: its containerd-shim (~12) and its port's
 * docker-proxy (~7), counted on 20 busybox httpd containers with one published port each. */
const THREADS_PER_CONTAINER = 20;

/**
 * Why this host cannot hold the run, in one sentence; null when it can (or cannot tell). Every
 * thread takes a pid, and kernel.pid_max bounds them: at its default 32768 a run at 2000 failed
 * near 1550 containers, runc's hook unable to start a thread ("pthread_create failed: Resource
 * temporarily unavailable"). Said before the hour-long fill, not after it.
 */
export function pidBudgetError(n: number, pidMaxText: string | null): string | null {
  const pidMax = Number(pidMaxText);
  if (pidMaxText === null || !Number.isInteger(pidMax)) return null;
  // The core's N and the raw side's batches (a quarter of a tenth) at once, with room to spare.
  const needed = Math.ceil((n * 1.1 * THREADS_PER_CONTAINER) / 1000) * 1000;
  if (needed <= pidMax) return null;
  return `This host's kernel.pid_max is ${pidMax}, and ${n} instances need about ${needed} threads (${THREADS_PER_CONTAINER} a container: its containerd-shim and docker-proxy); raise it first, for example \`sysctl -w kernel.pid_max=${Math.max(65_536, needed)}\`.`;
}

export function readPidMax(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim();
  } catch {
    return null; // not Linux, or not readable: nothing to check
  }
}

/** Every running instance's URL asked (16 in flight, 5 s each), then each that did not answer
 * 200 asked again (4 in flight, 30 s each): the count that answered 200. The launches polled each
 * one ready already; this says they all still serve together at N. Why a first ask failed is
 * logged and noted, grouped: at 1400 a run had 170 of them and no way to tell why. */
export async function reachableRow(ctx: BenchContext, services: Services, n: number): Promise<Bench> {
  const views = (await services.instances.observe()).filter((o) => o.state === 'running');
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
  if (first.size > 0) ctx.log(`  reachable at ${n}${retried}`);
  return benchRow({
    suite: 'scale',
    id: 'scale.reachable',
    name: `all ${n} reachable by their URLs`,
    ours: side('GET each running instance URL, 16 in flight (5 s), failures again (30 s)', latencyMs, {
      wallMs: wall.ms,
    }),
    result: { label: 'answered 200', value: latencyMs.length, unit: 'count' },
    target: { op: '>=', value: n, unit: 'count', source: 'issue 12' },
    notes: `${views.length} running instances${retried}`,
  });
}
