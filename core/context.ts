// The one composition of the core: every process (the Slack bot, the local shell, the CLI, the
// tests) builds its services here, through constructors, in one order; nothing is assigned
// afterwards. A front end passes in what only it has (its notifier, group directory, schedule,
// engine timing) and drives the lifecycle: start() reconciles and starts the schedule, stop()
// waits for a running pass and the store's last write.
import { DockerEngine } from '../engine/docker.ts';
import type { DockerEngineOptions } from '../engine/docker-timeouts.ts';
import { hostLimitWarnings, type ReadSetting, readSetting } from '../engine/host-limits.ts';
import { SwarmEngine } from '../engine/swarm.ts';
import type { ContainerEngine } from '../engine/types.ts';
import { type Clock, systemClock } from '../lib/clock.ts';
import { withTimeout } from '../lib/concurrency.ts';
import { formatDuration } from '../lib/duration.ts';
import { describeError, isUserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { Store } from '../store/store.ts';
import { Builds } from './builds.ts';
import { TemplateCatalogue } from './catalogue.ts';
import type { Config } from './config.ts';
import { Health } from './health.ts';
import { AuditHistory } from './history.ts';
import { Instances } from './instances.ts';
import { NodeWatch } from './node-watch.ts';
import { logNotifier, type Notifier, type NotifyResult, tellOwnersLost } from './notifier.ts';
import { type GroupDirectory, Policy } from './policy.ts';
import { PortPool } from './port-pool.ts';
import { Reclaimer } from './reclaim.ts';
import { type ReconcileReport, reconcile } from './reconcile.ts';
import { SavedTemplates, savedTemplatesPath } from './saved-templates.ts';
import { createReclaimSchedule, createUsageDigestSchedule } from './schedule.ts';
import { Snapshots } from './snapshots.ts';
import { loadTemplates, type TemplateSet } from './templates.ts';
import type { TimeZones } from './time-zones.ts';
import { UsageReports } from './usage-report.ts';

/** What commands may use: the core's services, never the engine or the store. */
export interface Core {
  config: Config;
  instances: Instances;
  builds: Builds;
  /** The reclaim pass (schedule, `reclaim` command, CLI); never two passes at once. */
  reclaimer: Reclaimer;
  catalogue: TemplateCatalogue;
  /** `save`: instances committed as saved templates. */
  snapshots: Snapshots;
  history: AuditHistory;
  usage: UsageReports;
  health: Health;
  policy: Policy;
  clock: Clock;
  log: Logger;
}

/** Everything a composition root holds: the core, what lies under it, and the lifecycle. */
export interface Services extends Core {
  store: Store;
  engine: ContainerEngine;
  templates: TemplateSet;
  pool: PortPool;
  reconcile(options: { atStart: boolean }): Promise<ReconcileReport>;
  /** Reconciles the store with Docker (when the store is writable), then starts the schedule. */
  start(): Promise<void>;
  /** Stops the schedule, waits for a running reclaim pass, launches in flight and the store's last
   * write, for at most ServiceOptions.stopTimeoutMs; past it logs what was still running and returns. */
  stop(): Promise<void>;
}

export interface ServiceOptions {
  log: Logger;
  /** The engine; a DockerEngine on DOCKER_HOST when absent. */
  engine?: ContainerEngine;
  /** Wraps the engine (the Slack bot times every call for /metrics). */
  instrument?: (engine: ContainerEngine) => ContainerEngine;
  clock?: Clock;
  groups?: GroupDirectory;
  /** Owners' time zones for QUIET_HOURS (the bot asks Slack); the server's zone when absent. */
  timeZones?: TimeZones;
  /** Already loaded templates (tests); otherwise read from config.templatesFile. */
  templates?: TemplateSet;
  /** Where reclaim warnings and summaries go; the log when absent. */
  notifier?: Notifier;
  /** Run the reclaim pass on RECLAIM_CRON once started; otherwise passes run only when asked for. */
  scheduled?: boolean;
  /** How long stop() waits for running work; STOP_TIMEOUT_MS when absent. */
  stopTimeoutMs?: number;
  /** On Swarm (scheduled only): how often the node watch looks for lost instances. */
  nodeWatchMs?: number;
  /** The host's kernel settings, for `status` on a local engine; /proc/sys when absent. */
  readSetting?: ReadSetting;
}

/** How long start() waits for the first reconcile before it serves all the same. */
const START_RECONCILE_TIMEOUT_MS = 10_000;
/** How long telling one owner their instance was lost may take. */
const TELL_LOST_TIMEOUT_MS = 10_000;
/** How long stop() waits for running work before it gives up on it, so SIGTERM never waits forever. */
const STOP_TIMEOUT_MS = 30_000;
/** How often stop() looks whether the launches in flight have ended. */
const STOP_POLL_MS = 100;

/** How the configured engine is reached (DOCKER_HOST, its TLS files or its SSH settings) and how
 * long a quick call may take. */
export function dockerConnection(config: Config): DockerEngineOptions {
  return {
    dockerHost: config.dockerHost,
    tlsVerify: config.dockerTlsVerify,
    certPath: config.dockerCertPath,
    ssh: config.ssh,
    timeouts: { quickMs: config.dockerCallTimeoutMs },
  };
}

/** Whether the bot runs on the Docker host it drives: one engine on a local socket (a remote or
 * multi-host engine's kernel is not this one's). */
const onDockerHost = (engine: ContainerEngine) => engine.target.kind === 'unix' && !engine.nodes;

/** The configured engine: one Docker engine, or a swarm through its manager (SPREADSERVE_ENGINE). */
export function configuredEngine(config: Config): ContainerEngine {
  const connection = dockerConnection(config);
  if (config.engine === 'docker') return new DockerEngine(connection);
  // Each node's own engine is reached like DOCKER_HOST: the same TLS files, SSH key, timeouts.
  const nodeEndpoints = Object.fromEntries(
    Object.entries(config.nodeEndpoints).map(([node, dockerHost]) => [node, { ...connection, dockerHost }]),
  );
  return new SwarmEngine({ ...connection, nodeAddresses: config.nodeAddresses, nodeEndpoints });
}

export async function createServices(config: Config, options: ServiceOptions): Promise<Services> {
  const { log } = options;
  const clock = options.clock ?? systemClock;
  const bare = options.engine ?? configuredEngine(config);
  const engine = options.instrument ? options.instrument(bare) : bare;
  const mainTemplates = options.templates ?? (await loadTemplates(config.templatesFile));
  // The templates file's and the saved ones, in one set every service shares (a save adds to it).
  const saved = await SavedTemplates.open(mainTemplates, savedTemplatesPath(config), log);
  const templates = saved.all;
  const store = await Store.open(config.dataFile, {
    log: log.child({ component: 'store' }),
    // A bot that started read-only (the store's owner was still ending) reconciles once it owns it.
    onTakeOver: () => void reconcileAtStart(),
  });
  if (store.readOnlyMessage !== null) log.warn({ file: store.file }, store.readOnlyMessage);
  const pool = new PortPool(config.ports, store.read());
  const notifier = options.notifier ?? logNotifier(log);
  const instances = new Instances({ store, engine, pool, templates, config, clock, log, notifier });
  const builds = new Builds({
    store,
    engine,
    templates,
    clock,
    log,
    scope: config.scope,
    buildTimeoutMs: config.buildTimeoutMs,
  });
  const reconcileWith = async (opts: { atStart: boolean }) => {
    const { launching, stopping } = instances;
    const report = await reconcile(
      { store, engine, pool, clock, log, scope: config.scope, launching, stopping },
      opts,
    );
    // Told in the background: a pass (or the start) does not wait for Slack.
    const bound = (call: Promise<NotifyResult>) =>
      withTimeout(call, TELL_LOST_TIMEOUT_MS, 'no answer in time');
    if (report.lost.length > 0) void tellOwnersLost(notifier, report.lost, log, bound);
    return report;
  };
  const reclaimer = new Reclaimer({
    store,
    engine,
    instances,
    clock,
    log: log.child({ component: 'reclaim' }),
    settings: config.reclaim,
    notifier,
    timeZones: options.timeZones,
    reconcile: () => reconcileWith({ atStart: false }),
  });
  /** The first reconcile of this owner. Not fatal: an unreachable engine is reported again by
   * each command that needs it. Bounded, so an engine that never answers cannot keep the bot
   * from serving. */
  const reconcileAtStart = async (): Promise<void> => {
    const unanswered = new Error(`no answer within ${formatDuration(START_RECONCILE_TIMEOUT_MS)}`);
    await withTimeout(reconcileWith({ atStart: true }), START_RECONCILE_TIMEOUT_MS, unanswered).catch(
      (err: unknown) => {
        // An engine that cannot be reached (a bad certificate, a refused connection) is what to fix
        // first: an error, so the local shell (which prints errors only) shows its sentence too.
        if (isUserError(err) && err.kind === 'engine-unreachable') {
          log.error({ err: err.message }, 'Docker is not reachable at start');
        } else log.warn({ err: describeError(err) }, 'reconcile at start failed');
      },
    );
  };
  const schedule = options.scheduled
    ? createReclaimSchedule({ cron: config.reclaim.cron, reclaimer, log })
    : undefined;
  // A multi-host engine loses nodes: their instances are closed within seconds, not at the next pass.
  const watch =
    options.scheduled && engine.nodes
      ? new NodeWatch({ instances, reclaimer, log, intervalMs: options.nodeWatchMs })
      : undefined;
  const usage = new UsageReports({ store, templates });
  const digest =
    options.scheduled && config.usageCron !== undefined
      ? createUsageDigestSchedule({
          cron: config.usageCron,
          report: () => usage.report(clock.now(), 7),
          notifier,
          log,
        })
      : undefined;
  return {
    config,
    store,
    engine,
    templates,
    pool,
    instances,
    builds,
    reclaimer,
    catalogue: new TemplateCatalogue({ templates, engine, store }),
    snapshots: new Snapshots({ store, engine, saved, launching: instances.launching, clock, log }),
    history: new AuditHistory(store),
    usage,
    health: new Health({
      engine,
      store,
      pool,
      clock,
      log,
      schedule,
      activity: reclaimer.activity,
      hostLimits: onDockerHost(engine)
        ? (running, poolSize) => hostLimitWarnings(running, poolSize, options.readSetting ?? readSetting)
        : undefined,
    }),
    policy: new Policy(config.admins, config.users, options.groups),
    clock,
    log,
    reconcile: reconcileWith,
    async start() {
      if (store.writable) await reconcileAtStart();
      schedule?.start();
      digest?.start();
      watch?.start();
    },
    async stop() {
      const bound = options.stopTimeoutMs ?? STOP_TIMEOUT_MS;
      const deadline = Date.now() + bound;
      let waitingFor = 'the reclaim schedule';
      const work = async () => {
        // Launches still waiting for health are undone at once (container removed, port freed)
        // rather than left half done; they finish compensating while the steps below run.
        instances.cancelLaunches();
        await schedule?.stop();
        await digest?.stop();
        await watch?.stop();
        waitingFor = 'a running reclaim pass';
        await reclaimer.idle();
        // A cancelled launch compensates through bounded engine calls: its last store write is
        // then among those flushed below.
        waitingFor = 'launches in flight';
        const polls = Math.ceil(bound / STOP_POLL_MS);
        for (let i = 0; i < polls && instances.launching.size > 0 && Date.now() < deadline; i++) {
          await new Promise((resolve) => setTimeout(resolve, STOP_POLL_MS));
        }
        waitingFor = "the store's last write";
        await store.flushed();
      };
      const gaveUp = new Error(`stop gave up after ${formatDuration(bound)}`);
      try {
        await withTimeout(work(), bound, gaveUp);
      } catch (err) {
        if (err !== gaveUp) throw err;
        log.warn(
          { waitingFor, launching: [...instances.launching] },
          `stopped waiting for running work after ${formatDuration(bound)}`,
        );
      }
    },
  };
}
