// Slack's side of bench/slack.ts, in a worker thread of its own so that none of its work runs on
// the bot's event loop: the Slack Web API stand-in (with the response_url endpoints), the load
// generator that sends signed slash commands and times each ack, and the background loop of
// users launching and stopping instances through the bot. The main thread drives it with the
// small request/answer protocol below (ClientRequest -> ClientAnswer).
import http from 'node:http';
import { parentPort } from 'node:worker_threads';
import { newTriggerId, type SignedRequest, slashCommand } from '../test/support/slack-requests.ts';
import { type SlackStandIn, startSlackStandIn } from '../test/support/slack-stand-in.ts';

export type Kind = 'help' | 'list' | 'floor';

export interface BurstOptions {
  /** The bot's (or the floor's) base URL; requests go to `<url>/slack/events`. */
  url: string;
  kind: Kind;
  n: number;
  concurrency: number;
  /** One request's time limit; past it, it counts as a timeout. */
  timeoutMs: number;
  /** No new request is sent after this long. */
  budgetMs: number;
  /** Reuse the connections of this pool (keep-alive), one pool per target and level. */
  pool: string;
}

export interface BurstResult {
  /** Milliseconds from sending to the complete HTTP 200 answer, in the order they finished. */
  samples: number[];
  wallMs: number;
  /** Answers other than 200, timeouts, connection errors, ack bodies that were not the expected one. */
  failures: { status: number; timeouts: number; errors: number; wrongBody: number; firstProblem?: string };
  /** list only: response_url posts received for this burst's commands (the work after the ack). */
  responded?: number;
  /** Background cycles (launch + stop through the bot) in flight when the burst started and ended,
   * and launches and stops the bot completed while it ran. */
  background: { inFlightAtStart: number; inFlightAtEnd: number; launches: number; stops: number };
}

export interface BackgroundOptions {
  url: string;
  /** Launch-then-stop cycles kept in flight. */
  inFlight: number;
  /** Bounds: cycles started, and time from the start. */
  maxCycles: number;
  maxMs: number;
  /** One launch or stop, from the slash command to its response_url post. */
  stepTimeoutMs: number;
}

export interface BackgroundReport {
  cycles: number;
  launches: number;
  stops: number;
  /** Slash `launch` sent -> the response_url post with the URL, per successful launch. */
  launchMs: number[];
  /** Slash `stop` sent -> its response_url post, per successful stop. */
  stopMs: number[];
  failures: string[];
}

export type ClientRequest =
  | { op: 'start' }
  | { op: 'burst'; options: BurstOptions }
  | { op: 'closePool'; pool: string }
  | { op: 'backgroundStart'; options: BackgroundOptions }
  | { op: 'backgroundRunning' }
  | { op: 'backgroundStop'; waitMs: number }
  | { op: 'close' };

export type ClientAnswer =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string };

const USER = 'UBENCHLOAD';
const BG_USER = 'UBENCHBG';

let slack: SlackStandIn | undefined;
const pools = new Map<string, http.Agent>();
let responseSeq = 0;
const bg = { inFlight: 0, launches: 0, stops: 0 };

function standIn(): SlackStandIn {
  if (!slack) throw new Error('the stand-in is not started');
  return slack;
}

function slashTo(text: string, user: string): { request: SignedRequest; responseId: string } {
  const responseId = `r${++responseSeq}`;
  const request = slashCommand({
    text,
    userId: user,
    responseUrl: standIn().responseUrl(responseId),
    triggerId: newTriggerId(),
  });
  return { request, responseId };
}

interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** One POST to `<url>/slack/events` over `agent`; rejects on a connection error or timeout. */
function post(url: string, request: SignedRequest, agent: http.Agent, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = new URL('/slack/events', url);
    const t0 = performance.now();
    const req = http.request(
      target,
      {
        method: 'POST',
        agent,
        headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - t0,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(request.body);
  });
}

function agentFor(pool: string, concurrency: number): http.Agent {
  let agent = pools.get(pool);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    pools.set(pool, agent);
  }
  return agent;
}

/** What the ack of each kind must be: help rides on the ack, list acks empty and responds. */
function checkAck(kind: Kind, body: string): string | undefined {
  if (kind === 'floor') return undefined;
  if (kind === 'list') return body === '' ? undefined : `list ack had a body: ${body.slice(0, 120)}`;
  try {
    const parsed = JSON.parse(body) as { text?: unknown; blocks?: unknown };
    if (
      typeof parsed.text === 'string' &&
      parsed.text.includes('SpreadServe') &&
      Array.isArray(parsed.blocks)
    )
      return undefined;
  } catch {}
  return `help ack was not the help reply: ${body.slice(0, 120)}`;
}

async function burst(o: BurstOptions): Promise<BurstResult> {
  const s = standIn();
  const agent = agentFor(o.pool, o.concurrency);
  // Signed up front, so signing is not timed; a fresh trigger_id each (the bot acts once per id).
  const requests = Array.from({ length: o.n }, () => slashTo(o.kind === 'list' ? 'list' : 'help', USER));
  const failures: BurstResult['failures'] = { status: 0, timeouts: 0, errors: 0, wrongBody: 0 };
  const note = (problem: string) => {
    failures.firstProblem ??= problem;
  };
  const samples: number[] = [];
  const background = {
    inFlightAtStart: bg.inFlight,
    inFlightAtEnd: 0,
    launches: -bg.launches,
    stops: -bg.stops,
  };
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < requests.length && performance.now() - t0 < o.budgetMs) {
      const { request } = requests[next++]!;
      try {
        const answer = await post(o.url, request, agent, o.timeoutMs);
        if (answer.status !== 200) {
          failures.status++;
          note(`HTTP ${answer.status}: ${answer.body.slice(0, 120)}`);
          continue;
        }
        const wrong = checkAck(o.kind, answer.body);
        if (wrong) {
          failures.wrongBody++;
          note(wrong);
        }
        samples.push(answer.ms);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (message.startsWith('timeout')) failures.timeouts++;
        else failures.errors++;
        note(message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.n) }, worker));
  const wallMs = performance.now() - t0;
  background.inFlightAtEnd = bg.inFlight;
  background.launches += bg.launches;
  background.stops += bg.stops;

  let responded: number | undefined;
  if (o.kind === 'list') {
    // The work after the ack: every list must reach its response_url (bounded wait, not timed).
    const sent = requests.slice(0, next).map((r) => r.responseId);
    const count = () => sent.filter((id) => s.responses(id).length > 0).length;
    const until = Date.now() + 20_000;
    while (count() < sent.length && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    responded = count();
  }
  return { samples, wallMs, failures, responded, background };
}

// ---- the background loop: launches and stops through the bot ----------------------------------

let background: { stop(): void; done: Promise<BackgroundReport> } | undefined;

async function waitForResponse(id: string, timeoutMs: number): Promise<string> {
  const body = await standIn().waitFor((s) => s.responses(id)[0], {
    timeoutMs,
    intervalMs: 10,
    message: `no response_url post for ${id}`,
  });
  return typeof body.text === 'string' ? body.text : JSON.stringify(body);
}

function startBackground(o: BackgroundOptions): void {
  if (background) throw new Error('the background loop is already running');
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.inFlight * 2 });
  const control = { stopping: false };
  const report: BackgroundReport = {
    cycles: 0,
    launches: 0,
    stops: 0,
    launchMs: [],
    stopMs: [],
    failures: [],
  };
  const t0 = Date.now();
  const fail = (what: string) => {
    if (report.failures.length < 20) report.failures.push(what);
  };
  /** Sends `text` as a slash command and waits for its response_url post; returns ms and text. */
  const step = async (text: string): Promise<{ ms: number; reply: string }> => {
    const { request, responseId } = slashTo(text, BG_USER);
    const start = performance.now();
    const ack = await post(o.url, request, agent, o.stepTimeoutMs);
    if (ack.status !== 200) throw new Error(`${text}: ack HTTP ${ack.status}`);
    const reply = await waitForResponse(responseId, o.stepTimeoutMs);
    return { ms: performance.now() - start, reply };
  };
  const slot = async () => {
    while (!control.stopping && report.cycles < o.maxCycles && Date.now() - t0 < o.maxMs) {
      const name = `bg-${String(report.cycles++).padStart(4, '0')}`;
      bg.inFlight++;
      try {
        const launched = await step(`launch demo --name ${name}`);
        if (!launched.reply.includes('is up at')) {
          fail(`launch ${name}: ${launched.reply.slice(0, 160)}`);
          continue;
        }
        bg.launches++;
        report.launches++;
        report.launchMs.push(launched.ms);
        const stopped = await step(`stop ${name}`);
        if (!stopped.reply.includes('Stopped')) {
          fail(`stop ${name}: ${stopped.reply.slice(0, 160)}`);
          continue;
        }
        bg.stops++;
        report.stops++;
        report.stopMs.push(stopped.ms);
      } catch (err) {
        fail(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        bg.inFlight--;
      }
    }
  };
  const done = Promise.all(Array.from({ length: o.inFlight }, slot)).then(() => {
    agent.destroy();
    return report;
  });
  background = {
    stop: () => {
      control.stopping = true;
    },
    done,
  };
}

async function stopBackground(waitMs: number): Promise<BackgroundReport | null> {
  const running = background;
  if (!running) return null;
  running.stop();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the background loop did not finish within ${waitMs} ms`)),
      waitMs,
    );
  });
  try {
    return await Promise.race([running.done, timeout]);
  } finally {
    clearTimeout(timer);
    background = undefined;
  }
}

// ---- protocol ---------------------------------------------------------------------------------

async function handle(request: ClientRequest): Promise<unknown> {
  switch (request.op) {
    case 'start':
      slack ??= await startSlackStandIn();
      return { apiUrl: slack.apiUrl };
    case 'burst':
      return burst(request.options);
    case 'closePool':
      pools.get(request.pool)?.destroy();
      pools.delete(request.pool);
      return null;
    case 'backgroundStart':
      startBackground(request.options);
      return null;
    case 'backgroundRunning':
      return { inFlight: bg.inFlight, launches: bg.launches, stops: bg.stops };
    case 'backgroundStop':
      return stopBackground(request.waitMs);
    case 'close':
      for (const agent of pools.values()) agent.destroy();
      pools.clear();
      await slack?.close();
      slack = undefined;
      return null;
  }
}

const port = parentPort;
if (!port) throw new Error('bench/slack-client.ts runs as a worker thread of bench/slack.ts');
port.on('message', (message: { id: number; request: ClientRequest }) => {
  handle(message.request).then(
    (value) => port.postMessage({ id: message.id, ok: true, value } satisfies ClientAnswer),
    (err: unknown) =>
      port.postMessage({
        id: message.id,
        ok: false,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      } satisfies ClientAnswer),
  );
});
