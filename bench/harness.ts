// The benchmark harness behind `npm run bench`: the row type every suite returns, the suite
// registry's types, statistics, and the shared set-up (own scope, own port range, temp store,
// the demo image built through the core, cleanup before and after).
//
// bench/ is not production code: it is the one place besides engine/docker.ts allowed to import
// dockerode, because the baselines it measures against ARE raw dockerode calls.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { type Config, loadConfig } from '../core/config.ts';
import { createServices, type Services } from '../core/context.ts';
import { LABEL } from '../core/labels.ts';
import type { Actor } from '../core/policy.ts';
import { parseTemplates, type Template, type TemplateSet } from '../core/templates.ts';
import { DockerEngine, parseDockerHost } from '../engine/docker.ts';
import { tryLock, waitForLock } from '../lib/lock.ts';
import { silentLogger } from '../lib/log.ts';

export const ROOT = path.resolve(import.meta.dirname, '..');

// ---------------------------------------------------------------------------------------------
// Rows: what a suite returns. EXTENSION POINT for new suites (bench/slack.ts, bench/reclaim.ts):
// return Bench rows built with `benchRow()`; main.ts prints and stores them.
// ---------------------------------------------------------------------------------------------

export type Unit = 'ms' | 'x' | 'ops/s' | 'count';

/** Summary of timing samples, all in milliseconds. */
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
  options: { keep?: number; wallMs?: number } = {},
): Side {
  const { keep = 100, wallMs } = options;
  return {
    label,
    stats: summarize(samples),
    ...(wallMs !== undefined ? { wallMs: round3(wallMs) } : {}),
    ...(samples.length <= keep ? { samples: samples.map(round3) } : {}),
  };
}

/** The ratio of two medians, the figure most rows compare. */
export const ratio = (ours: Side, baseline: Side): number =>
  baseline.stats.median > 0 ? ours.stats.median / baseline.stats.median : Number.POSITIVE_INFINITY;

// ---------------------------------------------------------------------------------------------
// Suites. EXTENSION POINT: a suite is a file exporting a `Suite`; register it in bench/suites.ts.
// ---------------------------------------------------------------------------------------------

export interface Suite {
  /** Short name, used on the command line (`npm run bench -- launch list`) and in the rows. */
  name: string;
  /** One line for `npm run bench -- --list`. */
  description: string;
  /** Needs the demo image and Docker (all current suites do; a pure store suite might not). */
  needsDocker: boolean;
  /** Runs the measurements. Everything it starts in Docker carries the bench scope label, so
   * ctx.cleanup() (called by main.ts after every suite, even a failed one) removes it. */
  run(ctx: BenchContext): Promise<Bench[]>;
}

export interface BenchContext {
  /** The `org.spreadserve.scope` label value of everything the bench creates. */
  scope: string;
  /** The host ports the bench may publish on (on bindIp). */
  ports: { from: number; to: number };
  bindIp: string;
  /** A temp directory for stores and files; removed at the end. */
  dir: string;
  /** The demo template, with the bench's own image tag, already built. */
  template: Template;
  templates: TemplateSet;
  /** The acting admin for core calls. */
  actor: Actor;
  /** Raw dockerode, for baselines only. */
  docker: Docker;
  /** The bench configuration (own store file `<name>-<random>.json` in dir, bench scope, port range,
   * bind IP) with `env` on top, for suites that compose their own services (e.g. the Slack bot). */
  config(name: string, env?: Record<string, string>): Config;
  /** A fresh core (its own store file `<name>.json` in dir) on the bench scope and port range. */
  services(name: string, env?: Record<string, string>): Promise<Services>;
  /** Launches n instances through the core, `concurrency` at a time; returns their names. */
  launchMany(
    services: Services,
    n: number,
    options?: { concurrency?: number; prefix?: string },
  ): Promise<{ names: string[]; wallMs: number }>;
  /** Force-removes every container of the bench scope (bounded concurrency); returns how many. */
  cleanup(): Promise<number>;
  /** Progress on stderr (stdout is for the table). */
  log(line: string): void;
  /** Aborted on Ctrl-C or at the time limit: loops should stop starting new work. */
  signal: AbortSignal;
}

// ---------------------------------------------------------------------------------------------
// Statistics and timing.
// ---------------------------------------------------------------------------------------------

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** Linear-interpolated percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
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

/** Runs fn over items, at most `limit` at a time, in order of start. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
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
  }
}

// ---------------------------------------------------------------------------------------------
// The shared set-up main.ts builds once per run.
// ---------------------------------------------------------------------------------------------

export const BENCH_SCOPE = 'bench';
export const BENCH_PORTS = { from: 25000, to: 25199 };
export const BENCH_BIND_IP = '127.0.0.1';
export const BENCH_IMAGE = 'spreadserve-bench/demo:bench';
const TEMP_PREFIX = 'ss-bench-';

export interface BenchEnv {
  ctx: BenchContext;
  /** Builds the demo image through the core (the real build path). */
  buildImage(): Promise<number>;
  /** Removes containers, the image and the temp directory. Safe to call twice. */
  teardown(): Promise<void>;
  /** Aborts ctx.signal: launchMany (and suites that check it) stop starting new work. */
  abort(): void;
  engineInfo(): Promise<Record<string, unknown>>;
}

export function benchTemplates(): TemplateSet {
  const file = path.join(ROOT, 'spreadserve.templates.yml');
  const set = new Map(parseTemplates(readFileSync(file, 'utf8'), ROOT));
  const demo = set.get('demo');
  if (!demo) throw new Error(`${file} has no demo template`);
  return new Map([['demo', { ...demo, image: BENCH_IMAGE }]]);
}

/** Temp directories of earlier runs that were killed before their cleanup (older than an hour). */
function removeStaleTempDirs(): void {
  const tmp = os.tmpdir();
  for (const entry of readdirSync(tmp)) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const full = path.join(tmp, entry);
    try {
      if (Date.now() - statSync(full).mtimeMs > 3_600_000) rmSync(full, { recursive: true, force: true });
    } catch {
      // someone else's or already gone
    }
  }
}

/**
 * Takes the machine-wide bench lock (a pid file in the temp directory), waiting up to waitMs for
 * another live run to finish; a lock left by a dead process is taken over. Released at exit.
 */
export async function acquireBenchLock(log: (line: string) => void, waitMs: number): Promise<void> {
  const file = path.join(os.tmpdir(), 'spreadserve-bench.lock');
  const holder = tryLock(file);
  if (holder === null) return;
  log(`another bench run (pid ${holder}) is going (same scope and ports): waiting for it`);
  await waitForLock(file, waitMs, 2_000);
}

export function createBenchEnv(env: Record<string, string | undefined>): BenchEnv {
  const dockerHost = env.DOCKER_HOST;
  const target = parseDockerHost(dockerHost);
  const docker = new Docker(
    target.socketPath !== undefined
      ? { socketPath: target.socketPath }
      : { host: target.host, port: target.port, protocol: 'http' },
  );
  removeStaleTempDirs();
  const dir = mkdtempSync(path.join(os.tmpdir(), TEMP_PREFIX));
  const templates = benchTemplates();
  const template = templates.get('demo')!;
  const actor: Actor = { id: 'cli:bench', role: 'admin' };
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const aborter = new AbortController();

  const config = (name: string, extra: Record<string, string> = {}): Config =>
    loadConfig({
      SPREADSERVE_DATA: path.join(dir, `${name}-${randomBytes(3).toString('hex')}.json`),
      SPREADSERVE_PORTS: `${BENCH_PORTS.from}-${BENCH_PORTS.to}`,
      SPREADSERVE_BIND_IP: BENCH_BIND_IP,
      SPREADSERVE_PUBLIC_URL: `http://${BENCH_BIND_IP}`,
      SPREADSERVE_SCOPE: BENCH_SCOPE,
      MAX_INSTANCES_PER_USER: '0',
      LOG_LEVEL: 'silent',
      DOCKER_HOST: dockerHost,
      ...extra,
    });

  const services = async (name: string, extra?: Record<string, string>): Promise<Services> => {
    const c = config(name, extra);
    return createServices(c, {
      engine: new DockerEngine({ dockerHost: c.dockerHost }),
      log: silentLogger(),
      templates,
    });
  };

  const cleanup = async (): Promise<number> => {
    const rows = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL.scope}=${BENCH_SCOPE}`] },
    });
    await mapLimit(rows, 8, async (row) => {
      try {
        await docker.getContainer(row.Id).remove({ force: true });
      } catch (err) {
        // Already gone (404) or being removed (409) is fine.
        const code = (err as { statusCode?: number }).statusCode;
        if (code !== 404 && code !== 409) throw err;
      }
    });
    return rows.length;
  };

  const launchMany: BenchContext['launchMany'] = async (svc, n, options = {}) => {
    const { concurrency = 4, prefix = 'many' } = options;
    const names = Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);
    const t0 = performance.now();
    let done = 0;
    await mapLimit(names, concurrency, async (name) => {
      aborter.signal.throwIfAborted();
      await svc.instances.launch({ actor, template: 'demo', name });
      done++;
      if (done % 25 === 0 || done === n) log(`  launched ${done}/${n}`);
    });
    return { names, wallMs: performance.now() - t0 };
  };

  const removeImage = async () => {
    try {
      await docker.getImage(BENCH_IMAGE).remove({ force: true });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  };

  let tornDown = false;
  return {
    ctx: {
      scope: BENCH_SCOPE,
      ports: BENCH_PORTS,
      bindIp: BENCH_BIND_IP,
      dir,
      template,
      templates,
      actor,
      docker,
      config,
      services,
      launchMany,
      cleanup,
      log,
      signal: aborter.signal,
    },
    abort: () => aborter.abort(new Error('the bench was stopped')),
    async buildImage() {
      await removeImage();
      const svc = await services('build');
      const t0 = performance.now();
      await svc.builds.build({ actor, template: 'demo' });
      return performance.now() - t0;
    },
    async teardown() {
      if (tornDown) return;
      tornDown = true;
      try {
        const removed = await cleanup();
        if (removed > 0) log(`removed ${removed} leftover container(s)`);
        await removeImage();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async engineInfo() {
      const [version, info] = await Promise.all([docker.version(), docker.info()]);
      const v = version as unknown as Record<string, unknown>;
      const i = info as Record<string, unknown>;
      return {
        version: v.Version,
        apiVersion: v.ApiVersion,
        os: v.Os,
        kernel: v.KernelVersion,
        cgroupVersion: i.CgroupVersion,
        cpus: i.NCPU,
        memoryBytes: i.MemTotal,
        storageDriver: i.Driver,
      };
    },
  };
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
