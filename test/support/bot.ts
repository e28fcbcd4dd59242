// The real Bolt app for a bot test file: the HTTP receiver on an ephemeral port, its Web API
// client and every response_url pointed at the Slack stand-in, real core services (own scope,
// port range and store) on the real Docker engine, and a pino logger writing to a buffer.
// Requests go over HTTP, signed as Slack signs them.
import { appendFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { composeSlackBot, type SlackBot } from '../../bot/main.ts';
import type { TemplateSet } from '../../core/templates.ts';
import type { Clock } from '../../lib/clock.ts';
import { unlock, waitForLock } from '../../lib/lock.ts';
import { createLogger } from '../../lib/log.ts';
import { prepareScope, type TestBed, tempDir } from './services.ts';
import {
  type BlockActionArgs,
  type BotAnswer,
  blockAction,
  type EventArgs,
  type EventOptions,
  event,
  newTriggerId,
  postToBot,
  type SignedRequest,
  type SignOptions,
  slashCommand,
  TEST_SIGNING_SECRET,
} from './slack-requests.ts';
import { type Body, type SlackStandIn, type StandInOptions, startSlackStandIn } from './slack-stand-in.ts';

export interface BotBedOptions {
  /** `test-bot-...`: unique per test file. */
  scope: string;
  /** This file's own range inside 24300-24399. */
  ports: string;
  /** More configuration (SPREADSERVE_ADMINS, MAX_INSTANCES_PER_USER, DOCKER_HOST, ...). */
  env?: Record<string, string>;
  standIn?: StandInOptions;
  templates?: TemplateSet;
  /** Use this stand-in instead of starting one (two bots in one file). */
  slack?: SlackStandIn;
  /** A ManualClock the reclaim pass reads (the test runs each pass itself); the system clock when absent. */
  clock?: Clock;
}

export interface Slash {
  /** The response_url id: what the bot posted there is `slack.responses(id)`. */
  id: string;
  triggerId: string;
  /** The HTTP answer to the slash command: the ack. */
  ack: BotAnswer;
  /** Posts to this command's response_url so far. */
  responses(): Body[];
}

export interface BotBed {
  bot: SlackBot;
  bed: TestBed;
  slack: SlackStandIn;
  /** http://127.0.0.1:<port> of the bot. */
  url: string;
  /** The bot's log, one parsed JSON object a line. */
  logs(): Record<string, unknown>[];
  /** `/spreadserve <text>` typed by `user`. */
  slash(text: string, user: string, opts?: SlashOptions): Promise<Slash>;
  /** A button click (block_actions) by `user`. */
  click(args: Omit<BlockActionArgs, 'responseUrl'> & { responseId?: string }): Promise<BotAnswer>;
  /** An Events API callback. */
  event(ev: EventArgs, opts?: EventOptions): Promise<BotAnswer>;
  post(request: SignedRequest): Promise<BotAnswer>;
  /** The messages the bot posted (chat.postMessage) to `channel`, e.g. `D<user>` for a DM, oldest first. */
  postsTo(channel: string): Body[];
  /** The first response_url post to `id` that satisfies `predicate` (default: any), within `timeoutMs`. */
  waitForResponse(id: string, predicate?: (body: Body) => boolean, timeoutMs?: number): Promise<Body>;
  /** Stops the bot, removes this file's containers and images, closes the stand-in. */
  close(): Promise<void>;
}

export interface SlashOptions {
  triggerId?: string;
  channelId?: string;
  sign?: SignOptions;
  /** Reuse a response_url id (a retry of the same delivery). */
  responseId?: string;
}

let responseSeq = 0;

export async function startBotBed(options: BotBedOptions): Promise<BotBed> {
  const release = await lockScope(options.scope);
  try {
    return await start(options, release);
  } catch (err) {
    release();
    throw err;
  }
}

async function start(options: BotBedOptions, release: () => void): Promise<BotBed> {
  const slack = options.slack ?? (await startSlackStandIn(options.standIn));
  const lines: string[] = [];
  const dir = tempDir('ss-bot-');
  // Kept in memory for assertions, and in <dir>/bot.log while the file runs (tail -f it to watch).
  const logFile = path.join(dir, 'bot.log');
  const log = createLogger(options.env?.LOG_LEVEL ?? 'info', {
    write: (line: string) => {
      lines.push(line);
      appendFileSync(logFile, line);
    },
  });
  const env: Record<string, string> = {
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_BOT_TOKEN: 'xoxb-test',
    SLACK_API_URL: slack.apiUrl,
    HTTP_PORT: '0',
    // The real schedule runs, but fires once a year: a pass in the middle of a test would DM.
    RECLAIM_CRON: '0 0 1 1 *',
    ...options.env,
  };
  const scope = await prepareScope(
    { scope: options.scope, ports: options.ports, env, templates: options.templates },
    dir,
  );
  await scope.cleanup(); // what an interrupted earlier run left: containers and images
  const bot = await composeSlackBot(scope.config, {
    log,
    clientOptions: { retryConfig: { retries: 0 } },
    templates: scope.templates,
    clock: options.clock,
  });
  const bed: TestBed = { ...scope, services: bot.services };
  const port = await bot.start();
  const url = `http://127.0.0.1:${port}`;
  const post = (request: SignedRequest) => postToBot(url, request);

  return {
    bot,
    bed,
    slack,
    url,
    post,
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    async slash(text, user, opts = {}) {
      const id = opts.responseId ?? `r${++responseSeq}`;
      const triggerId = opts.triggerId ?? newTriggerId();
      const request = slashCommand(
        { text, userId: user, responseUrl: slack.responseUrl(id), triggerId, channelId: opts.channelId },
        opts.sign,
      );
      const ack = await post(request);
      return { id, triggerId, ack, responses: () => slack.responses(id) };
    },
    click({ responseId, ...args }) {
      return post(
        blockAction({
          ...args,
          responseUrl: responseId === undefined ? undefined : slack.responseUrl(responseId),
        }),
      );
    },
    event: (ev, opts) => post(event(ev, opts)),
    postsTo: (channel) =>
      slack
        .calls('chat.postMessage')
        .map((c) => c.body)
        .filter((b) => b.channel === channel),
    waitForResponse(id, predicate = () => true, timeoutMs = 10_000) {
      return slack.waitFor((s) => s.responses(id).find(predicate), {
        timeoutMs,
        message: `no response_url post to ${id} matched`,
      });
    },
    async close() {
      await bot.stop().catch(() => undefined);
      await bed.cleanup();
      if (!options.slack) await slack.close();
      rmSync(dir, { recursive: true, force: true });
      release();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// One run of a test file at a time: a file's scope, port range, container names and image tag
// are fixed, so two runs of the same file at once (two people running the suite on the shared
// engine) would remove each other's containers and images. A lock file per scope serialises
// them; the bots of one file share it.

const held = new Map<string, number>();

const scopeLock = (scope: string) => path.join(os.tmpdir(), `spreadserve-test-${scope}.lock`);

/** Waits (bounded) until no other process runs this scope; returns the release. */
export async function lockScope(scope: string, timeoutMs = 240_000): Promise<() => void> {
  const count = held.get(scope) ?? 0;
  if (count === 0) await waitForLock(scopeLock(scope), timeoutMs);
  held.set(scope, count + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (held.get(scope) ?? 1) - 1;
    held.set(scope, left);
    if (left === 0) unlock(scopeLock(scope));
  };
}

/** The one line a reply says first: the ack's or response's `text`. */
export function textOf(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'text' in body && typeof body.text === 'string')
    return body.text;
  return '';
}

/** Everything a reply shows (text and every block text), to search in. */
export function shown(body: unknown): string {
  return JSON.stringify(body ?? '');
}

/** Polls `check` until it returns true, every 100 ms, for at most `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
