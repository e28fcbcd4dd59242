// The reclaim pass: find instances nobody uses (or past their time limit), warn their owners,
// and stop them if still unused a while later. Called by the schedule (bot/scheduler.ts), by
// the `reclaim` command and from the CLI; it returns its plan and what came of it.
//
// One pass:
//  1. reconcile the store with Docker;
//  2. sample every running instance's counters (one-shot stats, `statsConcurrency` in flight);
//     bytes it SENT (tx) since the previous sample above IDLE_BYTES_FLOOR count as use. Received
//     bytes are not a signal: they grow with broadcast noise on the bridge. A first sample is
//     only a baseline, and the first pass after the bot starts judges nothing at all;
//  3. decide, inside one store update so a concurrent extend is seen: TTL past -> warn, then
//     reclaim IDLE_WARNING later whatever the traffic; idle for IDLE_TIMEOUT (and past any
//     keepUntil) -> warn, then reclaim if still idle IDLE_WARNING later. Use cancels a pending
//     idle warning; an extend / Keep cancels any (Instances.extend clears it);
//  4. tell owners (Notifier.warnOwner), stop what is due (Instances.stop, audited 'reclaim'),
//     record the pass (doc.reclaim) and post one summary when anything happened.
// Two passes never run at once: a pass asked for while one runs is skipped, and says so.
import { performance } from 'node:perf_hooks';
import type { ContainerEngine, NetworkSample } from '../engine/types.ts';
import type { Clock } from '../lib/clock.ts';
import { mapSettled, withTimeout } from '../lib/concurrency.ts';
import { formatDuration } from '../lib/duration.ts';
import { describeError, UserError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { InstanceRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { audit } from './audit.ts';
import type { Config } from './config.ts';
import type { Instances } from './instances.ts';
import { containerName } from './labels.ts';
import {
  hasNews,
  type Notifier,
  type ReclaimAction,
  type ReclaimEvidence,
  type ReclaimFailure,
  type ReclaimReason,
  type ReclaimReport,
  type ReclaimWarning,
} from './notifier.ts';
import type { Actor } from './policy.ts';
import type { ReconcileReport } from './reconcile.ts';

/** Stats calls in flight: each waits ~1 s for the engine's collector tick, so a pass is latency-bound. */
export const DEFAULT_STATS_CONCURRENCY = 64;
/** Stops (and DMs) in flight at once. */
const ACTION_CONCURRENCY = 8;
/** A stats call, a DM or a summary that takes longer is given up on (the Slack client retries for
 * up to 30 minutes by default; a pass must not hang on it, nor SIGTERM wait that long). */
const CALL_TIMEOUT_MS = 30_000;
/** doc.reclaim.failures keeps the newest this many. */
const FAILURES_LIMIT = 100;
/** Names listed in a one-line summary before "+N more". */
const SUMMARY_NAMES = 5;

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

/** A decision made inside the store update, acted on after it. */
interface Decision {
  kind: 'warn' | 'reclaim';
  record: InstanceRecord;
  reason: ReclaimReason;
  evidence: ReclaimEvidence;
  deadline?: number;
  warnedAt?: number;
}

export class Reclaimer {
  private notifier: Notifier;
  private running: { promise: Promise<ReclaimReport>; startedAt: number } | null = null;
  /** False until a pass has sampled: that first pass after the bot starts judges nothing. */
  private sampledSinceStart = false;

  constructor(private readonly deps: ReclaimDeps) {
    this.notifier = deps.notifier;
  }

  private noAnswer(who: string): string {
    return `${who} did not answer within ${formatDuration(CALL_TIMEOUT_MS)}`;
  }

  /** The front end connects its notifier once it has one (the Slack bot creates the core first). */
  setNotifier(notifier: Notifier): void {
    this.notifier = notifier;
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
    try {
      store.assertWritable();
      const reconciled = await this.deps.reconcile();
      report.cleaned = {
        closed: reconciled.closed,
        adopted: reconciled.adopted,
        exited: reconciled.exited.map((e) => e.instance),
      };
      for (const problem of reconciled.problems) report.failures.push({ error: problem });

      const samples = await this.sample();
      report.checked = samples.size;
      const decisions = await this.decide(samples, report);
      this.sampledSinceStart = true;
      if (!report.dryRun) await this.act(decisions, report);
      else report.actions.push(...decisions.map((d) => this.actionOf(d, 'dry-run')));
    } catch (err) {
      report.status = 'failed';
      report.failures.push({ error: describeError(err) });
      if (!(err instanceof UserError)) log.error({ err }, 'reclaim pass failed');
    }
    report.durationMs = performance.now() - t0;
    report.summary = summarise(report);
    await this.finish(report);
    return report;
  }

  /** One-shot stats for every running instance, a bounded number in flight. */
  private async sample(): Promise<Map<string, PromiseSettledResult<NetworkSample>>> {
    const { store, engine, instances } = this.deps;
    const targets = Object.values(store.read().instances).filter(
      (r) => r.state === 'running' && !instances.launching.has(r.name),
    );
    const results = await mapSettled(targets, DEFAULT_STATS_CONCURRENCY, (r) =>
      withTimeout(
        engine.stats(r.containerId ?? containerName(r.name)),
        CALL_TIMEOUT_MS,
        this.noAnswer('Docker'),
      ),
    );
    return new Map(targets.map((r, k) => [r.name, results[k]!]));
  }

  /**
   * Records the samples and decides, in one store update: the records read here are the current
   * ones, so an extend that landed while the stats were taken is seen.
   */
  private decide(
    samples: Map<string, PromiseSettledResult<NetworkSample>>,
    report: ReclaimReport,
  ): Promise<Decision[]> {
    const { store, clock, settings } = this.deps;
    const judge = this.sampledSinceStart;
    return store.update((doc) => {
      const now = clock.now();
      const decisions: Decision[] = [];
      for (const [name, result] of samples) {
        const record = doc.instances[name];
        if (record?.state !== 'running') continue; // stopped meanwhile
        if (result.status === 'rejected') {
          report.failures.push({ instance: name, error: `stats: ${describeError(result.reason)}` });
          continue;
        }
        const sample = result.value;
        const prev = record.lastSample;
        const dTx = prev ? counterDelta(prev.txBytes, sample.txBytes) : 0;
        const dRx = prev ? counterDelta(prev.rxBytes, sample.rxBytes) : 0;
        // Sums since the last activity restart when the activity (launch, extend) came after that sample.
        const carry = prev && prev.at >= record.lastActivityAt;
        let txSince = (carry ? (prev.txSinceActivity ?? 0) : 0) + dTx;
        let rxSince = (carry ? (prev.rxSinceActivity ?? 0) : 0) + dRx;
        if (!prev) report.baselined.push(name);
        else if (dTx > settings.idleBytesFloor) {
          record.lastActivityAt = now;
          txSince = 0;
          rxSince = 0;
          report.active.push(name);
          if (record.warning?.reason === 'idle') {
            record.warning = undefined;
            report.withdrawn.push(name);
          }
        }
        record.lastSample = {
          at: now,
          txBytes: sample.txBytes,
          rxBytes: sample.rxBytes,
          txSinceActivity: txSince,
          rxSinceActivity: rxSince,
        };
        if (!judge) continue;
        const decision = this.judge(record, now, prev !== undefined, report);
        if (!decision) continue;
        decisions.push(decision);
        if (decision.kind === 'warn' && !report.dryRun) {
          record.warning = { at: now, reason: decision.reason, deadline: decision.deadline! };
          audit(doc, {
            at: now,
            actor: SCHEDULE_ACTOR.id,
            action: 'warn',
            instance: name,
            template: record.template,
            reason: `${decision.evidence.text}; stops at ${isoTime(decision.deadline!)} unless kept${byWhom(report)}`,
          });
        }
      }
      return decisions;
    });
  }

  /** What is due for one instance now, if anything. Mutates only a stale warning (cleared). */
  private judge(
    record: InstanceRecord,
    now: number,
    measured: boolean,
    report: ReclaimReport,
  ): Decision | undefined {
    const { settings } = this.deps;
    const warning = record.warning;
    if (record.expiresAt !== undefined && now >= record.expiresAt) {
      const evidence = this.evidence(record, 'ttl', now);
      if (warning?.reason !== 'ttl') {
        return {
          kind: 'warn',
          record,
          reason: 'ttl',
          evidence,
          deadline: now + settings.idleWarningMs,
          warnedAt: now,
        };
      }
      return now >= warning.deadline
        ? { kind: 'reclaim', record, reason: 'ttl', evidence, warnedAt: warning.at }
        : undefined;
    }
    if (warning?.reason === 'ttl') {
      // Its time limit moved (an extend normally clears the warning itself): nothing is due.
      record.warning = undefined;
      report.withdrawn.push(record.name);
    }
    // Idleness needs one measured interval: a first sample is only a baseline.
    if (!measured) return undefined;
    const idleDue = Math.max(record.lastActivityAt + settings.idleTimeoutMs, record.keepUntil ?? 0);
    if (now < idleDue) {
      if (record.warning) {
        record.warning = undefined;
        report.withdrawn.push(record.name);
      }
      return undefined;
    }
    const evidence = this.evidence(record, 'idle', now);
    if (!record.warning) {
      return {
        kind: 'warn',
        record,
        reason: 'idle',
        evidence,
        deadline: now + settings.idleWarningMs,
        warnedAt: now,
      };
    }
    return now >= record.warning.deadline
      ? { kind: 'reclaim', record, reason: 'idle', evidence, warnedAt: record.warning.at }
      : undefined;
  }

  private evidence(record: InstanceRecord, reason: ReclaimReason, now: number): ReclaimEvidence {
    const floorBytes = this.deps.settings.idleBytesFloor;
    const tx = record.lastSample?.txSinceActivity ?? 0;
    const rx = record.lastSample?.rxSinceActivity ?? 0;
    const base = {
      reason,
      lastActivityAt: record.lastActivityAt,
      txSinceActivity: tx,
      rxSinceActivity: rx,
      floorBytes,
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
    };
    const text =
      reason === 'ttl'
        ? `its time limit ran out at ${isoTime(record.expiresAt ?? now)} (launched ${isoTime(record.createdAt)}); traffic does not extend it`
        : `no use since ${isoTime(record.lastActivityAt)} (${formatDuration(now - record.lastActivityAt)} ago): ` +
          `it sent ${formatBytes(tx)} and received ${formatBytes(rx)} since, ` +
          `and use means sending more than ${formatBytes(floorBytes)} between two checks`;
    return { ...base, text };
  }

  private actionOf(d: Decision, outcome: ReclaimAction['outcome']): ReclaimAction {
    const r = d.record;
    return {
      kind: d.kind,
      instance: r.name,
      owner: r.owner,
      template: r.template,
      port: r.port,
      url: this.deps.instances.url(r.port),
      reason: d.reason,
      evidence: d.evidence,
      deadline: d.deadline,
      warnedAt: d.warnedAt,
      outcome,
    };
  }

  /** Warn owners and stop what is due, a bounded number at once. */
  private async act(decisions: Decision[], report: ReclaimReport): Promise<void> {
    const { store, instances, log } = this.deps;
    const actions = await mapSettled(decisions, ACTION_CONCURRENCY, async (d): Promise<ReclaimAction> => {
      const action = this.actionOf(d, 'done');
      if (d.kind === 'warn') {
        const warning: ReclaimWarning = {
          instance: action.instance,
          owner: action.owner,
          template: action.template,
          port: action.port,
          url: action.url,
          reason: d.reason,
          warnedAt: d.warnedAt!,
          deadline: d.deadline!,
          evidence: d.evidence,
        };
        try {
          action.notified = await withTimeout(
            this.notifier.warnOwner(warning),
            CALL_TIMEOUT_MS,
            this.noAnswer('the chat'),
          );
        } catch (err) {
          // The warning stands (it is recorded and audited); ops hear the owner was not told.
          action.notified = { delivered: false, detail: describeError(err) };
          report.failures.push({
            instance: d.record.name,
            error: `could not tell ${d.record.owner}: ${describeError(err)}`,
          });
        }
        return action;
      }
      // Still warned as decided? An extend or Keep since then cleared the warning: leave it running.
      const current = store.read().instances[d.record.name];
      if (!current || current.warning?.at !== d.warnedAt) {
        action.outcome = 'withdrawn';
        return action;
      }
      const reason = `${d.reason === 'ttl' ? 'time limit' : 'idle'}: ${d.evidence.text}; warned at ${isoTime(d.warnedAt!)}${byWhom(report)}`;
      try {
        await instances.stop(SCHEDULE_ACTOR, d.record.name, reason, 'reclaim');
        log.info({ instance: d.record.name, owner: d.record.owner, reason: d.reason }, 'reclaimed');
      } catch (err) {
        action.outcome = 'failed';
        action.error = describeError(err);
        report.failures.push({ instance: d.record.name, error: `could not stop it: ${action.error}` });
      }
      return action;
    });
    for (const a of actions) if (a.status === 'fulfilled') report.actions.push(a.value);
  }

  /** Records the pass in the store, then posts the summary when there is news. */
  private async finish(report: ReclaimReport): Promise<void> {
    const { store, clock, log } = this.deps;
    // A command's own dry run is answered to its caller; the ops channel hears about real passes
    // and the schedule's dry runs (RECLAIM_DRY_RUN).
    const post = hasNews(report) && !(report.dryRun && report.trigger === 'command');
    if (post) {
      try {
        await withTimeout(this.notifier.opsSummary(report), CALL_TIMEOUT_MS, this.noAnswer('the chat'));
      } catch (err) {
        report.failures.push({ error: `could not post the ops summary: ${describeError(err)}` });
        log.warn({ err: describeError(err) }, 'could not post the reclaim summary');
      }
    }
    if (!store.writable) return;
    try {
      await store.update((doc) => {
        const now = clock.now();
        doc.reclaim.lastPassAt = now;
        doc.reclaim.lastPassSummary = report.summary;
        const failures = report.failures.map((f: ReclaimFailure) => ({ at: now, ...f }));
        doc.reclaim.failures.push(...failures);
        if (doc.reclaim.failures.length > FAILURES_LIMIT) {
          doc.reclaim.failures.splice(0, doc.reclaim.failures.length - FAILURES_LIMIT);
        }
      });
    } catch (err) {
      log.error({ err: describeError(err) }, 'could not record the reclaim pass');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Text

/** One line: what the pass did, as `status` and the ops summary show it. */
function summarise(r: ReclaimReport): string {
  const took = `in ${formatDuration(r.durationMs)}`;
  const checked = `${r.checked} instance${r.checked === 1 ? '' : 's'}`;
  if (r.status === 'skipped') return r.summary;
  if (r.status === 'failed') {
    const first = r.failures.at(-1)?.error ?? 'unknown error';
    return `Reclaim pass failed ${took}: ${first}`;
  }
  if (r.baselineOnly) {
    return `First pass since the bot started: sampled ${checked} ${took} as a baseline and judged nothing.`;
  }
  const would = r.dryRun ? 'would ' : '';
  const of = (kind: ReclaimAction['kind']) =>
    r.actions.filter((a) => a.kind === kind && a.outcome !== 'failed' && a.outcome !== 'withdrawn');
  const parts: string[] = [];
  const reclaimed = of('reclaim');
  const warned = of('warn');
  if (reclaimed.length) parts.push(`${would}reclaim ${names(reclaimed.map((a) => a.instance))}`);
  if (warned.length) parts.push(`${would}warn ${names(warned.map((a) => a.instance))}`);
  const gone = r.cleaned.closed.length + r.cleaned.exited.length;
  if (gone) parts.push(`closed ${gone} whose container was gone`);
  if (r.cleaned.adopted.length) parts.push(`adopted ${r.cleaned.adopted.length} found running`);
  const failed = r.failures.length;
  const withdrawn = r.actions.filter((a) => a.outcome === 'withdrawn').length;
  if (withdrawn) parts.push(`${withdrawn} kept at the last moment`);
  if (failed) parts.push(`${failed} failure${failed === 1 ? '' : 's'}`);
  const head = r.dryRun ? `Dry run: checked ${checked} ${took}` : `Checked ${checked} ${took}`;
  if (parts.length === 0) return `${head}: nothing to reclaim.`;
  if (r.dryRun) return `${head}: ${parts.join(', ')}; nothing was stopped and nobody was told.`;
  return `${head}: ${pastTense(parts)}.`;
}

function pastTense(parts: string[]): string {
  return parts.map((p) => p.replace(/^reclaim /, 'reclaimed ').replace(/^warn /, 'warned ')).join(', ');
}

function names(list: string[]): string {
  const shown = list.slice(0, SUMMARY_NAMES).join(', ');
  const more = list.length - SUMMARY_NAMES;
  return `${list.length} (${shown}${more > 0 ? ` +${more} more` : ''})`;
}

/** Bytes since the previous sample; a counter that went back means the container restarted,
 * and then everything it counts was sent since. */
function counterDelta(before: number, after: number): number {
  return after >= before ? after - before : after;
}

function byWhom(report: ReclaimReport): string {
  return report.trigger === 'command' && report.by ? ` (pass run by ${report.by})` : '';
}

/** 2026-01-01 14:05:07 UTC */
export function isoTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Binary units, as IDLE_BYTES_FLOOR is usually thought of: 16384 -> "16 KiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = value >= 10 || Number.isInteger(value) ? String(Math.round(value)) : value.toFixed(1);
  return `${text} ${units[unit]}`;
}
