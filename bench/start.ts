// Issue 12 (production start): the bot as `npm run start:prod` runs it (compiled JavaScript,
// `node dist/main.js`) against `npm start` as it is (`tsx main.ts`), alternating: time from spawn
// to the first GET /healthz 200, and the resident memory of the process tree once it answers.
// Both run as the Slack bot over HTTP with a stand-in token, against the tests' Slack stand-in
// on 127.0.0.1 (the bot asks auth.test at start; nothing reaches Slack), on an empty store of the
// bench scope. The bot child processes
// are also what bench/scale.ts measures memory with.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startSlackStandIn } from '../test/support/slack-stand-in.ts';
import { type BenchContext, ROOT, type Suite } from './harness.ts';
import { alternate, benchRow, ratio, side } from './rows.ts';

const ROUNDS = 5;
/** How long a bot may take to answer /healthz before the round fails. */
const START_TIMEOUT_MS = 60_000;
/** Memory is read this long after the first 200: start-up garbage has had a moment to go. */
const SETTLE_MS = 2_000;

export type BotKind = 'compiled' | 'tsx';

const COMMANDS: Record<BotKind, string[]> = {
  compiled: [process.execPath, path.join(ROOT, 'dist', 'main.js')],
  tsx: [path.join(ROOT, 'node_modules', '.bin', 'tsx'), path.join(ROOT, 'main.ts')],
};

let built: Promise<number> | undefined;
/** `npm run build` once per bench run (what a production host runs before start:prod); its ms. */
export function buildDist(ctx: BenchContext): Promise<number> {
  built ??= new Promise((resolve, reject) => {
    ctx.log('building dist/ (npm run build)');
    const t0 = performance.now();
    const result = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
    if (result.status === 0) resolve(performance.now() - t0);
    else reject(new Error(`npm run build failed: ${result.stdout}${result.stderr}`.slice(-2_000)));
  });
  return built;
}

/** Resident memory (bytes) of a process and all its descendants (tsx runs the bot in a child). */
export function treeRssBytes(root: number): number {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // the process ended meanwhile
    }
  }
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  let kb = 0;
  for (const pid of tree) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      kb += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // ended
    }
  }
  return kb * 1024;
}

export interface RunningBot {
  child: ChildProcess;
  /** Spawn to the first /healthz 200. */
  startMs: number;
  /** The process tree's resident memory now. */
  rssBytes(): number;
  /** SIGTERM, and wait for the exit (SIGKILL after 30 s). */
  stop(): Promise<void>;
}

/** Starts the bot (Slack over HTTP, stand-in credentials) on `dataFile`, and waits for /healthz 200. */
export async function startBot(
  ctx: BenchContext,
  kind: BotKind,
  options: { dataFile: string; httpPort: number; env?: Record<string, string> },
): Promise<RunningBot> {
  const [command = '', ...args] = COMMANDS[kind];
  const slack = await startSlackStandIn();
  const t0 = performance.now();
  const child = spawn(command, args, {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
      SLACK_SIGNING_SECRET: 'bench-not-a-secret',
      SLACK_BOT_TOKEN: 'xoxb-0-bench-not-a-token',
      SLACK_API_URL: slack.apiUrl,
      HTTP_PORT: String(options.httpPort),
      HTTP_BIND: '127.0.0.1',
      SPREADSERVE_DATA: options.dataFile,
      SPREADSERVE_PORTS: `${ctx.ports.from}-${ctx.ports.to}`,
      SPREADSERVE_BIND_IP: ctx.bindIp,
      SPREADSERVE_SCOPE: ctx.scope,
      RECLAIM_CRON: '0 0 1 1 *',
      LOG_LEVEL: 'error',
      ...options.env,
    },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = `${stderr}${String(chunk)}`.slice(-2_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    }
    await slack.close();
  };
  const url = `http://127.0.0.1:${options.httpPort}/healthz`;
  for (;;) {
    if (child.exitCode !== null) {
      await slack.close();
      throw new Error(`the ${kind} bot exited (${child.exitCode}): ${stderr}`);
    }
    if (performance.now() - t0 > START_TIMEOUT_MS) {
      await stop();
      throw new Error(`the ${kind} bot did not answer ${url} within ${START_TIMEOUT_MS} ms: ${stderr}`);
    }
    const status = await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const startMs = performance.now() - t0;
  const pid = child.pid ?? 0;
  const rssBytes = () => {
    // A bot that died after answering reads as 0 bytes: that must fail the row, not pass it.
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `the ${kind} bot ended (${child.exitCode ?? child.signalCode}) before its memory was read: ${stderr}`,
      );
    }
    return treeRssBytes(pid);
  };
  return { child, startMs, rssBytes, stop };
}

const MB = 1024 * 1024;

export const startSuite: Suite = {
  name: 'start',
  description: `production start: node dist/main.js vs tsx main.ts, spawn to /healthz 200 and RSS, ${ROUNDS} each`,
  needsDocker: true,
  async run(ctx) {
    const buildMs = await buildDist(ctx);
    const startMs: Record<BotKind, number[]> = { compiled: [], tsx: [] };
    const rssMb: Record<BotKind, number[]> = { compiled: [], tsx: [] };
    let round = 0;
    const once = (kind: BotKind) => async () => {
      const dataFile = path.join(ctx.dir, `start-${kind}-${round++}.json`);
      const bot = await startBot(ctx, kind, { dataFile, httpPort: ctx.ports.to });
      try {
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        startMs[kind].push(bot.startMs);
        rssMb[kind].push(bot.rssBytes() / MB);
      } finally {
        await bot.stop();
      }
    };
    ctx.log('start: warm-up (1 each, not counted: the first start fills the page cache)');
    await once('compiled')();
    await once('tsx')();
    startMs.compiled = [];
    startMs.tsx = [];
    rssMb.compiled = [];
    rssMb.tsx = [];
    ctx.log(`start: ${ROUNDS} rounds, alternating`);
    await alternate(ctx.signal, ROUNDS, once('compiled'), once('tsx'));
    const startOurs = side('node dist/main.js (npm run start:prod)', startMs.compiled);
    const startBase = side('tsx main.ts (npm start as it is; tsx runs node in a child)', startMs.tsx);
    const rssOurs = side('node dist/main.js: VmRSS', rssMb.compiled, { unit: 'MB' });
    const rssBase = side('tsx main.ts: VmRSS of tsx and its node child', rssMb.tsx, { unit: 'MB' });
    const notes = `Slack bot over HTTP, empty store; ${ROUNDS} each after a warm-up, alternating; dist/ built by npm run build in ${Math.round(buildMs)} ms`;
    return [
      benchRow({
        suite: 'start',
        id: 'start.compiled-vs-tsx-time',
        name: 'bot start to first /healthz 200',
        ours: startOurs,
        baseline: startBase,
        result: { label: 'median ratio', value: ratio(startOurs, startBase), unit: 'x' },
        notes,
      }),
      benchRow({
        suite: 'start',
        id: 'start.compiled-vs-tsx-rss',
        name: `bot RSS ${SETTLE_MS / 1000} s after its first /healthz 200`,
        ours: rssOurs,
        baseline: rssBase,
        result: { label: 'median ratio', value: ratio(rssOurs, rssBase), unit: 'x' },
        notes,
      }),
    ];
  },
};
