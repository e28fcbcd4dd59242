// The composition of the core: one place that wires store, engine, pool, instances and builds.
// The roots (bot/main.ts, cli/main.ts) create the engine and call this.
import type { ContainerEngine } from '../engine/types.ts';
import { type Clock, systemClock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { Store } from '../store/store.ts';
import { Builds } from './builds.ts';
import type { Config } from './config.ts';
import { Instances } from './instances.ts';
import { logNotifier, type Notifier } from './notifier.ts';
import { type GroupDirectory, Policy } from './policy.ts';
import { PortPool } from './port-pool.ts';
import { Reclaimer } from './reclaim.ts';
import { type ReconcileReport, reconcile } from './reconcile.ts';
import { loadTemplates, type TemplateSet } from './templates.ts';

export interface Services {
  config: Config;
  store: Store;
  engine: ContainerEngine;
  templates: TemplateSet;
  pool: PortPool;
  instances: Instances;
  builds: Builds;
  policy: Policy;
  clock: Clock;
  log: Logger;
  reconcile(options: { atStart: boolean }): Promise<ReconcileReport>;
  /** The reclaim pass (schedule, `reclaim` command, CLI); never two passes at once. */
  reclaimer: Reclaimer;
  /** When the next scheduled reclaim pass runs, if a schedule is running. */
  nextReclaimAt?: () => number | undefined;
}

export interface ServiceOptions {
  engine: ContainerEngine;
  log: Logger;
  clock?: Clock;
  groups?: GroupDirectory;
  /** Already loaded templates (tests); otherwise read from config.templatesFile. */
  templates?: TemplateSet;
  /** Where reclaim warnings and summaries go; the log until a front end sets its own. */
  notifier?: Notifier;
}

export async function createServices(config: Config, options: ServiceOptions): Promise<Services> {
  const { engine, log } = options;
  const clock = options.clock ?? systemClock;
  const templates = options.templates ?? (await loadTemplates(config.templatesFile));
  const store = await Store.open(config.dataFile);
  if (!store.writable) log.warn({ file: store.file }, store.readOnlyMessage!);
  const pool = new PortPool(config.ports, store.read());
  const instances = new Instances({ store, engine, pool, templates, config, clock, log });
  const builds = new Builds({
    store,
    engine,
    templates,
    clock,
    log,
    scope: config.scope,
    buildTimeoutMs: config.buildTimeoutMs,
  });
  const policy = new Policy(config.admins, config.users, options.groups);
  const reconcileWith = (opts: { atStart: boolean }) =>
    reconcile({ store, engine, pool, clock, log, scope: config.scope, launching: instances.launching }, opts);
  const reclaimer = new Reclaimer({
    store,
    engine,
    instances,
    clock,
    log: log.child({ component: 'reclaim' }),
    settings: config.reclaim,
    notifier: options.notifier ?? logNotifier(log),
    reconcile: () => reconcileWith({ atStart: false }),
  });
  return {
    config,
    store,
    engine,
    templates,
    pool,
    instances,
    builds,
    policy,
    clock,
    log,
    reconcile: reconcileWith,
    reclaimer,
  };
}
