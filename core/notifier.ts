// What the reclaim pass tells people, and the data it tells them with. The core knows nothing
// of Slack: bot/notifier.ts sends these as DMs and channel messages, cli/notifier.ts prints them.
import { describeError, type ErrorLog, publicReason } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { LostInstance, ReconcileReport } from './reconcile.ts';
import type { UsageReport } from './usage-report.ts';

export type ReclaimReason = 'idle' | 'ttl';

/** Why an instance looks reclaimable: what the pass measured, for people and for the audit trail. */
export interface ReclaimEvidence {
  reason: ReclaimReason;
  /** Last time it was seen in use: traffic above the floor, its launch, or an extend / Keep. */
  lastActivityAt: number;
  /** Bytes it sent / received since then, summed over the samples taken since. */
  txSinceActivity: number;
  rxSinceActivity: number;
  /** Bytes sent between two samples that count as use (IDLE_BYTES_FLOOR). */
  floorBytes: number;
  createdAt: number;
  /** Its time limit, when it has one. */
  expiresAt?: number;
  /** One plain sentence saying the above (audit trail, terminal). */
  text: string;
  /** The settings that judged it and where each came from: "idle timeout 30m (template gpu), ...". */
  policy?: string;
}

/** The instance a warning or an action is about, and why it looks reclaimable. */
export interface ReclaimSubject {
  instance: string;
  owner: string;
  template: string;
  port: number;
  url: string;
  reason: ReclaimReason;
  evidence: ReclaimEvidence;
}

/** A warning for one owner: their instance is stopped at `deadline` unless they keep it. */
export interface ReclaimWarning extends ReclaimSubject {
  warnedAt: number;
  deadline: number;
}

/** After the stop: the owner is told what was stopped, why, and offered to launch it again. */
export interface ReclaimedNotice extends ReclaimSubject {
  warnedAt: number;
  /** When it was stopped: its lifetime ends here. */
  reclaimedAt: number;
}

export type ActionOutcome =
  /** Warned, or stopped and removed with its port freed. */
  | 'done'
  /** A dry run: only said what it would do. */
  | 'dry-run'
  /** An extend or Keep came in between the decision and the stop: left running. */
  | 'withdrawn'
  | 'failed';

/** What is due for one instance: a warning (stopped at `deadline` unless kept), or the stop of a warned one. */
export type ReclaimStep =
  /** warnedAt: now. */
  | { kind: 'warn'; warnedAt: number; deadline: number }
  /** warnedAt: when its owner was warned; that deadline has passed. */
  | { kind: 'reclaim'; warnedAt: number };

/** One thing the pass decided about one instance, and what came of it. */
export type ReclaimAction = ReclaimSubject &
  ReclaimStep & {
    outcome: ActionOutcome;
    /** warn: whether the owner got the warning; reclaim: whether they were told after. How, or why not. */
    notified?: NotifyResult;
    /** failed: why, as a person may read it (a UserError's sentence or "internal error (ref …)"). */
    error?: string;
  };

export interface ReclaimFailure {
  instance?: string;
  /** As a person may read it: a UserError's sentence or "internal error (ref …)", the detail in the log. */
  error: string;
}

/** What one pass did: its plan (actions) and their outcomes. */
export interface ReclaimReport {
  /** skipped: another pass was running; failed: it could not sample (Docker down, store read-only). */
  status: 'done' | 'skipped' | 'failed';
  dryRun: boolean;
  trigger: 'schedule' | 'command';
  /** Who asked for it (a command's actor). */
  by?: string;
  startedAt: number;
  /** Wall time of the pass. */
  durationMs: number;
  /** The first pass after the bot starts only samples: it judges nothing. */
  baselineOnly: boolean;
  /** Running instances sampled. */
  checked: number;
  /** Sampled for the first time: a baseline, not judged idle yet. */
  baselined: string[];
  /** Sent more than the floor since the last sample. */
  active: string[];
  /** Pending idle warnings cancelled because the instance was used (or kept). */
  withdrawn: string[];
  actions: ReclaimAction[];
  /** What reconcile cleaned up on the way: entries whose container was gone or had exited. */
  cleaned: Pick<ReconcileReport, 'closed' | 'adopted'> & { exited: string[] };
  failures: ReclaimFailure[];
  /** The first good pass after passes failed on one fault (Docker down, the store read-only): what it was, since when. */
  recovered?: { reason: string; since: number };
  /** One line, as `status` and the ops summary show it. */
  summary: string;
}

export interface NotifyResult {
  delivered: boolean;
  /** Where it went ("DM D123"), or why it did not ("owner cli:bob is not a Slack user"). */
  detail?: string;
}

export interface Notifier {
  /** Tells an owner their instance will be stopped unless kept. Throws when the message failed. */
  warnOwner(warning: ReclaimWarning): Promise<NotifyResult>;
  /** Tells an owner their instance was reclaimed, why, and how to launch it again. Throws when the
   * message failed. Optional: a notifier that only warns (a test's recorder) tells nothing after. */
  tellReclaimed?(notice: ReclaimedNotice): Promise<NotifyResult>;
  /** One summary of a pass that warned, reclaimed or failed something (never for a quiet pass), and
   * while one fault fails every pass, once when it starts and once when it ends (`recovered`). */
  opsSummary(report: ReclaimReport): Promise<void>;
  /** Tells the previous and the new owner of an instance handed over by `give`: one result each,
   * `from` first. Optional: without it nobody is told (the command's reply still says who has it). */
  instanceGiven?(handoff: Handoff): Promise<NotifyResult[]>;
  /** The weekly usage digest (USAGE_CRON) for the ops channel. Optional: without it, only logged. */
  usageDigest?(report: UsageReport): Promise<void>;
  /** Tells an owner their running instance is gone (its container exited or vanished; on Swarm its
   * node was lost), its record closed and its port free. Optional: without it only the ops summary
   * and the audit trail say so. Throws when the message failed. */
  tellLost?(lost: LostInstance): Promise<NotifyResult>;
}

/** Tells the owners of lost instances, when the notifier can; each bounded, never throws (a
 * failure is logged: the record is closed and audited either way). */
export async function tellOwnersLost(
  notifier: Notifier,
  lost: readonly LostInstance[],
  log: Pick<Logger, 'warn'>,
  bound: (call: Promise<NotifyResult>) => Promise<NotifyResult>,
): Promise<void> {
  const tell = notifier.tellLost?.bind(notifier);
  if (!tell) return;
  for (const l of lost) {
    try {
      await bound(tell(l));
    } catch (err) {
      log.warn(
        { instance: l.instance, owner: l.owner, err: describeError(err) },
        'could not tell the owner of a lost instance',
      );
    }
  }
}

/** An instance handed from one user to another (`give`), by one of them or an admin. */
export interface Handoff {
  instance: string;
  template: string;
  url: string;
  from: string;
  to: string;
  /** Who gave it: `from` or an admin. */
  by: string;
  at: number;
}

/** Whether a pass has anything to tell the ops channel: actions, failures, or what reconcile cleaned up. */
export const hasNews = (report: ReclaimReport): boolean =>
  report.actions.length > 0 ||
  report.failures.length > 0 ||
  report.cleaned.closed.length + report.cleaned.exited.length + report.cleaned.adopted.length > 0;

/** Tells an owner their instance was reclaimed, when the notifier can. Never throws: a failure is an
 * undelivered result and a failure in the pass's report. `bound` limits how long it may take. */
export async function tellOwnerReclaimed(
  notifier: Notifier,
  notice: ReclaimedNotice,
  report: ReclaimReport,
  log: ErrorLog,
  bound: (call: Promise<NotifyResult>) => Promise<NotifyResult>,
): Promise<NotifyResult | undefined> {
  if (!notifier.tellReclaimed) return undefined;
  const { instance, owner } = notice;
  try {
    return await bound(notifier.tellReclaimed(notice));
  } catch (err) {
    // It stays stopped (stopped and audited); ops hear the owner was not told.
    const why = publicReason(err, log, { instance, owner, step: 'tell owner after reclaim' });
    report.failures.push({ instance, error: `stopped, but could not tell ${owner}: ${why}` });
    return { delivered: false, detail: why };
  }
}

/** Until a front end connects one: warnings and summaries go to the log only. */
export function logNotifier(log: { info: (obj: object, msg: string) => void }): Notifier {
  return {
    async warnOwner(w) {
      log.info(
        { instance: w.instance, owner: w.owner, reason: w.reason, deadline: w.deadline },
        'reclaim warning',
      );
      return { delivered: false, detail: 'no chat connected: logged only' };
    },
    async opsSummary(r) {
      log.info({ summary: r.summary }, 'reclaim summary');
    },
    async instanceGiven(h) {
      log.info({ instance: h.instance, from: h.from, to: h.to, by: h.by }, 'instance given');
      const told = { delivered: false, detail: 'no chat connected: logged only' };
      return [told, told];
    },
  };
}
