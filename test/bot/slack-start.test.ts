// `npm start` with Slack credentials when Slack refuses the token or does not answer: the bot
// stops at start with one sentence on stderr and exit code 1, before it touches Docker (here an
// engine that does not exist) or reconciles anything. Bolt's own auth.test used to reject
// unobserved and end the process a few seconds after it had started serving, with a stack trace.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const TOKEN = 'xoxb-0-slack-start-test-token';
/** The bot would listen here if it got that far (this file's own port). */
const HTTP_PORT = 24998;

let slack: SlackStandIn;
let dir: string;

beforeAll(async () => {
  slack = await startSlackStandIn();
  dir = mkdtempSync(path.join(os.tmpdir(), 'ss-slack-start-'));
});

afterAll(async () => {
  await slack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `main.ts` with Slack credentials and `apiUrl`; its exit code and output. */
function startBot(apiUrl: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(ROOT, 'main.ts')], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      SLACK_SIGNING_SECRET: 'slack-start-test-secret',
      SLACK_BOT_TOKEN: TOKEN,
      SLACK_API_URL: apiUrl,
      HTTP_PORT: String(HTTP_PORT),
      HTTP_BIND: '127.0.0.1',
      SPREADSERVE_DATA: path.join(dir, 'store.json'),
      SPREADSERVE_TEMPLATES: path.join(ROOT, 'spreadserve.templates.yml'),
      SPREADSERVE_SCOPE: 'slackstart',
      DOCKER_HOST: `unix://${path.join(dir, 'no-docker.sock')}`,
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  // Bounded: a bot that went on serving would otherwise keep the test waiting.
  const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** A port on 127.0.0.1 that refuses connections: taken from the OS, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

// Concurrent: each case is a process start of several seconds, and they share nothing but the stand-in
// (only the first asks it; the HTTP error case has its own).
describe.concurrent('npm start when Slack will not have the bot', () => {
  it('stops with one sentence naming SLACK_BOT_TOKEN when Slack refuses the token', async () => {
    // given a Slack whose auth.test answers invalid_auth
    slack.failMethod('auth.test', 'invalid_auth');

    // when the bot starts
    const { code, stdout, stderr } = await startBot(slack.apiUrl);

    // then it exits 1 with one line that says what to fix, without the token or a stack
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'SpreadServe could not start: Slack refused SLACK_BOT_TOKEN (auth.test answered "invalid_auth"): set the app\'s Bot User OAuth Token (xoxb-...) from its OAuth & Permissions page, and check the app is installed in the workspace.\n',
    );
    // and Slack was asked once, with the token
    const asked = slack.calls('auth.test');
    expect(asked).toHaveLength(1);
    expect(JSON.stringify(asked[0])).toContain(TOKEN);
  });

  it('stops with one sentence naming the HTTP status when the Web API answers with an error', async () => {
    // given a Slack (of this case's own) whose auth.test answers HTTP 500
    const failing = await startSlackStandIn();
    try {
      failing.failMethod('auth.test', 'internal_error', { status: 500 });

      // when the bot starts
      const { code, stderr } = await startBot(failing.apiUrl);

      // then it exits 1 with one line naming the address and the status, after its bounded retries
      expect(code).toBe(1);
      expect(stderr).toBe(
        `SpreadServe could not start: Slack's Web API at ${failing.apiUrl} answered auth.test with HTTP 500: check SLACK_API_URL, or start again once Slack answers.\n`,
      );
      expect(failing.calls('auth.test')).toHaveLength(3);
    } finally {
      await failing.close();
    }
  });

  it('stops with one sentence naming the Web API address when Slack does not answer', async () => {
    // given an address where nothing listens
    const apiUrl = `http://127.0.0.1:${await closedPort()}/api/`;

    // when the bot starts
    const { code, stderr } = await startBot(apiUrl);

    // then it exits 1 with one line naming the address and the refusal, without a stack
    expect(code).toBe(1);
    expect(stderr).toBe(
      `SpreadServe could not start: Slack's Web API at ${apiUrl} did not answer auth.test (ECONNREFUSED): check the network and SLACK_API_URL (unset means https://slack.com/api/).\n`,
    );
  });
});
