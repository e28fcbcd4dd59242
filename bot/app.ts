// The Slack front end: the Bolt App over its HTTP receiver (POST /slack/events, GET /healthz,
// GET /metrics) or Socket Mode when an app token is set, with the /spreadserve listener
// (bot/slash.ts), buttons and App Home (bot/interactive.ts) and the launch modal
// (bot/launch-listeners.ts). It is given ready core services; bot/main.ts composes them.
import { Server } from 'node:http';
import { App, LogLevel, SocketModeReceiver } from '@slack/bolt';
import type { Logger as SlackLogger } from '@slack/logger';
import { ErrorCode, type FetchFunction, type RetryOptions, type WebClientOptions } from '@slack/web-api';
import type { Config } from '../core/config.ts';
import type { Services } from '../core/context.ts';
import { describeError, UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { RecentIds } from './dedupe.ts';
import { registerInteractive } from './interactive.ts';
import { registerLaunchModal } from './launch-listeners.ts';
import type { Metrics } from './metrics.ts';
import { httpRoutes } from './routes.ts';
import { CommandRunner } from './runner.ts';
import { registerSlashCommand } from './slash.ts';

export interface SlackAppOptions {
  config: Config;
  services: Services;
  metrics: Metrics;
  log: Logger;
  /** e.g. { retryConfig: { retries: 0 } } in tests. */
  clientOptions?: WebClientOptions;
  /** User groups Slack could not list just now (SlackGroupDirectory.unavailable). */
  unlistedGroups?: () => readonly string[];
}

export interface SlackApp {
  app: App;
  /** Asks Slack who the bot is (auth.test); rejects with one sentence when Slack refuses the
   * token or does not answer. start() does it first when it was not done. */
  init(): Promise<void>;
  /** Resolves once the HTTP server listens (or the socket is connected); returns the HTTP port. */
  start(): Promise<number>;
  stop(): Promise<void>;
}

/** Bolt's and the Socket Mode client's lines that print a whole envelope or message after a colon. */
const PAYLOAD_LINE =
  /^(Received a message on the WebSocket|Sending a WebSocket message|Calling ack\(\)[^:]*|Unable to parse an incoming WebSocket message|AWS event|http request (?:result|body|headers)|storedResponse)\b[^:]*:/;
const TOKEN = /\b(?:xox[a-z]|xapp)-[A-Za-z0-9-]+/g;
const HOOK_URL = /https?:\/\/hooks\.slack\.com\/\S*/g;
/** Words that mean a line carries a payload's secrets (response_url, tokens, trigger ids). */
const SECRET_WORDS = /response_url|"token"|trigger_id|x-slack-signature|"authorization"|bearer /i;

/**
 * Bolt's own text, made safe to log: pino redacts fields, not words inside a message string, so
 * lines that print envelopes, request bodies or results keep their first words only, and any
 * other line naming a response_url, token or signature is dropped to a note that it was.
 */
export function scrubBoltLine(text: string): string {
  const payload = PAYLOAD_LINE.exec(text);
  if (payload) return `${payload[0]} [payload not logged]`;
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return '[payload not logged]';
  const cleaned = text.replace(TOKEN, '[redacted]').replace(HOOK_URL, '[redacted url]');
  return SECRET_WORDS.test(cleaned)
    ? '[line not logged: it named a response_url, token or signature]'
    : cleaned;
}

/** Bolt logs through pino, so every line is JSON with secrets redacted, and its text scrubbed. */
function boltLogger(log: Logger): SlackLogger {
  let level = LogLevel.INFO;
  const text = (m: unknown[]) => scrubBoltLine(m.map(String).join(' '));
  return {
    debug: (...m: unknown[]) => log.debug({ bolt: true }, text(m)),
    info: (...m: unknown[]) => log.info({ bolt: true }, text(m)),
    warn: (...m: unknown[]) => log.warn({ bolt: true }, text(m)),
    error: (...m: unknown[]) => log.error({ bolt: true }, text(m)),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** One Web API request that takes longer is given up on (the client's default is no limit). */
export const SLACK_CALL_TIMEOUT_MS = 10_000;
/** Two retries, 1 s then 2 s apart, all within about 30 s: not the client's default of ten in 30 minutes. */
export const SLACK_RETRIES: RetryOptions = {
  retries: 2,
  factor: 2,
  minTimeout: 1_000,
  maxTimeout: 5_000,
  maxRetryTime: 30_000,
};
/** The Socket Mode connection's own `apps.connections.open`: no command waits on it, so it keeps
 * trying (as @slack/socket-mode does by default), each try bounded and at most a minute apart. */
const RECONNECT_RETRIES: RetryOptions = { retries: 100, factor: 1.3, maxTimeout: 60_000 };

/**
 * fetch with a deadline of its own: Bolt's respond() (posts to a response_url) uses the client's
 * fetch and sets none, so a response_url that never answers would hold its listener for good.
 */
export function boundedFetch(ms: number): FetchFunction {
  return (url, init) => {
    const deadline = AbortSignal.timeout(ms);
    return fetch(url, {
      ...init,
      signal: init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline,
    });
  };
}

/** Slack's Web API client options for this configuration: bounded calls, SLACK_API_URL, then the caller's. */
export function webClientOptions(config: Config, extra?: WebClientOptions): WebClientOptions {
  return {
    timeout: SLACK_CALL_TIMEOUT_MS,
    fetch: boundedFetch(SLACK_CALL_TIMEOUT_MS),
    retryConfig: SLACK_RETRIES,
    ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}),
    ...extra,
  };
}

/**
 * Socket Mode's receiver, its HTTP server (/healthz, /metrics) listening on HTTP_BIND: Bolt's
 * listens on all interfaces and takes no host.
 */
class BoundSocketModeReceiver extends SocketModeReceiver {
  constructor(
    private readonly host: string | undefined,
    options: ConstructorParameters<typeof SocketModeReceiver>[0],
  ) {
    super(options);
  }

  override start(): ReturnType<SocketModeReceiver['start']> {
    if (this.host === undefined) return super.start();
    // The same as Bolt's start(), with the host: its server and port are private fields.
    const own = this as unknown as { httpServer?: Server; httpServerPort?: number };
    own.httpServer?.listen(own.httpServerPort, this.host);
    return this.client.start();
  }
}

export function createSlackApp(options: SlackAppOptions): SlackApp {
  const { config, services, metrics, log, clientOptions } = options;
  const { appToken } = config.slack;
  const logger = boltLogger(log.child({ component: 'bolt' }));
  const customRoutes = httpRoutes({ health: services.health, metrics, log });
  // Socket Mode gets its receiver built here rather than by Bolt, which would hand the listeners'
  // short retry budget (and its object, which the socket client then changes) to the socket client.
  const receiver =
    appToken === undefined
      ? undefined
      : new BoundSocketModeReceiver(config.httpBind, {
          appToken,
          logger,
          customRoutes,
          installerOptions: {
            port: config.httpPort,
            clientOptions: { ...webClientOptions(config, clientOptions), retryConfig: RECONNECT_RETRIES },
          },
        });
  const app = new App({
    token: config.slack.botToken,
    signingSecret: config.slack.signingSecret,
    socketMode: receiver !== undefined,
    receiver,
    // No conversation state is kept: Bolt's default store costs every event a rejected lookup
    // (a new Error with its stack), a few percent of each ack (bench/slack.ts).
    convoStore: false,
    port: config.httpPort,
    customRoutes: receiver ? undefined : customRoutes,
    logger,
    clientOptions: webClientOptions(config, clientOptions),
    // auth.test is awaited in init(): Bolt's own call from the constructor rejects unobserved
    // when Slack refuses the token or does not answer, which ended the process a few seconds
    // after start with a stack trace (bolt-js issue 248).
    deferInitialization: true,
  });
  let initialized: Promise<void> | undefined;
  const init = () => {
    initialized ??= app.init().catch((err: unknown) => {
      initialized = undefined;
      throw slackRefused(err, config.slack.apiUrl ?? DEFAULT_SLACK_API_URL);
    });
    return initialized;
  };
  const runner = new CommandRunner(services, metrics, log, options.unlistedGroups);
  const recent = new RecentIds();
  registerSlashCommand(app, { runner, metrics, recent, log });
  const home = registerInteractive(app, { runner, recent, clock: services.clock, log });
  registerLaunchModal(app, { runner, services, recent, log, publishHome: home.publishHome });
  app.error(async (err) => {
    log.error({ err: describeError(err) }, 'unhandled error in a Slack listener');
  });

  return {
    app,
    init,
    async start() {
      await init();
      const { httpPort: port, httpBind: host } = config;
      const started: unknown = await app.start(host === undefined ? port : { port, host });
      // The HTTP receiver resolves with its server: with HTTP_PORT=0 the OS picked the port.
      if (started instanceof Server) {
        const address = started.address();
        if (address !== null && typeof address === 'object') return address.port;
      }
      return config.httpPort;
    },
    async stop() {
      await app.stop();
    },
  };
}

const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

/** Why auth.test at start failed, as the sentence an operator acts on (the token never shown). */
export function slackRefused(err: unknown, apiUrl: string): UserError {
  const e = err as {
    code?: string;
    data?: { error?: string };
    statusCode?: number;
    original?: { message?: string; cause?: { code?: string; message?: string } };
  };
  const sentence = (() => {
    switch (e.code) {
      case ErrorCode.PlatformError:
        return `Slack refused SLACK_BOT_TOKEN (auth.test answered "${e.data?.error ?? 'unknown'}"): set the app's Bot User OAuth Token (xoxb-...) from its OAuth & Permissions page, and check the app is installed in the workspace.`;
      case ErrorCode.HTTPError:
      case ErrorCode.RateLimitedError:
        return `Slack's Web API at ${apiUrl} answered auth.test with HTTP ${e.statusCode ?? 429}: check SLACK_API_URL, or start again once Slack answers.`;
      default: {
        const why =
          e.original?.cause?.code ?? e.original?.cause?.message ?? e.original?.message ?? describeError(err);
        return `Slack's Web API at ${apiUrl} did not answer auth.test (${why}): check the network and SLACK_API_URL (unset means ${DEFAULT_SLACK_API_URL}).`;
      }
    }
  })();
  return new UserError('slack-refused', sentence, [], { cause: err });
}
