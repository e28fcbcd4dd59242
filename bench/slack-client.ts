// Slack's side of bench/slack.ts, in a worker thread of its own so that none of its work runs on
// the bot's event loop: the Slack Web API stand-in (with the response_url endpoints), the load
// generator that sends signed slash commands and times each ack, and the background loop of
// users launching and stopping instances through the bot. The main thread drives it with the
// request/answer protocol of bench/slack-protocol.ts (ClientRequest -> ClientAnswer). This file
// is the load generator and the protocol's end; the background loop is bench/slack-background.ts.
import http from 'node:http';
import { parentPort } from 'node:worker_threads';
import { type SlackStandIn, startSlackStandIn } from '../test/support/slack-stand-in.ts';
import { bg, startBackground, stopBackground } from './slack-background.ts';
import type { BurstOptions, BurstResult, ClientAnswer, ClientRequest, Kind } from './slack-protocol.ts';
import { post, slashTo } from './slack-wire.ts';

const USER = 'UBENCHLOAD';

let slack: SlackStandIn | undefined;
const pools = new Map<string, http.Agent>();

function standIn(): SlackStandIn {
  if (!slack) throw new Error('the stand-in is not started');
  return slack;
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
  const requests = Array.from({ length: o.n }, () => slashTo(s, o.kind === 'list' ? 'list' : 'help', USER));
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
    while (performance.now() - t0 < o.budgetMs) {
      const item = requests[next];
      if (item === undefined) break;
      next++;
      const { request } = item;
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
      startBackground(standIn(), request.options);
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
