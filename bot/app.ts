// The Slack front end: the Bolt App over its HTTP receiver (POST /slack/events, GET /healthz,
// GET /metrics) or Socket Mode when an app token is set, with the /spreadserve listener
// (bot/slash.ts), buttons and App Home (bot/interactive.ts). It is given ready core services;
// bot/main.ts composes them.
import { Server } from 'node:http';
import { App, LogLevel } from '@slack/bolt';
import type { Logger as SlackLogger } from '@slack/logger';
import type { WebClientOptions } from '@slack/web-api';
import type { Config } from '../core/config.ts';
import type { Services } from '../core/context.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { RecentIds } from './dedupe.ts';
import { registerInteractive } from './interactive.ts';
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
}

export interface SlackApp {
  app: App;
  /** Resolves once the HTTP server listens (or the socket is connected); returns the HTTP port. */
  start(): Promise<number>;
  stop(): Promise<void>;
}

/** Bolt logs through pino, so every line is JSON with secrets redacted. */
function boltLogger(log: Logger): SlackLogger {
  let level = LogLevel.INFO;
  return {
    debug: (...m: unknown[]) => log.debug({ bolt: true }, m.map(String).join(' ')),
    info: (...m: unknown[]) => log.info({ bolt: true }, m.map(String).join(' ')),
    warn: (...m: unknown[]) => log.warn({ bolt: true }, m.map(String).join(' ')),
    error: (...m: unknown[]) => log.error({ bolt: true }, m.map(String).join(' ')),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** Slack's Web API client options for this configuration: SLACK_API_URL, then the caller's. */
export function webClientOptions(config: Config, extra?: WebClientOptions): WebClientOptions {
  return { ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}), ...extra };
}

export function createSlackApp({ config, services, metrics, log, clientOptions }: SlackAppOptions): SlackApp {
  const socketMode = config.slack.appToken !== undefined;
  const app = new App({
    token: config.slack.botToken,
    signingSecret: config.slack.signingSecret,
    appToken: config.slack.appToken,
    socketMode,
    // No conversation state is kept: Bolt's default store costs every event a rejected lookup
    // (a new Error with its stack), a few percent of each ack (bench/slack.ts).
    convoStore: false,
    port: config.httpPort,
    customRoutes: httpRoutes({ health: services.health, metrics, log }),
    installerOptions: socketMode ? { port: config.httpPort } : undefined,
    logger: boltLogger(log.child({ component: 'bolt' })),
    clientOptions: webClientOptions(config, clientOptions),
  });
  const runner = new CommandRunner(services, metrics, log);
  const recent = new RecentIds();
  registerSlashCommand(app, { runner, metrics, recent, log });
  registerInteractive(app, { runner, recent, clock: services.clock, log });
  app.error(async (err) => {
    log.error({ err: describeError(err) }, 'unhandled error in a Slack listener');
  });

  return {
    app,
    async start() {
      const started: unknown = await app.start(config.httpPort);
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
