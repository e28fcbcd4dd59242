// Composition root of the Slack bot: configuration in, everything built once through
// constructors, in order: the Web API client the bot calls Slack with on its own (DMs, summaries,
// group lookups), the Docker timer, the core services with the Slack notifier, group directory
// and the reclaim schedule, the metrics, then the Bolt app. start() reconciles, starts the schedule and
// listens; stop() stops listening, waits for a running reclaim pass and the store's last write.

import type { App } from '@slack/bolt';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import type { Config } from '../core/config.ts';
import { createServices, type Services } from '../core/context.ts';
import type { TemplateSet } from '../core/templates.ts';
import type { Clock } from '../lib/clock.ts';
import { withTimeout } from '../lib/concurrency.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { createSlackApp, webClientOptions } from './app.ts';
import { SlackGroupDirectory } from './groups.ts';
import { DockerCallTimer, Metrics } from './metrics.ts';
import { SlackNotifier } from './notifier.ts';
import { SlackTimeZones } from './time-zones.ts';

/** How long stop() waits for the HTTP server or the Socket Mode connection to close. */
const SLACK_STOP_TIMEOUT_MS = 5_000;

export interface SlackBot {
  app: App;
  services: Services;
  metrics: Metrics;
  /** Reconciles, starts the reclaim schedule and listens; returns the HTTP port. */
  start(): Promise<number>;
  stop(): Promise<void>;
}

export interface SlackBotOptions {
  log: Logger;
  /** Over the bounded defaults (bot/app.ts webClientOptions), e.g. { retryConfig: { retries: 0 } } in tests. */
  clientOptions?: WebClientOptions;
  /** Already loaded templates (tests); otherwise read from config.templatesFile. */
  templates?: TemplateSet;
  clock?: Clock;
}

export async function composeSlackBot(config: Config, options: SlackBotOptions): Promise<SlackBot> {
  const { log, clientOptions } = options;
  const client = new WebClient(config.slack.botToken, webClientOptions(config, clientOptions));
  const timer = new DockerCallTimer();
  const groups = new SlackGroupDirectory(client, { log });
  const services = await createServices(config, {
    log,
    instrument: (engine) => timer.instrument(engine),
    templates: options.templates,
    clock: options.clock,
    // Reclaim warnings go to owners by DM, pass summaries to OPS_CHANNEL.
    notifier: new SlackNotifier(client, { opsChannel: config.opsChannel, log }),
    groups,
    // QUIET_HOURS are read on each owner's Slack clock (users.info).
    timeZones: new SlackTimeZones(client, { log }),
    scheduled: true,
  });
  const metrics = new Metrics(services, timer);
  const slack = createSlackApp({
    config,
    services,
    metrics,
    log,
    clientOptions,
    unlistedGroups: () => groups.unavailable(),
  });
  return {
    app: slack.app,
    services,
    metrics,
    async start() {
      await slack.init(); // before the store is reconciled: a bot Slack refuses stops here
      await services.start();
      return slack.start();
    },
    async stop() {
      // Closing the receiver (HTTP server, or the Socket Mode connection) is given a few seconds.
      await withTimeout(slack.stop(), SLACK_STOP_TIMEOUT_MS, 'Slack receiver did not stop').catch(
        (err: unknown) => log.warn({ err: describeError(err) }, 'the Slack receiver did not stop cleanly'),
      );
      await services.stop();
    },
  };
}

/** `npm start` with Slack credentials: serve until SIGTERM / SIGINT. */
export async function runSlackBot(config: Config, log: Logger): Promise<void> {
  const bot = await composeSlackBot(config, { log });
  const port = await bot.start();
  log.info({ port, socketMode: config.slack.appToken !== undefined }, 'SpreadServe bot is up');
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await bot.stop(); // waits for a running reclaim pass
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
