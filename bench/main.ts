// `npm run bench` (scripts/docker-up.sh first): runs the suites of bench/suites.ts against the
// real Docker engine, prints a markdown table on stdout (progress goes to stderr) and writes
// bench/results.json. `npm run bench -- launch list` runs only those suites (the other suites'
// rows in results.json are kept, with their own measuredAt); `npm run bench -- --list` lists them.
// A suite marked onlyWhenNamed (scale) runs only when named: `npm run bench -- scale --instances 40`
// (`--network-size 10` spreads its instances over networks of 10, to cross networks at a small N;
// `--fill-only` stops after the fill and the URLs, and prints its rows without writing them).
// Everything it creates carries the scope label `bench`, publishes on 127.0.0.1:25000-25199 (the
// scale suite: 30000-32767) and is removed before and after (also on Ctrl-C and on the overall
// time limit).
// Exit code: 0 when every suite ran (targets missed are reported, not fatal), 1 otherwise.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  acquireBenchLock,
  BENCH_BIND_IP,
  BENCH_IMAGE,
  BENCH_PORTS,
  BENCH_SCOPE,
  createBenchEnv,
  ROOT,
} from './harness.ts';
import { type Bench, formatMs, formatValue, type Side } from './rows.ts';
import { instancesError, networkSizeError, SCALE_DEFAULT_INSTANCES } from './scale.ts';
import { SUITES } from './suites.ts';

const RESULTS = path.join(ROOT, 'bench', 'results.json');
/** The whole run is bounded: past this, it cleans up and exits 1. */
const TIME_LIMIT_MS = 15 * 60_000;
/** What the scale suite adds to it per instance (launches both ways, stops, cycles, stats): a
 * bound, not an estimate. Launches slow as the host fills (~0.9 s each at concurrency 8 into an
 * empty 2-CPU host, ~2.6 s near 1000, ~3.6 s near 1400): a run at 1000 took 74 min; the run at
 * 2000 of 2026-11-30 filled 1400 in 61 min, its tenths growing from 4.5 to 15 min, so a whole
 * run at 2000 is expected to take three and a half hours or more. */
const TIME_LIMIT_PER_INSTANCE_MS = 8_000;
/** The demo template's start timeout when the scale suite runs, both sides: near 1000 instances
 * a loaded 2-CPU host took over the template's own minute to run one (a run at 1000 lost
 * instance 945 to it at load 27-30). */
const SCALE_START_TIMEOUT_MS = 5 * 60_000;
/** How long to wait for another bench run on this machine to finish. */
const LOCK_WAIT_MS = 15 * 60_000;

interface Results {
  date: string;
  durationMs: number;
  node: string;
  machine: {
    os: string;
    arch: string;
    cpus: number;
    cpuModel: string;
    memoryBytes: number;
    /** 1-minute load average at the start and the end: above the CPU count, figures are noisy. */
    loadStart: number;
    loadEnd?: number;
  };
  engine: Record<string, unknown>;
  libraries: Record<string, string>;
  setup: { scope: string; ports: string; bindIp: string; image: string; imageBuildMs?: number };
  suites: { name: string; ran: boolean; error?: string; durationMs?: number }[];
  /** true when every row with a target met it. */
  pass: boolean;
  rows: Bench[];
}

/** The 1-minute load average, to two decimals (os.loadavg() always has three). */
const load1 = () => Math.round((os.loadavg()[0] ?? Number.NaN) * 100) / 100;

function packageVersion(name: string): string {
  try {
    const file = path.join(ROOT, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function previousRows(): Bench[] {
  try {
    const old = JSON.parse(readFileSync(RESULTS, 'utf8')) as Partial<Results>;
    return Array.isArray(old.rows) ? old.rows : [];
  } catch {
    return [];
  }
}

const cell = (s: Side | undefined): string => {
  if (!s) return '—';
  const { stats } = s;
  const format = (v: number) => formatValue(v, s.unit ?? 'ms');
  if (stats.n === 1) return format(stats.median);
  const parts = [`median ${format(stats.median)}`, `p99 ${format(stats.p99)}`];
  if (s.wallMs !== undefined) parts.push(`wall ${formatMs(s.wallMs)}`);
  return `${parts.join(' · ')} (n=${stats.n})`;
};

function markdownTable(rows: readonly Bench[]): string {
  const escapePipes = (text: string) => text.replace(/\|/g, '\\|');
  const lines = [
    '| suite | measurement | ours | baseline | result | target | |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const target = r.target
      ? `${r.target.op === '<=' ? '≤' : '≥'} ${formatValue(r.target.value, r.target.unit)}`
      : '—';
    const verdict = r.pass === null ? '' : r.pass ? 'pass' : '**FAIL**';
    lines.push(
      `| ${[
        r.suite,
        r.name,
        cell(r.ours),
        cell(r.baseline),
        `${r.result.label} **${formatValue(r.result.value, r.result.unit)}**`,
        target,
        verdict,
      ]
        .map(escapePipes)
        .join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--table')) {
    // The last results as the README's table, without running anything.
    process.stdout.write(`${markdownTable(previousRows())}\n`);
    return 0;
  }
  if (argv.includes('--list') || argv.includes('--help')) {
    for (const s of SUITES) {
      const when = s.onlyWhenNamed ? ' (only when named)' : '';
      process.stdout.write(`${s.name.padEnd(10)} ${s.description}${when}\n`);
    }
    return 0;
  }
  // `--instances N`: how many instances the scale suite runs (its default when absent);
  // `--network-size N`: instances per bridge network there (the bot's default when absent).
  const flags = { '--instances': instancesError, '--network-size': networkSizeError } as const;
  const values: Partial<Record<keyof typeof flags, number>> = {};
  const taken = new Set<number>();
  for (const [flag, refuse] of Object.entries(flags) as [
    keyof typeof flags,
    (t?: string) => string | null,
  ][]) {
    const at = argv.indexOf(flag);
    if (at < 0) continue;
    const refusal = refuse(argv[at + 1]);
    if (refusal !== null) {
      process.stderr.write(`bench: ${refusal}\n`);
      return 2;
    }
    values[flag] = Number(argv[at + 1]);
    taken.add(at).add(at + 1);
  }
  const instances = values['--instances'];
  // `--fill-only`: the scale suite's fill and URLs alone (a run past 1000 without the hours the
  // rest takes); its rows are printed, not written: they would replace a whole run's.
  const fillOnly = argv.includes('--fill-only');
  if (fillOnly) taken.add(argv.indexOf('--fill-only'));
  const names = argv.filter((_, i) => !taken.has(i));
  const unknown = names.filter((a) => !SUITES.some((s) => s.name === a));
  if (unknown.length > 0) {
    process.stderr.write(
      `bench: no suite ${unknown.join(', ')}; suites: ${SUITES.map((s) => s.name).join(', ')}\n`,
    );
    return 2;
  }
  const chosen =
    names.length > 0 ? SUITES.filter((s) => names.includes(s.name)) : SUITES.filter((s) => !s.onlyWhenNamed);
  const scaled = chosen.some((s) => s.onlyWhenNamed);
  if (fillOnly && !chosen.some((s) => s.name === 'scale')) {
    process.stderr.write(
      'bench: --fill-only applies to the scale suite: `npm run bench -- scale --fill-only`.\n',
    );
    return 2;
  }
  const timeLimitMs =
    TIME_LIMIT_MS + (scaled ? (instances ?? SCALE_DEFAULT_INSTANCES) * TIME_LIMIT_PER_INSTANCE_MS : 0);

  // One bench at a time on this machine: two would share the scope and the ports, and each one's
  // cleanup would remove the other's containers.
  await acquireBenchLock((line) => process.stderr.write(`bench: ${line}\n`), LOCK_WAIT_MS);
  const started = Date.now();
  const bench = createBenchEnv(process.env, {
    instances,
    networkSize: values['--network-size'],
    fillOnly,
    startTimeoutMs: chosen.some((s) => s.name === 'scale') ? SCALE_START_TIMEOUT_MS : undefined,
  });
  const { ctx } = bench;
  // A signal can come twice (`tsx` relays to this process the SIGINT or SIGTERM a terminal or a
  // `pkill` already sent it): the second must not end the cleanup the first began, which left a
  // run's instances behind.
  let stopping: Promise<never> | null = null;
  const stop = (why: string, code: number) => {
    if (stopping) return ctx.log(`${why}: already cleaning up`);
    ctx.log(`${why}: cleaning up`);
    stopping = (async () => {
      bench.abort();
      await bench.teardown().catch((err: unknown) => ctx.log(`cleanup failed: ${String(err)}`));
      // A launch that was in flight may have created its container after that: one more pass.
      await new Promise((r) => setTimeout(r, 1_500));
      await ctx.cleanup().catch(() => 0);
      process.exit(code);
    })();
  };
  process.on('SIGINT', () => stop('interrupted', 130));
  process.on('SIGTERM', () => stop('terminated', 143));
  setTimeout(
    () => stop(`time limit of ${Math.round(timeLimitMs / 60_000)} min reached`, 1),
    timeLimitMs,
  ).unref();

  const results: Results = {
    date: new Date().toISOString(),
    durationMs: 0,
    node: process.version,
    machine: {
      os: `${os.type()} ${os.release()}`,
      arch: os.arch(),
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryBytes: os.totalmem(),
      loadStart: load1(),
    },
    engine: {},
    libraries: { dockerode: packageVersion('dockerode'), lowdb: packageVersion('lowdb') },
    setup: {
      scope: BENCH_SCOPE,
      ports: `${BENCH_PORTS.from}-${BENCH_PORTS.to}`,
      bindIp: BENCH_BIND_IP,
      image: BENCH_IMAGE,
    },
    suites: [],
    pass: true,
    rows: [],
  };

  let failed = false;
  try {
    results.engine = await bench.engineInfo();
    const leftovers = await ctx.cleanup();
    if (leftovers > 0) ctx.log(`removed ${leftovers} leftover container(s) of an earlier run`);
    if (chosen.some((s) => s.needsDocker)) {
      ctx.log(`building ${BENCH_IMAGE} through the core`);
      results.setup.imageBuildMs = Math.round(await bench.buildImage());
    }
    for (const suite of chosen) {
      ctx.log(`suite ${suite.name}: ${suite.description}`);
      const t0 = Date.now();
      try {
        const rows = await suite.run(ctx);
        results.rows.push(...rows);
        results.suites.push({ name: suite.name, ran: true, durationMs: Date.now() - t0 });
      } catch (err) {
        failed = true;
        const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
        ctx.log(`suite ${suite.name} failed: ${message}`);
        results.suites.push({ name: suite.name, ran: false, error: String(err) });
      } finally {
        await ctx.cleanup();
      }
    }
  } finally {
    await bench.teardown();
  }
  // A stopped run writes nothing: its suites ended early, and results.json keeps the last run's.
  if (stopping) return stopping;

  // Rows of suites not run this time, or not to their end, are carried over, so results.json
  // stays complete (a scale run that fails after an hour does not wipe the last one's rows).
  const chosenNames = new Set(results.suites.filter((s) => s.ran).map((s) => s.name));
  const carried = previousRows().filter(
    (r) => !chosenNames.has(r.suite) && SUITES.some((s) => s.name === r.suite),
  );
  const order = (r: Bench) => SUITES.findIndex((s) => s.name === r.suite);
  results.rows = [...results.rows, ...carried].sort((a, b) => order(a) - order(b));
  results.pass = results.rows.every((r) => r.pass !== false);
  results.durationMs = Date.now() - started;
  results.machine.loadEnd = load1();
  if (!fillOnly) writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);

  process.stdout.write(`${markdownTable(results.rows)}\n\n`);
  const engine = results.engine;
  process.stdout.write(
    `Docker ${String(engine.version)} (API ${String(engine.apiVersion)}), Node ${results.node}, ` +
      `${results.machine.cpus} CPUs, ${results.date}; ${carried.length ? `${carried.length} row(s) carried over from an earlier run; ` : ''}` +
      `${fillOnly ? 'a --fill-only run, not written to bench/results.json,' : 'written to bench/results.json'} in ${formatMs(results.durationMs)}.\n`,
  );
  const { cpus, loadStart, loadEnd = 0 } = results.machine;
  if (Math.max(loadStart, loadEnd) > cpus) {
    process.stdout.write(
      `Warning: the machine was busy (load ${loadStart} at the start, ${loadEnd} at the end, on ${cpus} CPUs): the figures are noisy; run again when it is idle.\n`,
    );
  }
  const missed = results.rows.filter((r) => r.pass === false);
  if (missed.length > 0) ctx.log(`targets missed: ${missed.map((r) => r.id).join(', ')}`);
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
