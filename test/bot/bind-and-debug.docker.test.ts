// HTTP_BIND: the bot's HTTP server (POST /slack/events, /healthz, /metrics, in HTTP mode and in
// Socket Mode) listens on that one address. And at LOG_LEVEL=debug no log line carries a raw
// envelope, a response_url or a token, over HTTP or over the socket.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type BotBed, startBotBed } from '../support/bot.ts';
import { slashCommand } from '../support/slack-requests.ts';
import { startSocketStandIn } from '../support/slack-socket.ts';
import { startSlackStandIn } from '../support/slack-stand-in.ts';

/** Waits for another run of this file to finish (test/support/bot.ts). */
const BEFORE_MS = 300_000;

const SCOPE = 'test-bot-bind';
const FIRST = 24350;
const APP_TOKEN = 'xapp-1-A0SPREAD-bindtest';
const closers: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** The addresses (hex, as /proc/net/tcp{,6} spells them) that listen on `port`. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local) continue; // 0A: LISTEN
      const [address, p] = local.split(':');
      if (p === hexPort && address) found.push(address);
    }
  }
  return found;
}

const LOOPBACK_V4 = '0100007F';
const ANY = /^0+$/;

/** What must never appear in the log: response_urls, tokens, raw envelopes. */
function expectNoSecrets(bot: BotBed, responseUrl: string, tokens: string[]): void {
  const text = bot
    .logs()
    .map((l) => JSON.stringify(l))
    .join('\n');
  expect(bot.logs().some((l) => l.level === 20)).toBe(true); // debug lines were written
  expect(text).not.toContain('response_url');
  expect(text).not.toContain('hooks.slack.com');
  expect(text).not.toContain(responseUrl);
  expect(text).not.toContain('envelope_id');
  for (const token of tokens) expect(text).not.toContain(token);
}

describe('HTTP_BIND and debug logging', () => {
  it(
    'listens on all interfaces by default (as Bolt does)',
    async () => {
      const bot = await startBotBed({ scope: SCOPE, ports: String(FIRST) });
      closers.push(() => bot.close());
      const port = Number(new URL(bot.url).port);
      expect(listeners(port)).toEqual([expect.stringMatching(ANY)]);
    },
    BEFORE_MS,
  );

  it(
    'with HTTP_BIND=127.0.0.1 listens on 127.0.0.1 only, and at debug level logs no response_url or token',
    async () => {
      // given the bot over HTTP, bound to 127.0.0.1, logging at debug level
      const bot = await startBotBed({
        scope: SCOPE,
        ports: String(FIRST + 1),
        env: { HTTP_BIND: '127.0.0.1', LOG_LEVEL: 'debug' },
      });
      closers.push(() => bot.close());
      // then its one server listens on 127.0.0.1 and nowhere else
      const port = Number(new URL(bot.url).port);
      expect(listeners(port)).toEqual([LOOPBACK_V4]);
      expect(await fetch(`${bot.url}/healthz`).then((r) => r.text())).toBe('ok\n');

      // when a slash command is answered through its response_url
      const s = await bot.slash('list', 'UALICE');
      await bot.waitForResponse(s.id);
      // then the log has debug lines, and none with the response_url, the token or the body
      expectNoSecrets(bot, bot.slack.responseUrl(s.id), ['xoxb-test']);
    },
    BEFORE_MS,
  );

  it(
    'in Socket Mode binds /healthz to HTTP_BIND, and at debug level logs no envelope, response_url or token',
    async () => {
      // given the bot over Socket Mode with HTTP_BIND=127.0.0.1, logging at debug level
      const socket = await startSocketStandIn();
      closers.push(() => socket.close());
      const slack = await startSlackStandIn({ socketUrl: socket.url });
      closers.push(() => slack.close());
      const httpPort = FIRST + 9;
      const bot = await startBotBed({
        scope: SCOPE,
        ports: String(FIRST + 2),
        env: {
          SLACK_APP_TOKEN: APP_TOKEN,
          HTTP_PORT: String(httpPort),
          HTTP_BIND: '127.0.0.1',
          LOG_LEVEL: 'debug',
        },
        slack,
      });
      closers.push(() => bot.close());
      await socket.connected();
      // then its HTTP server (health and metrics) listens on 127.0.0.1 only
      expect(listeners(httpPort)).toEqual([LOOPBACK_V4]);
      expect(await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.text())).toBe('ok\n');

      // when a slash command arrives in an envelope and is answered through its response_url
      const responseUrl = slack.responseUrl('sock-debug');
      const { payload } = slashCommand({ text: 'list', userId: 'UALICE', responseUrl });
      await socket.ack(socket.send('slash_commands', payload));
      await bot.waitForResponse('sock-debug');
      // then no log line carries the envelope, the response_url or a token
      expectNoSecrets(bot, responseUrl, ['xoxb-test', APP_TOKEN]);
    },
    BEFORE_MS,
  );
});
