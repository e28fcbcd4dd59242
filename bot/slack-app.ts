// The Slack front end: one /spreadserve listener, buttons and App Home, over Bolt's HTTP
// receiver (POST /slack/events, GET /healthz, GET /metrics) or Socket Mode when an app token
// is set. Acknowledge first, then do the work: no Docker call happens before ack().
import { type IncomingMessage, Server, type ServerResponse } from 'node:http';
import { App, type BlockAction, type ButtonAction, LogLevel, type RespondFn } from '@slack/bolt';
import type { Logger as SlackLogger } from '@slack/logger';
import type { WebClient, WebClientOptions } from '@slack/web-api';
import { errorReply, findCommand, type PreparedCommand, prepare, runPrepared } from '../commands/index.ts';
import type { InstanceView, Reply } from '../commands/reply.ts';
import { probe } from '../commands/status.ts';
import type { CommandContext } from '../commands/types.ts';
import type { Config } from '../core/config.ts';
import { createServices, type Services } from '../core/context.ts';
import type { Actor, GroupDirectory } from '../core/policy.ts';
import { DockerEngine } from '../engine/docker.ts';
import type { ContainerEngine } from '../engine/types.ts';
import { describeError } from '../lib/errors.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { RecentIds } from './dedupe.ts';
import { SlackGroupDirectory } from './groups.ts';
import { Metrics } from './metrics.ts';
import { SlackNotifier } from './notifier.ts';
import { SlackProgress } from './progress.ts';
import { buttonIds, escapeMrkdwn, renderHomeView, renderReply } from './render.ts';
import { startReclaimSchedule } from './scheduler.ts';

const SLASH = '/spreadserve';
export interface SlackBot {
  app: App;
  services: Services;
  metrics: Metrics;
  /** Resolves once the HTTP server listens (or the socket is connected); returns the HTTP port. */
  start(): Promise<number>;
  stop(): Promise<void>;
}

/** What the bot hands a services factory: its Slack group directory and its Docker timer. */
export interface ServiceWiring {
  /** User-group members through this bot's Web API client (cached five minutes). */
  groups: GroupDirectory;
  /** The same engine, every call timed for GET /metrics (spreadserve_docker_call_seconds). */
  instrument(engine: ContainerEngine): ContainerEngine;
}

export interface SlackBotOptions {
  config: Config;
  /**
   * Built from config when absent. Tests pass their own (own port range, scope, store): ready
   * services, or a factory that receives the bot's group directory and engine timer.
   */
  services?: Services | ((wiring: ServiceWiring) => Promise<Services>);
  log?: Logger;
  /** e.g. { retryConfig: { retries: 0 } } in tests. */
  clientOptions?: WebClientOptions;
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

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export async function createSlackBot(options: SlackBotOptions): Promise<SlackBot> {
  const { config } = options;
  const log = options.log ?? createLogger(config.logLevel);
  let services: Services | undefined = typeof options.services === 'object' ? options.services : undefined;
  const metrics = new Metrics(() => services);
  const recent = new RecentIds();

  const customRoutes = [
    {
      path: '/healthz',
      method: ['GET'],
      handler: (_req: IncomingMessage, res: ServerResponse) => {
        void health(services!).then(({ ok, body }) => sendJson(res, ok ? 200 : 503, body));
      },
    },
    {
      path: '/metrics',
      method: ['GET'],
      handler: (_req: IncomingMessage, res: ServerResponse) => {
        void metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': metrics.registry.contentType });
            res.end(text);
          },
          (err: unknown) => {
            log.error({ err: describeError(err) }, 'could not collect metrics');
            sendJson(res, 500, { error: 'metrics unavailable' });
          },
        );
      },
    },
  ];
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
    customRoutes,
    installerOptions: socketMode ? { port: config.httpPort } : undefined,
    logger: boltLogger(log.child({ component: 'bolt' })),
    clientOptions: {
      ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}),
      ...options.clientOptions,
    },
  });

  if (!services) {
    const wiring: ServiceWiring = {
      groups: new SlackGroupDirectory(app.client),
      instrument: (engine) => metrics.instrument(engine),
    };
    const factory =
      typeof options.services === 'function'
        ? options.services
        : ({ groups, instrument }: ServiceWiring) =>
            createServices(config, {
              engine: instrument(new DockerEngine({ dockerHost: config.dockerHost })),
              log,
              groups,
            });
    services = await factory(wiring);
  }
  const core = services;
  // Reclaim warnings go to owners by DM, pass summaries to OPS_CHANNEL, through this app's client.
  core.reclaimer.setNotifier(new SlackNotifier(app.client, { opsChannel: config.opsChannel, log }));

  const actorOf = (userId: string): Promise<Actor> => core.policy.actor(userId);
  const context = (actor: Actor, progress?: CommandContext['progress']): CommandContext => ({
    actor,
    services: core,
    prefix: SLASH,
    progress,
  });

  /** Runs a prepared command, counts it, and never throws. */
  async function run(
    prepared: PreparedCommand,
    actor: Actor,
    progress?: CommandContext['progress'],
  ): Promise<Reply> {
    const started = performance.now();
    const reply = await runPrepared(prepared, context(actor, progress));
    const outcome = reply.ok ? 'ok' : (reply.errorKind ?? 'error');
    metrics.commands.inc({ command: prepared.command.name, outcome });
    // One line per command, so on-call can follow who did what without Slack.
    log.info(
      {
        command: prepared.command.name,
        user: actor.id,
        outcome,
        ms: Math.round(performance.now() - started),
      },
      reply.summary,
    );
    if (reply.ok && prepared.command.name === 'launch') metrics.launches.inc();
    if (reply.ok && prepared.command.name === 'stop') metrics.stops.inc();
    return reply;
  }

  const asMessage = (reply: Reply) => ({ response_type: reply.visibility, ...renderReply(reply) });

  async function respondSafely(
    respond: RespondFn,
    reply: Reply,
    where: Record<string, unknown>,
  ): Promise<void> {
    try {
      await respond({ ...asMessage(reply), replace_original: false });
    } catch (err) {
      log.error({ ...where, err: describeError(err) }, 'could not answer through response_url');
    }
  }

  app.command(SLASH, async ({ command, ack, respond, client }) => {
    if (!recent.firstTime(command.trigger_id)) {
      await ack();
      log.info({ trigger: command.trigger_id }, 'duplicate slash command ignored');
      return;
    }
    const [typedName = '', ...words] = command.text.trim().split(/\s+/);
    let prepared: PreparedCommand;
    try {
      prepared = prepare(command.text);
    } catch (err) {
      const reply = errorReply(err, log);
      // A known command with bad arguments counts under its name; anything else as unknown.
      metrics.commands.inc({
        command: findCommand(typedName.toLowerCase())?.name ?? 'unknown',
        outcome: 'usage',
      });
      await ack(asMessage(reply));
      return;
    }
    const name = prepared.command.name;
    if (name === 'help') {
      await ack(asMessage(await run(prepared, { id: command.user_id, role: 'user' })));
      return;
    }
    const verb = prepared.command.working;
    const args = words.join(' ');
    await ack(
      verb
        ? {
            response_type: 'ephemeral',
            // The user's own words echoed back: escaped, so `<!channel>` or `<url|text>` stay text.
            text: `⏳ ${verb}${args ? ` ${escapeMrkdwn(args)}` : ''}…`,
          }
        : undefined,
    );
    // A build shows its steps in one message updated as it goes (bot/progress.ts).
    const progress =
      name === 'build'
        ? new SlackProgress({
            client,
            respond,
            channel: command.channel_id,
            user: command.user_id,
            title: `Building ${args}`.trim(),
            command: `${SLASH} ${command.text.trim()}`,
            log,
          })
        : undefined;
    let reply: Reply;
    try {
      reply = await run(prepared, await actorOf(command.user_id), progress?.report);
    } catch (err) {
      reply = errorReply(err, log, { command: name, user: command.user_id }); // the role lookup failed
    }
    await progress?.finish(reply);
    await respondSafely(respond, reply, { command: name, user: command.user_id });
  });

  app.action<BlockAction<ButtonAction>>(
    { type: 'block_actions', action_id: new RegExp(`^(${Object.values(buttonIds).join('|')})$`) },
    async ({ action, ack, body, respond, client }) => {
      await ack();
      if (!recent.firstTime(`${body.trigger_id}:${action.action_id}`)) return;
      const tokens = buttonCommand(action.action_id, action.value ?? '');
      let reply: Reply;
      try {
        // A failed role lookup is our fault, not a refusal: answered with a ref, as on the slash path.
        reply = await run(prepare(tokens), await actorOf(body.user.id));
      } catch (err) {
        reply = errorReply(err, log, { action: action.action_id, user: body.user.id });
      }
      if (body.response_url)
        await respondSafely(respond, reply, { action: action.action_id, user: body.user.id });
      if (body.view?.type === 'home' || !body.response_url) await publishHome(client, body.user.id, reply);
    },
  );

  app.event('app_home_opened', async ({ event, client }) => {
    if (event.tab !== 'home') return;
    await publishHome(client, event.user);
  });

  async function publishHome(client: WebClient, userId: string, notice?: Reply): Promise<void> {
    try {
      const actor = await actorOf(userId);
      // Not counted as commands in /metrics: nobody typed them.
      const list = await runPrepared(prepare(['list', 'mine']), context(actor));
      const status = await runPrepared(prepare(['status']), context(actor));
      const instances: InstanceView[] = list.kind === 'instances' ? list.instances : [];
      if (status.kind !== 'status') throw new Error(status.summary);
      const view = renderHomeView({
        userId,
        instances,
        status: status.status,
        now: core.clock.now(),
        notice,
      });
      await client.views.publish({ user_id: userId, view });
    } catch (err) {
      log.error({ user: userId, err: describeError(err) }, 'could not publish App Home');
    }
  }

  app.error(async (err) => {
    log.error({ err: describeError(err) }, 'unhandled error in a Slack listener');
  });

  return {
    app,
    services: core,
    metrics,
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

/** What a button runs: the same commands a user could type. */
function buttonCommand(actionId: string, instance: string): string[] {
  switch (actionId) {
    case buttonIds.stop:
      return ['stop', instance];
    case buttonIds.keep_1h:
      return ['extend', instance, '1h'];
    case buttonIds.keep_8h:
      return ['extend', instance, '8h'];
    default:
      return ['extend', instance];
  }
}

/** 200 when the store is writable and the engine answers, else 503; the body says which. */
export async function health(services: Services): Promise<{ ok: boolean; body: Record<string, unknown> }> {
  const { engine, store } = await probe(services, 2_000);
  const ok = store.writable && engine.reachable;
  return { ok, body: { status: ok ? 'ok' : 'degraded', store, engine } };
}

/** `npm start` with Slack credentials: reconcile, then serve until SIGTERM / SIGINT. */
export async function startSlackBot(config: Config): Promise<void> {
  const log = createLogger(config.logLevel);
  const bot = await createSlackBot({ config, log });
  if (bot.services.store.writable) {
    await bot.services
      .reconcile({ atStart: true })
      .catch((err) => log.warn({ err: describeError(err) }, 'reconcile at start failed'));
  }
  const port = await bot.start();
  const schedule = startReclaimSchedule({
    cron: config.reclaim.cron,
    reclaimer: bot.services.reclaimer,
    log,
  });
  bot.services.nextReclaimAt = () => schedule.nextRunAt();
  log.info({ port, socketMode: config.slack.appToken !== undefined }, 'SpreadServe bot is up');
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await schedule.stop(); // waits for a running reclaim pass
    await bot.stop().catch(() => undefined);
    await bot.services.store.flushed();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
