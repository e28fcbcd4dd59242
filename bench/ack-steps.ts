// Where a Slack ack's cost goes (issue 12's ack target, explained by measurement; not a suite of
// `npm run bench`, and no Docker): the floor of bench/slack.ts (a bare node:http server reading
// the body and answering `{}`) with the steps an ack needs added one at a time, each a server in a
// worker thread of its own, and then the bot itself (composed as in production, its engine at a
// socket that does not exist; Bolt's receiver on its main thread). All are driven alternately
// with the same signed `help` commands at concurrency 50 from the "Slack" worker of
// bench/slack.ts. Per request it reports the answering thread's CPU time (/proc/<tid>/schedstat:
// time on a CPU, which does not grow while the thread waits for one) against the floor's, and
// latency p50 / p99 (noisy on a busy machine). At concurrency 50 an ack waits behind the ~49
// ahead of it on one thread, so the p99s stand roughly as the per-request costs do.
// `npx tsx bench/ack-steps.ts [requests per round] [rounds]`
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { composeSlackBot } from '../bot/main.ts';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../lib/log.ts';
import { postToBot, slashCommand, TEST_SIGNING_SECRET } from '../test/support/slack-requests.ts';
import { side } from './rows.ts';
import type { BurstResult } from './slack-protocol.ts';
import { SlackSide, tsWorker } from './slack-threads.ts';

const REQUESTS = Number(process.argv[2] ?? 500);
const ROUNDS = Number(process.argv[3] ?? 4);
const C = 50;

// Each step's server: plain CommonJS, so no loader runs in its thread. `step` is how many of an
// ack's steps it takes beyond the floor's: 1 keeps the body, 2 reads the URL, 3 checks Slack's
// signature, 4 parses the form (twice: ssl_check first, as Bolt does), 5 answers the `help` ack's
// JSON instead of `{}`, 6 hands the body to another thread (as a receiver in a thread of its own
// would).
const STEP_SOURCE = `
const http = require('node:http');
const { createHmac, timingSafeEqual } = require('node:crypto');
const { parse } = require('node:querystring');
const { parentPort, workerData } = require('node:worker_threads');
const { step, secret, ackBody } = workerData;
parentPort.postMessage({ tid: require('node:fs').readlinkSync('/proc/thread-self').split('/').pop() });
const server = http.createServer((req, res) => {
  if (step < 1) {
    req.resume();
    req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}'); });
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString();
    if (step >= 2) new URL(req.url, 'http://localhost').pathname;
    if (step >= 3) {
      const ts = Number(req.headers['x-slack-request-timestamp']);
      const [, hash] = String(req.headers['x-slack-signature']).split('=');
      const ours = Buffer.from(createHmac('sha256', secret).update('v0:' + ts + ':' + text).digest('hex'));
      const theirs = Buffer.from(hash);
      if (theirs.length !== ours.length || !timingSafeEqual(theirs, ours)) { res.writeHead(401).end(); return; }
    }
    if (step >= 4) { parse(text).ssl_check; parse(text).command; }
    const body = step >= 5 ? ackBody : '{}';
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    if (step >= 6) parentPort.postMessage({ type: 'event', text, contentType: req.headers['content-type'] });
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
`;

interface Target {
  name: string;
  url: string;
  /** The answering thread's CPU time so far, ms. */
  cpuMs(): number;
  close(): Promise<void>;
}

/** A thread's time on a CPU so far (ms): the first field of /proc/self/task/<tid>/schedstat. */
function threadCpuMs(tid: string): number {
  const [onCpuNs = '0'] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ');
  return Number(onCpuNs) / 1e6;
}

async function stepTarget(name: string, step: number, ackBody: string): Promise<Target> {
  const worker = new Worker(STEP_SOURCE, {
    eval: true,
    workerData: { step, secret: TEST_SIGNING_SECRET, ackBody },
  });
  const { port, tid } = await new Promise<{ port: number; tid: string }>((resolve, reject) => {
    let tid = '';
    worker.on('message', (m: { tid?: string; port?: number; type?: string }) => {
      if (m.tid) tid = m.tid;
      if (m.port !== undefined) resolve({ port: m.port, tid });
    });
    worker.once('error', reject);
  });
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    cpuMs: () => threadCpuMs(tid),
    close: async () => void (await worker.terminate()),
  };
}

/** The bot as in production over HTTP (Bolt's receiver, on this process's main thread), its Web
 * API at the Slack worker's stand-in. */
async function botTarget(dir: string, apiUrl: string): Promise<Target & { helpBody: string }> {
  const config = loadConfig({
    SPREADSERVE_DATA: path.join(dir, 'store.json'),
    SPREADSERVE_PORTS: '25190-25199',
    SPREADSERVE_SCOPE: 'ack-steps',
    DOCKER_HOST: `unix://${path.join(dir, 'no-docker.sock')}`,
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_BOT_TOKEN: 'xoxb-ack-steps',
    SLACK_API_URL: apiUrl,
    HTTP_PORT: '0',
    HTTP_BIND: '127.0.0.1',
    LOG_LEVEL: 'info',
    RECLAIM_CRON: '0 0 1 1 *',
  });
  const log = createLogger('info', pino.destination({ dest: path.join(dir, 'bot.log'), sync: true }));
  const bot = await composeSlackBot(config, { log, clientOptions: { retryConfig: { retries: 0 } } });
  const url = `http://127.0.0.1:${await bot.start()}`;
  const help = await postToBot(
    url,
    slashCommand({ userId: 'U0123456789', text: 'help', responseUrl: `${url}/none` }),
  );
  if (help.status !== 200 || !help.body.includes('help'))
    throw new Error(`the bot answered help with ${help.status}`);
  return {
    name: "the bot (Bolt's HTTP receiver, main thread)",
    url,
    helpBody: help.body,
    cpuMs: () => threadCpuMs(String(process.pid)),
    close: async () => {
      await bot.stop();
      await bot.services.store.close();
    },
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ack-steps-'));
  const client = new SlackSide(tsWorker(new URL('./slack-client.ts', import.meta.url)));
  const { apiUrl } = await client.call<{ apiUrl: string }>({ op: 'start' });
  const bot = await botTarget(dir, apiUrl);
  const targets: Target[] = [
    await stepTarget('0 floor: node:http, answer {}', 0, bot.helpBody),
    await stepTarget('1 + keep the body', 1, bot.helpBody),
    await stepTarget('2 + read the URL', 2, bot.helpBody),
    await stepTarget("3 + check Slack's signature", 3, bot.helpBody),
    await stepTarget('4 + parse the form (x2)', 4, bot.helpBody),
    await stepTarget(`5 + answer the help ack (${bot.helpBody.length} B)`, 5, bot.helpBody),
    await stepTarget('6 + hand the body to another thread', 6, bot.helpBody),
    bot,
  ];
  const burst = (t: Target, n: number) =>
    client.call<BurstResult>({
      op: 'burst',
      options: {
        url: t.url,
        kind: 'floor',
        n,
        concurrency: C,
        timeoutMs: 3_000,
        budgetMs: 60_000,
        pool: t.name,
      },
    });
  const acc = new Map(targets.map((t) => [t, { samples: [] as number[], cpuMs: 0, failed: 0 }]));
  for (const t of targets) await burst(t, 200); // warm-up: JIT, connections
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
      const a = acc.get(t);
      if (!a) continue;
      const before = t.cpuMs();
      const r = await burst(t, REQUESTS);
      a.cpuMs += t.cpuMs() - before;
      a.samples.push(...r.samples);
      a.failed += r.failures.status + r.failures.timeouts + r.failures.errors;
    }
  }
  const perRequest = (t: Target) => {
    const a = acc.get(t);
    return a?.samples.length ? a.cpuMs / a.samples.length : Number.NaN;
  };
  const [floor] = targets;
  const floorCpu = floor ? perRequest(floor) : Number.NaN;
  const floorP99 = floor ? side('', acc.get(floor)?.samples ?? []).stats.p99 : Number.NaN;
  console.log(`concurrency ${C}, ${REQUESTS * ROUNDS} requests each, in ${ROUNDS} rounds alternating`);
  console.log('| server | CPU per request | vs floor | p50 | p99 | p99 vs floor |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const t of targets) {
    const a = acc.get(t);
    if (!a) continue;
    const { p50, p99 } = side('', a.samples).stats;
    const cpu = perRequest(t);
    console.log(
      `| ${t.name}${a.failed ? ` (${a.failed} failed)` : ''} | ${Math.round(cpu * 1000)} µs | ${(cpu / floorCpu).toFixed(2)}x | ${p50.toFixed(1)} ms | ${p99.toFixed(1)} ms | ${(p99 / floorP99).toFixed(2)}x |`,
    );
  }
  console.log(
    `load average ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}, ${os.cpus().length} CPUs`,
  );
  await client.call({ op: 'close' });
  await client.worker.terminate();
  for (const t of targets) await t.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
