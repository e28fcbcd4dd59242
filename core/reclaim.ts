// The reclaim pass: find instances nobody uses (or past their time limit), warn their owners,
// and stop them if still unused a while later. Called by the schedule (bot/scheduler.ts), by
// the `reclaim` command and from the CLI; it returns its plan and what came of it. One pass:
//  1. reconcile the store with Docker;
//  2. sample every running instance's counters (activity.ts: host counters from /proc when the bot
//     runs on the Docker host, else one-shot stats, a bounded number in flight);
//  3. in one store update, so a concurrent extend is seen, apply the policy's verdict
//     (reclaim-policy.ts, pure, with the settings of the instance's template) to each record,
//     and record and audit each warning;
//  4. tell owners (Notifier.warnOwner), stop what is due (Instances.stop, audited 'reclaim'),
//     record the pass (doc.reclaim) and post one summary (reclaim-summary.ts) when anything happened.
// Two passes never run at once: a pass asked for while one runs is skipped, and says so. Failure
// text is what a person may read: a UserError's sentence, or "internal error (ref …)" with the
// detail in the log under that ref.
import { performance } from 'node:perf_hooks';
import type { ContainerEngine } from '../engine/types.ts';
import type { Clock } from '../lib/clock.ts';
import { mapSettled, withTimeout } from '../lib/concurrency.ts';
import { formatDuration } from '../lib/duration.ts';
import { publicReason, UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { InstanceRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { ActivitySampling, type Sampled } from './activity.ts';
import { audit } from './audit.ts';
import type { Config } from './config.ts';
import type { Instances } from './instances.ts';
import { containerName } from './labels.ts';
import type { Notifier, ReclaimAction, ReclaimReport, ReclaimSubject, ReclaimWarning } from './notifier.ts';
import { tellOwnerReclaimed } from './notifier.ts';
import type { Actor } from './policy.ts';
import { type Due, reclaimPolicy } from './reclaim-policy.ts';
import {
  type OpsStep,
  type Outage,
  opsStep,
  reclaimAuditReason,
  summarise,
  warnAuditReason,
} from './reclaim-summary.ts';
import type { ReconcileReport } from './reconcile.ts';
import { type OwnersQuiet, ownersQuiet, type TimeZones } from './time-zones.ts';

export { DEFAULT_STATS_CONCURRENCY } from './activity.ts';

/** Stops (and DMs) in flight at once. */
const ACTION_CONCURRENCY = 8;
/** A stats call, a DM or a summary that takes longer is given up on (the Slack client retries for
 * up to 30 minutes by default; a pass must not hang on it, nor SIGTERM wait that long). */
const CALL_TIMEOUT_MS = 30_000;
/** doc.reclaim.failures keeps the newest this many. */
const FAILURES_LIMIT = 100;

/** The schedule acts as an admin, and is audited as `schedule`. */
const SCHEDULE_ACTOR: Actor = { id: 'schedule', role: 'admin' };

export interface ReclaimDeps {
  store: Store;
  engine: ContainerEngine;
  instances: Instances;
  clock: Clock;
  log: Logger;
  settings: Config['reclaim'];
  notifier: Notifier;
  /** Owners' zones for QUIET_HOURS (Slack's; the server's when absent). */
  timeZones?: TimeZones;
  /** The reconcile step (Services.reconcile with atStart false). */
  reconcile: () => Promise<ReconcileReport>;
}

export interface PassOptions {
  /** Say what would happen, change nothing that matters: no warnings, no stops. Default: RECLAIM_DRY_RUN. */
  dryRun?: boolean;
  trigger: 'schedule' | 'command';
  /** Who asked (a command's actor id). */
  by?: string;
}

/** What is due for one instance, decided inside the store update on this record, acted on after it. */
type Planned = Due & { record: InstanceRecord };

export class Reclaimer {
  private running: { promise: Promise<ReclaimReport>; startedAt: number } | null = null;
  /** False until a pass has sampled: that first pass after the bot starts judges nothing. */
  private sampledSinceStart = false;
  /** The fault failing every pass that the ops channel was told of (until told it works again). */
  private told: Outage | undefined;
  /** Reads the counters: host counters or the stats API (SPREADSERVE_SAMPLER, and where the bot runs). */
  readonly activity: ActivitySampling;

  constructor(private readonly deps: ReclaimDeps) {
    const bound = <T>(call: Promise<T>) => withTimeout(call, CALL_TIMEOUT_MS, this.noAnswer('Docker'));
    this.activity = new ActivitySampling(deps.engine, deps.settings.sampler, bound);
  }

  /** A call given up on: a sentence a person may read. */
  private noAnswer(who: string): UserError {
    return new UserError('timeout', `${who} did not answer within ${formatDuration(CALL_TIMEOUT_MS)}`);
  }

  /** True while a pass runs. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Resolves when no pass is running (at once when none is): shutdown waits on this. */
  async idle(): Promise<void> {
    while (this.running) await this.running.promise.catch(() => undefined);
  }

  /**
   * Runs one pass now. Never rejects: a failure is in the report. When a pass is already running
   * this one is skipped (status 'skipped', and the summary says so) rather than queued: the
   * running pass is doing the same work, and a queue of passes would only pile up behind a slow engine.
   */
  run(options: PassOptions): Promise<ReclaimReport> {
    if (this.running) {
      const ago = formatDuration(performance.now() - this.running.startedAt);
      return Promise.resolve(
        this.emptyReport(
          options,
          'skipped',
          `A reclaim pass started ${ago} ago is still running; this one was skipped.`,
        ),
      );
    }
    const startedAt = performance.now();
    const promise = this.pass(options).finally(() => {
      this.running = null;
    });
    this.running = { promise, startedAt };
    return promise;
  }

  private emptyReport(options: PassOptions, status: ReclaimReport['status'], summary: string): ReclaimReport {
    return {
      status,
      dryRun: options.dryRun ?? this.deps.settings.dryRun,
      trigger: options.trigger,
      by: options.by,
      startedAt: this.deps.clock.now(),
      durationMs: 0,
      baselineOnly: !this.sampledSinceStart,
      checked: 0,
      baselined: [],
      active: [],
      withdrawn: [],
      actions: [],
      cleaned: { closed: [], adopted: [], exited: [] },
      failures: [],
      summary,
    };
  }

  private async pass(options: PassOptions): Promise<ReclaimReport> {
    const { store, log } = this.deps;
    const t0 = performance.now();
    const report = this.emptyReport(options, 'done', '');
    let fault: Outage | undefined;
    try {
      store.assertWritable();
      const reconciled = await this.deps.reconcile();
      report.cleaned = {
        closed: reconciled.closed,
        adopted: reconciled.adopted,
        exited: reconciled.exited.map((e) => e.instance),
      };
      for (const problem of reconciled.problems) report.failures.push({ error: problem });

      const sampled = await this.sample();
      report.checked = sampled.length;
      const planned = await this.decide(sampled, report, await ownersQuiet(this.deps, store.read()));
      this.sampledSinceStart = true;
      if (!report.dryRun) await this.act(planned, report);
      else report.actions.push(...planned.map((p) => this.actionOf(p, 'dry-run')));
    } catch (err) {
      report.status = 'failed';
      const reason = publicReason(err, log, { step: 'reclaim pass' });
      report.failures.push({ error: reason });
      fault = {
        kind: err instanceof UserError ? err.kind : 'internal',
        reason,
        since: this.deps.clock.now(),
      };
    }
    report.durationMs = performance.now() - t0;
    const step = opsStep(report, fault, this.told); // sets report.recovered when an outage ended
    report.summary = summarise(report);
    await this.finish(report, step);
    return report;
  }

  /** Every running instance's counters (activity.ts); one failing is no failed pass. */
  private sample(): Promise<Sampled[]> {
    const { store, instances } = this.deps;
    const targets = Object.values(store.read().instances)
      .filter((r) => r.state === 'running' && !instances.launching.has(r.name))
      .map((r) => ({ name: r.name, container: r.containerId ?? containerName(r.name), node: r.node?.id }));
    return this.activity.sampleAll(targets);
  }

  /**
   * Records the samples and decides, in one store update: the records read here are the current
   * ones, so an extend that landed while the stats were taken is seen. The policy decides; this
   * applies its verdict to the record, and records and audits a warning.
   */
  private decide(sampled: Sampled[], report: ReclaimReport, quiet: OwnersQuiet): Promise<Planned[]> {
    const { store, clock, instances, log } = this.deps;
    const judge = this.sampledSinceStart;
    return store.update((doc) => {
      const now = clock.now();
      const planned: Planned[] = [];
      for (const s of sampled) {
        const record = doc.instances[s.name];
        if (record?.state !== 'running') continue; // stopped meanwhile
        if (!s.ok) {
          const why = publicReason(s.error, log, { instance: s.name, step: 'stats' });
          report.failures.push({ instance: s.name, error: `stats: ${why}` });
          continue;
        }
        // Its template's settings (the global ones where it sets none, or is no longer in the file).
        const settings = instances.policyOf(record.template);
        const input = { record, sample: s.sample, settings, now, judge, quiet: quiet.get(record.owner) };
        const verdict = reclaimPolicy(input);
        if (verdict.heldUntil) log.info({ instance: s.name, until: verdict.heldUntil }, 'held: quiet hours');
        record.lastSample = verdict.lastSample;
        record.lastActivityAt = verdict.lastActivityAt;
        if (verdict.activity === 'baseline') report.baselined.push(s.name);
        if (verdict.activity === 'used') report.active.push(s.name);
        if (verdict.withdraw) {
          record.warning = undefined;
          report.withdrawn.push(s.name);
        }
        const due = verdict.decision;
        if (due.kind === 'none') continue;
        planned.push({ ...due, record });
        if (due.kind === 'warn' && !report.dryRun) {
          record.warning = { at: due.warnedAt, reason: due.reason, deadline: due.deadline };
          audit(doc, {
            at: now,
            actor: SCHEDULE_ACTOR.id,
            action: 'warn',
            instance: s.name,
            template: record.template,
            reason: warnAuditReason(due, report),
          });
        }
      }
      return planned;
    });
  }

  /** The instance a decision is about, and why, as warnings and actions name it. */
  private subjectOf(p: Planned): ReclaimSubject {
    const { name, owner, template, port } = p.record;
    const url = this.deps.instances.url(p.record);
    return { instance: name, owner, template, port, url, reason: p.reason, evidence: p.evidence };
  }

  private actionOf(p: Planned, outcome: ReclaimAction['outcome']): ReclaimAction {
    const subject = this.subjectOf(p);
    return p.kind === 'warn'
      ? { kind: 'warn', ...subject, deadline: p.deadline, warnedAt: p.warnedAt, outcome }
      : { kind: 'reclaim', ...subject, warnedAt: p.warnedAt, outcome };
  }

  /** Warn owners and stop what is due, a bounded number at once. */
  private async act(planned: Planned[], report: ReclaimReport): Promise<void> {
    const actions = await mapSettled(planned, ACTION_CONCURRENCY, (p) =>
      p.kind === 'warn' ? this.warn(p, report) : this.stop(p, report),
    );
    for (const a of actions) if (a.status === 'fulfilled') report.actions.push(a.value);
  }

  private async warn(p: Planned & { kind: 'warn' }, report: ReclaimReport): Promise<ReclaimAction> {
    const action = this.actionOf(p, 'done');
    const warning: ReclaimWarning = { ...this.subjectOf(p), warnedAt: p.warnedAt, deadline: p.deadline };
    const { instance, owner } = warning;
    try {
      action.notified = await withTimeout(
        this.deps.notifier.warnOwner(warning),
        CALL_TIMEOUT_MS,
        this.noAnswer('the chat'),
      );
    } catch (err) {
      // The warning stands (it is recorded and audited); ops hear the owner was not told.
      const why = publicReason(err, this.deps.log, { instance, owner, step: 'warn owner' });
      action.notified = { delivered: false, detail: why };
      report.failures.push({ instance, error: `could not tell ${owner}: ${why}` });
    }
    return action;
  }

  private async stop(p: Planned & { kind: 'reclaim' }, report: ReclaimReport): Promise<ReclaimAction> {
    const { store, instances, log } = this.deps;
    const action = this.actionOf(p, 'done');
    const name = p.record.name;
    // Still warned as decided? An extend or Keep since then cleared the warning: leave it running.
    const current = store.read().instances[name];
    if (!current || current.warning?.at !== p.warnedAt) {
      action.outcome = 'withdrawn';
      return action;
    }
    try {
      await instances.stop(SCHEDULE_ACTOR, name, reclaimAuditReason(p, report), 'reclaim');
      log.info({ instance: name, owner: p.record.owner, reason: p.reason }, 'reclaimed');
      // Told after, too: what was stopped, why, and a button to launch it again.
      const notice = { ...this.subjectOf(p), warnedAt: p.warnedAt, reclaimedAt: this.deps.clock.now() };
      const bound = <T>(call: Promise<T>) => withTimeout(call, CALL_TIMEOUT_MS, this.noAnswer('the chat'));
      action.notified = await tellOwnerReclaimed(this.deps.notifier, notice, report, log, bound);
    } catch (err) {
      action.outcome = 'failed';
      action.error = publicReason(err, log, { instance: name, step: 'reclaim' });
      report.failures.push({ instance: name, error: `could not stop it: ${action.error}` });
    }
    return action;
  }

  /** Posts the summary when the ops channel should hear of the pass (opsStep), then records the pass in the store. */
  private async finish(report: ReclaimReport, step: OpsStep): Promise<void> {
    const { store, clock, log } = this.deps;
    if (step.post) {
      try {
        await withTimeout(this.deps.notifier.opsSummary(report), CALL_TIMEOUT_MS, this.noAnswer('the chat'));
        this.told = step.told; // not told: told again on the next pass
      } catch (err) {
        const why = publicReason(err, log, { step: 'ops summary' });
        report.failures.push({ error: `could not post the ops summary: ${why}` });
        log.warn({ reason: why }, 'could not post the reclaim summary');
      }
    }
    if (!store.writable) return;
    try {
      await store.update((doc) => {
        const now = clock.now();
        doc.reclaim.lastPassAt = now;
        doc.reclaim.lastPassSummary = report.summary;
        const failures = report.failures.map((f) => ({ at: now, ...f }));
        doc.reclaim.failures.push(...failures);
        if (doc.reclaim.failures.length > FAILURES_LIMIT) {
          doc.reclaim.failures.splice(0, doc.reclaim.failures.length - FAILURES_LIMIT);
        }
      });
    } catch (err) {
      log.error({ err }, 'could not record the reclaim pass');
    }
  }
}
