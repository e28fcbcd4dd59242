// What a suite returns and how its figures are read: the Bench row (bench/results.json and the
// table), the statistics of timing samples, timing and alternating helpers, and how values print.

// ---------------------------------------------------------------------------------------------
// Rows: what a suite returns. EXTENSION POINT for new suites (bench/slack.ts, bench/reclaim.ts):
// return Bench rows built with `benchRow()`; main.ts prints and stores them.
// ---------------------------------------------------------------------------------------------

export type Unit = 'ms' | 'x' | 'ops/s' | 'count' | 'MB';

/** Summary of samples: milliseconds, or MB where the Side says so. */
export interface Stats {
  n: number;
  median: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
  /** Sum of the samples. */
  total: number;
}

/** One side of a measurement: the bot's way, or the baseline it is compared with. */
export interface Side {
  /** What was timed, e.g. "Instances.launch" or "raw create + start + waitForHttp". */
  label: string;
  /** What the samples are: milliseconds unless it says MB (a process's memory). */
  unit?: 'ms' | 'MB';
  stats: Stats;
  /** Wall time (ms) of the whole batch, when the samples ran as one batch (e.g. all in flight). */
  wallMs?: number;
  /** The raw samples (ms), in the order taken; omitted when there are very many. */
  samples?: number[];
}

export interface Target {
  op: '<=' | '>=';
  value: number;
  unit: Unit;
  /** Where the target comes from, e.g. "issue 2". */
  source: string;
}

/** One row of the benchmark table and of bench/results.json. */
export interface Bench {
  /** The suite that produced it (its registry name). */
  suite: string;
  /** Stable key across runs, e.g. "launch.core-vs-raw". */
  id: string;
  /** What the row measures, in a few words. */
  name: string;
  /** Through the bot's code. */
  ours: Side;
  /** The raw or naive way, measured in the same run (alternating with ours). */
  baseline?: Side;
  /** The headline figure: a ratio of medians, a per-operation time, a p99... */
  result: { label: string; value: number; unit: Unit };
  target?: Target;
  /** result vs target; null when the row has no target. */
  pass: boolean | null;
  notes?: string;
  measuredAt: string;
}

export function benchRow(row: Omit<Bench, 'pass' | 'measuredAt'>): Bench {
  const { target, result } = row;
  const pass = target
    ? target.op === '<='
      ? result.value <= target.value
      : result.value >= target.value
    : null;
  const value = Math.round(result.value * 10_000) / 10_000;
  return { ...row, result: { ...result, value }, pass, measuredAt: new Date().toISOString() };
}

/** A side from samples (ms); they are kept in the JSON unless there are more than `keep`. */
export function side(
  label: string,
  samples: readonly number[],
  options: { keep?: number; wallMs?: number; unit?: 'MB' } = {},
): Side {
  const { keep = 100, wallMs, unit } = options;
  return {
    label,
    ...(unit ? { unit } : {}),
    stats: summarize(samples),
    ...(wallMs !== undefined ? { wallMs: round3(wallMs) } : {}),
    ...(samples.length <= keep ? { samples: samples.map(round3) } : {}),
  };
}

/** The ratio of two medians, the figure most rows compare. */
export const ratio = (ours: Side, baseline: Side): number =>
  baseline.stats.median > 0 ? ours.stats.median / baseline.stats.median : Number.POSITIVE_INFINITY;

// ---------------------------------------------------------------------------------------------
// Statistics and timing.
// ---------------------------------------------------------------------------------------------

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** Linear-interpolated percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = ((sorted.length - 1) * p) / 100;
  const lo = sorted[Math.floor(at)];
  const hi = sorted[Math.ceil(at)];
  if (lo === undefined || hi === undefined) return Number.NaN;
  return lo + (hi - lo) * (at - Math.floor(at));
}

export const median = (samples: readonly number[]): number => percentile(samples, 50);

export function summarize(samples: readonly number[]): Stats {
  const sum = samples.reduce((a, b) => a + b, 0);
  return {
    n: samples.length,
    median: round3(median(samples)),
    p50: round3(percentile(samples, 50)),
    p99: round3(percentile(samples, 99)),
    min: round3(Math.min(...samples)),
    max: round3(Math.max(...samples)),
    mean: round3(samples.length ? sum / samples.length : Number.NaN),
    total: round3(sum),
  };
}

/** Milliseconds a call takes, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** "385 ms", "3.14 ms", "12 µs", "1.23 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const sign = ms < 0 ? '-' : '';
  const abs = Math.abs(ms);
  if (abs < 1) return `${sign}${(abs * 1000).toFixed(0)} µs`;
  if (abs < 10) return `${sign}${abs.toFixed(2)} ms`;
  if (abs < 1000) return `${sign}${abs.toFixed(0)} ms`;
  return `${sign}${(abs / 1000).toFixed(2)} s`;
}

export function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case 'ms':
      return formatMs(value);
    case 'x':
      return `${value.toFixed(2)}x`;
    case 'ops/s':
      return `${value.toFixed(1)}/s`;
    case 'count':
      return String(value);
    case 'MB':
      return `${value.toFixed(value < 10 ? 1 : 0)} MB`;
  }
}

/** A then B on even rounds, B then A on odd ones. */
export async function alternate(
  signal: AbortSignal,
  rounds: number,
  a: () => Promise<void>,
  b: () => Promise<void>,
): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    signal.throwIfAborted();
    if (i % 2 === 0) {
      await a();
      await b();
    } else {
      await b();
      await a();
    }
  }
}
