// The reclaim schedule: RECLAIM_CRON runs the reclaim pass (core/reclaim.ts), for the Slack bot
// and the local shell alike; USAGE_CRON the usage digest (createUsageDigestSchedule, below). The only node-cron import. Never two passes at once, twice over: node-cron's noOverlap skips a tick while the
// last pass runs, and the Reclaimer itself skips a pass asked for while another (say a `reclaim`
// command) runs. stop() stops the ticks and then waits for a running pass to finish, so SIGTERM
// never cuts a pass between stopping a container and freeing its port.
import cron, { type Logger as CronLogger } from 'node-cron';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { ConfigError } from './config.ts';
import type { NextPass } from './health.ts';
import type { Notifier, ReclaimReport } from './notifier.ts';
import type { Reclaimer } from './reclaim.ts';
import type { UsageReport } from './usage-report.ts';

/** The reclaim schedule, made once the reclaimer exists; started when the front end is up. */
export interface ReclaimSchedule extends NextPass {
  start(): void;
  /** Stops the ticks, then resolves once a running pass has finished. */
  stop(): Promise<void>;
}

export interface ReclaimScheduleOptions {
  /** A 5-field cron expression, or 6 with seconds first (RECLAIM_CRON). */
  cron: string;
  reclaimer: Reclaimer;
  log: Logger;
  /** Called after each scheduled pass (tests, metrics). */
  onPass?: (report: ReclaimReport) => void;
}

/** node-cron's own log lines go to ours. */
function cronLogger(log: Logger): CronLogger {
  const text = (m: string | Error) => (m instanceof Error ? m.message : m);
  return {
    info: (m) => log.debug({ component: 'node-cron' }, m),
    warn: (m) => log.debug({ component: 'node-cron' }, m), // overlaps: reported below, once
    error: (m, err) =>
      log.error({ component: 'node-cron', err: err ? describeError(err) : undefined }, text(m)),
    debug: (m) => log.debug({ component: 'node-cron' }, text(m)),
  };
}

/**
 * The schedule, not yet started (start() does, when the bot is up); throws a ConfigError naming
 * RECLAIM_CRON when node-cron refuses the expression.
 */
export function createReclaimSchedule(options: ReclaimScheduleOptions): ReclaimSchedule {
  const { reclaimer, log } = options;
  const detailed = cron.validateDetailed(options.cron);
  if (!detailed.valid) {
    const why = detailed.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    throw new ConfigError(
      `Invalid configuration:\n  RECLAIM_CRON: "${options.cron}" is not a cron expression (${why}); ` +
        'expected 5 fields like "*/5 * * * *", or 6 with seconds first',
    );
  }
  let stopped = false;
  const task = cron.createTask(
    options.cron,
    async () => {
      if (stopped) return;
      const report = await reclaimer.run({ trigger: 'schedule' });
      if (report.status === 'skipped') log.info({ summary: report.summary }, 'reclaim pass skipped');
      else if (report.status === 'failed') log.warn({ summary: report.summary }, 'reclaim pass failed');
      else log.info({ summary: report.summary, ms: Math.round(report.durationMs) }, 'reclaim pass');
      try {
        options.onPass?.(report);
      } catch (err) {
        log.error({ err: describeError(err) }, 'reclaim onPass hook failed');
      }
    },
    { name: 'reclaim', noOverlap: true, logger: cronLogger(log) },
  );
  task.on('execution:overlap', () => log.info('reclaim tick skipped: the previous pass is still running'));

  return {
    start() {
      task.start();
      log.info({ cron: options.cron, next: task.getNextRun()?.toISOString() }, 'reclaim schedule started');
    },
    nextRunAt() {
      if (stopped) return undefined;
      return task.getNextRun()?.getTime();
    },
    async stop() {
      if (!stopped) {
        stopped = true;
        await task.stop();
        await task.destroy();
      }
      await reclaimer.idle();
    },
  };
}

/** The usage digest schedule (USAGE_CRON): the last 7 days, everyone's, to the notifier. */
export interface UsageDigestOptions {
  cron: string;
  /** The report to send, made when the schedule fires. */
  report: () => UsageReport;
  notifier: Notifier;
  log: Logger;
}

/** Not yet started; throws a ConfigError naming USAGE_CRON when node-cron refuses the expression. */
export function createUsageDigestSchedule(options: UsageDigestOptions): {
  start(): void;
  stop(): Promise<void>;
} {
  const { log, notifier } = options;
  const detailed = cron.validateDetailed(options.cron);
  if (!detailed.valid) {
    const why = detailed.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    throw new ConfigError(
      `Invalid configuration:\n  USAGE_CRON: "${options.cron}" is not a cron expression (${why}); ` +
        'expected 5 fields like "0 9 * * 1", or 6 with seconds first',
    );
  }
  const task = cron.createTask(
    options.cron,
    async () => {
      try {
        const report = options.report();
        if (notifier.usageDigest) await notifier.usageDigest(report);
        else log.info({ total: report.total }, 'usage digest');
      } catch (err) {
        log.error({ err: describeError(err) }, 'usage digest failed');
      }
    },
    { name: 'usage-digest', noOverlap: true, logger: cronLogger(log) },
  );
  return {
    start() {
      task.start();
      log.info(
        { cron: options.cron, next: task.getNextRun()?.toISOString() },
        'usage digest schedule started',
      );
    },
    async stop() {
      await task.stop();
      await task.destroy();
    },
  };
}
