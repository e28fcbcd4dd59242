// What the scale suite asks of the host itself (bench/scale.ts), beside whether its kernel can
// hold the run (engine/host-limits.ts): whether the neighbour table overflowed, and whether every
// instance answers on its URL at N.
import { readFileSync } from 'node:fs';
import type { Services } from '../core/context.ts';
import { mapLimit } from '../lib/concurrency.ts';
import type { BenchContext } from './harness.ts';
import { type Bench, benchRow, side, timed } from './rows.ts';

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
