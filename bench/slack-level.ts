// One level of bench/slack.ts: a phase (idle, or while launches run) at one concurrency. Its
// requests go out from the "Slack" worker in chunks alternating with the floor, while the bot's
// event loop is watched (delay, utilization, time waiting for a CPU); then its rows.
import { readFileSync } from 'node:fs';
import { type EventLoopUtilization, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { BenchContext } from './harness.ts';
import { type Bench, benchRow, formatMs, ratio, type Side, side } from './rows.ts';
import type { BurstOptions, BurstResult, Kind } from './slack-protocol.ts';
import type { Floor, SlackSide } from './slack-threads.ts';

/** Requests per command per level and phase, in ROUNDS chunks alternating with the floor. */
const REQUESTS = 500;
const ROUNDS = 4;
/** Slack's own limit on the ack; a request past it counts as a timeout. Every row's notes show
 * its p99 against it too: the target is relative to the floor, this limit absolute. */
const ACK_TIMEOUT_MS = 3_000;
/** No chunk sends new requests after this long (each is bounded by ACK_TIMEOUT_MS too). */
const CHUNK_BUDGET_MS = 30_000;
/** The background: launch-then-stop cycles through the bot, this many in flight. */
export const BG_IN_FLIGHT = 4;
/** Issue 12: an ack's p99 at most 1.5x the bare node:http floor's p99 measured in the same run
 * (issue 3's absolute 50 ms is in the notes). */
const TARGET_P99_VS_FLOOR = 1.5;
const ISSUE_3_P99_MS = 50;

type Phase = 'idle' | 'busy';

interface LoopStats {
  p50: number;
  p99: number;
  max: number;
  /** Event-loop utilization of the bot's thread over the level (0..1). */
  utilization: number;
  /** Milliseconds the bot's thread was ready to run but waited for a CPU (Linux schedstat), and
   * the wall time of the level: a stalled loop with a long wait was starved, not blocked. */
  cpuWaitMs?: number;
  wallMs: number;
}

/** The main thread's scheduler counters (Linux): ns on a CPU, ns waiting for one. */
function schedstat(): { runNs: number; waitNs: number } | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(/\s+/);
    return { runNs: Number(run), waitNs: Number(wait) };
  } catch {
    return undefined; // not Linux
  }
}

export interface Level {
  phase: Phase;
  concurrency: number;
  samples: Record<Kind, number[]>;
  wallMs: Record<Kind, number>;
  /** Event-loop time spent per kind, in ms: the bot's thread for help and list (a list's includes
   * the work after its ack, up to its response_url post), the floor's thread for the floor. */
  activeMs: Record<Kind, number>;
  problems: string[];
  listResponded: number;
  listSent: number;
  loop: LoopStats;
  background: { inFlightMin: number; launches: number; stops: number };
}

export async function measureLevel(
  ctx: BenchContext,
  client: SlackSide,
  bot: string,
  floor: Floor,
  phase: Phase,
  concurrency: number,
): Promise<Level> {
  const level: Level = {
    phase,
    concurrency,
    samples: { help: [], list: [], floor: [] },
    wallMs: { help: 0, list: 0, floor: 0 },
    activeMs: { help: 0, list: 0, floor: 0 },
    problems: [],
    listResponded: 0,
    listSent: 0,
    loop: { p50: 0, p99: 0, max: 0, utilization: 0, wallMs: 0 },
    background: { inFlightMin: Number.POSITIVE_INFINITY, launches: 0, stops: 0 },
  };
  const pool = (kind: Kind) => `${phase}-${concurrency}-${kind === 'floor' ? 'floor' : 'bot'}`;
  const burst = (kind: Kind, n: number) =>
    client.call<BurstResult>({
      op: 'burst',
      options: {
        url: kind === 'floor' ? floor.url : bot,
        kind,
        n,
        concurrency,
        timeoutMs: ACK_TIMEOUT_MS,
        budgetMs: CHUNK_BUDGET_MS,
        pool: pool(kind),
      } satisfies BurstOptions,
    });

  // Warm-up, not counted: opens this level's keep-alive connections on both servers.
  for (const kind of ['help', 'list', 'floor'] as const) await burst(kind, concurrency);

  const delay = monitorEventLoopDelay({ resolution: 1 });
  const elu0: EventLoopUtilization = performance.eventLoopUtilization();
  const sched0 = schedstat();
  const wall0 = performance.now();
  delay.enable();
  const chunk = Math.ceil(REQUESTS / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    ctx.signal.throwIfAborted();
    const order: Kind[] = round % 2 === 0 ? ['help', 'list', 'floor'] : ['floor', 'list', 'help'];
    for (const kind of order) {
      const active = () => (kind === 'floor' ? floor.activeMs() : performance.eventLoopUtilization().active);
      const before = active();
      const r = await burst(kind, chunk);
      level.activeMs[kind] += active() - before;
      level.samples[kind].push(...r.samples);
      level.wallMs[kind] += r.wallMs;
      const f = r.failures;
      const bad = f.status + f.timeouts + f.errors + f.wrongBody;
      if (bad > 0) {
        level.problems.push(
          `${kind}: ${f.status} non-200, ${f.timeouts} over ${ACK_TIMEOUT_MS} ms, ${f.errors} errors, ${f.wrongBody} wrong ack (${f.firstProblem})`,
        );
      }
      if (kind === 'list') {
        level.listSent += r.samples.length + f.status + f.timeouts + f.errors;
        level.listResponded += r.responded ?? 0;
      }
      if (kind !== 'floor') {
        const b = r.background;
        level.background.inFlightMin = Math.min(
          level.background.inFlightMin,
          b.inFlightAtStart,
          b.inFlightAtEnd,
        );
        level.background.launches += b.launches;
        level.background.stops += b.stops;
      }
    }
  }
  delay.disable();
  const sched1 = schedstat();
  const ms = (ns: number) => ns / 1e6;
  level.loop = {
    p50: ms(delay.percentile(50)),
    p99: ms(delay.percentile(99)),
    max: ms(delay.max),
    utilization: performance.eventLoopUtilization(elu0).utilization,
    ...(sched0 && sched1 ? { cpuWaitMs: ms(sched1.waitNs - sched0.waitNs) } : {}),
    wallMs: performance.now() - wall0,
  };
  await client.call({ op: 'closePool', pool: pool('help') });
  await client.call({ op: 'closePool', pool: pool('floor') });
  if (level.listResponded < level.listSent) {
    level.problems.push(
      `list: ${level.listSent - level.listResponded} of ${level.listSent} never answered on the response_url`,
    );
  }
  ctx.log(
    `slack: ${phase} c=${concurrency}: help p99 ${formatMs(p99(level.samples.help))}, list p99 ${formatMs(p99(level.samples.list))}, floor p99 ${formatMs(p99(level.samples.floor))}; bot loop delay p99 ${formatMs(level.loop.p99)} max ${formatMs(level.loop.max)}, waited for a CPU ${formatMs(level.loop.cpuWaitMs ?? Number.NaN)} of ${formatMs(level.loop.wallMs)}`,
  );
  return level;
}

function p99(samples: readonly number[]): number {
  return side('', samples).stats.p99;
}

const x = (ours: number, floor: number) => (floor > 0 ? `${(ours / floor).toFixed(1)}x` : '—');

/** What the bot's event-loop time per request includes besides the ack. */
function including(kind: Kind, busy: boolean): string {
  const also = [
    ...(kind === 'list' ? ['the work after the ack'] : []),
    ...(busy ? ["the background launches' share"] : []),
  ];
  return also.length ? ` (with ${also.join(' and ')})` : '';
}

/** Event-loop milliseconds per request of a kind over a level. */
const perRequest = (level: Level, kind: Kind) =>
  level.samples[kind].length > 0 ? level.activeMs[kind] / level.samples[kind].length : Number.NaN;

export function rowsOf(level: Level): Bench[] {
  const floor = side(
    `bare node:http server on loopback (own thread): 200 to the same POST, c=${level.concurrency}`,
    level.samples.floor,
    { keep: 0, wallMs: level.wallMs.floor },
  );
  const busy = level.phase === 'busy';
  const during = busy
    ? `while launches run: ${BG_IN_FLIGHT} launch-then-stop cycles through the bot kept in flight (at least ${level.background.inFlightMin} at every chunk edge; ${level.background.launches} launches and ${level.background.stops} stops completed during the timed requests)`
    : 'nothing else running';
  const { loop: l } = level;
  const starved =
    l.cpuWaitMs === undefined
      ? ''
      : `, its thread waited ${formatMs(l.cpuWaitMs)} for a CPU in ${formatMs(l.wallMs)} (${((100 * l.cpuWaitMs) / l.wallMs).toFixed(0)}%)`;
  const loop = `bot event loop over the level: delay p99 ${formatMs(l.p99)}, max ${formatMs(l.max)}, utilization ${(l.utilization * 100).toFixed(0)}%${starved}`;
  return (['help', 'list'] as const).map((kind) => {
    const what =
      kind === 'help'
        ? '`help` (the reply rides on the ack)'
        : '`list` (empty ack, then the list through the response_url)';
    const ours: Side = side(`signed slash command -> HTTP 200 of the ack, ${what}`, level.samples[kind], {
      keep: 0,
      wallMs: level.wallMs[kind],
    });
    const problems = level.problems.filter((p) => p.startsWith(`${kind}:`) || p.startsWith('floor:'));
    return benchRow({
      suite: 'slack',
      id: `slack.${level.phase}.${kind}.c${level.concurrency}`,
      name: `\`${kind}\` ack at concurrency ${level.concurrency}, ${busy ? 'while launches run' : 'idle'}`,
      ours,
      baseline: floor,
      result: {
        label: 'p99 vs the floor',
        value: floor.stats.p99 > 0 ? ours.stats.p99 / floor.stats.p99 : Number.POSITIVE_INFINITY,
        unit: 'x',
      },
      target: { op: '<=', value: TARGET_P99_VS_FLOOR, unit: 'x', source: 'issue 12' },
      notes: [
        `p99 ${formatMs(ours.stats.p99)} (floor ${formatMs(floor.stats.p99)}; issue 3 asked at most ${formatMs(ISSUE_3_P99_MS)}; Slack's limit is ${formatMs(ACK_TIMEOUT_MS)}, an ack past it counts as a timeout under PROBLEMS)`,
        `vs the floor: p50 ${x(ours.stats.p50, floor.stats.p50)}, p99 ${x(ours.stats.p99, floor.stats.p99)}`,
        `${REQUESTS} requests in ${ROUNDS} chunks alternating with the floor, keep-alive, after ${level.concurrency} warm-up requests`,
        during,
        `event-loop time per request: ${formatMs(perRequest(level, kind))} on the bot's thread${including(kind, busy)}, ${formatMs(perRequest(level, 'floor'))} on the floor's`,
        loop,
        ...(problems.length ? [`PROBLEMS: ${problems.join('; ')}`] : []),
      ].join('; '),
    });
  });
}

/**
 * What one ack costs: event-loop time per `help` on the bot's thread against the floor's per
 * request, idle (one figure per concurrency level). Once the thread is saturated, an ack at
 * concurrency c waits for the c - 1 requests ahead of it: its latency is about c times this cost.
 */
export function costRow(idle: readonly Level[]): Bench {
  const levels = idle.map((l) => `c=${l.concurrency}`).join(', ');
  const ours = side(
    `bot thread per \`help\` ack (${levels}): Bolt's receiver, signature check, middleware, the command, the answer`,
    idle.map((l) => perRequest(l, 'help')),
  );
  const baseline = side(
    `floor thread per request (${levels})`,
    idle.map((l) => perRequest(l, 'floor')),
  );
  const list = idle.map((l) => formatMs(perRequest(l, 'list'))).join(', ');
  return benchRow({
    suite: 'slack',
    id: 'slack.idle.ack-cost',
    name: 'event-loop time per `help` ack, idle',
    ours,
    baseline,
    result: { label: 'median ratio', value: ratio(ours, baseline), unit: 'x' },
    notes: `informational: a \`list\` costs the bot's thread ${list} (ack, then engine list, render and response_url post); queueing behind this per-request cost is what grows the p99 with concurrency`,
  });
}
