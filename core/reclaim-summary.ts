// The reclaim pass in words: the one line `status` and the ops summary show, and the reasons the
// audit trail records for a warning and a reclaim.
import { formatDuration } from '../lib/duration.ts';
import { formatUtc } from '../lib/format.ts';
import {
  hasNews,
  type ReclaimAction,
  type ReclaimEvidence,
  type ReclaimReason,
  type ReclaimReport,
} from './notifier.ts';

/** Names listed in a one-line summary before "+N more". */
const SUMMARY_NAMES = 5;

/** A fault that fails whole passes (Docker down, the store read-only), as the ops channel was told of it. */
export interface Outage {
  /** A UserError's kind, or 'internal': passes failing on the same kind are one outage. */
  kind: string;
  /** Why the first of them failed, as a person may read it. */
  reason: string;
  since: number;
}

/** Whether the ops channel hears of a pass, and the outage it has then been told of. */
export interface OpsStep {
  post: boolean;
  told: Outage | undefined;
}

/**
 * Quiet failures: while one fault fails every pass, the ops channel hears of it once when it starts
 * and once when it ends, not every pass. A pass failing on the fault it was last told of is not
 * posted; the first good pass after it is (and `report.recovered` says so), even with nothing else
 * to tell. A command's own dry run is answered to its caller only, and a skipped pass is no news.
 */
export function opsStep(report: ReclaimReport, fault: Outage | undefined, told: Outage | undefined): OpsStep {
  if ((report.dryRun && report.trigger === 'command') || report.status === 'skipped')
    return { post: false, told };
  if (fault) return told?.kind === fault.kind ? { post: false, told } : { post: true, told: fault };
  if (told) {
    report.recovered = { reason: told.reason, since: told.since };
    return { post: true, told: undefined };
  }
  return { post: hasNews(report), told: undefined };
}

/** One line: what the pass did, as `status` and the ops summary show it; first, that it works again. */
export function summarise(r: ReclaimReport): string {
  const again = r.recovered
    ? `Reclaim works again (it failed from ${formatUtc(r.recovered.since, 'second')} on: ${r.recovered.reason.replace(/\.$/, '')}). `
    : '';
  return again + passLine(r);
}

function passLine(r: ReclaimReport): string {
  const took = `in ${formatDuration(r.durationMs)}`;
  const checked = `${r.checked} instance${r.checked === 1 ? '' : 's'}`;
  if (r.status === 'skipped') return r.summary;
  if (r.status === 'failed') {
    const first = r.failures.at(-1)?.error ?? 'unknown error';
    return `Reclaim pass failed ${took}: ${first}`;
  }
  // What reconcile tidied up is news on any pass, the first one after a start included (on Swarm
  // the node watch's pass after a node loss may be that one).
  const tidied: string[] = [];
  const gone = r.cleaned.closed.length + r.cleaned.exited.length;
  if (gone) tidied.push(`closed ${gone} whose container was gone or had exited`);
  if (r.cleaned.adopted.length) tidied.push(`adopted ${r.cleaned.adopted.length} found running`);
  if (r.baselineOnly) {
    const also = tidied.length > 0 ? `; ${tidied.join(', ')}` : '';
    return `First pass since the bot started: sampled ${checked} ${took} as a baseline and judged nothing${also}.`;
  }
  const would = r.dryRun ? 'would ' : '';
  const of = (kind: ReclaimAction['kind']) =>
    r.actions.filter((a) => a.kind === kind && a.outcome !== 'failed' && a.outcome !== 'withdrawn');
  const parts: string[] = [];
  const reclaimed = of('reclaim');
  const warned = of('warn');
  if (reclaimed.length) parts.push(`${would}reclaim ${names(reclaimed.map((a) => a.instance))}`);
  if (warned.length) parts.push(`${would}warn ${names(warned.map((a) => a.instance))}`);
  parts.push(...tidied);
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

type PassBy = Pick<ReclaimReport, 'trigger' | 'by'>;

/** The audit reason of a warning: the evidence, the deadline, and who ran the pass. */
export function warnAuditReason(w: { evidence: ReclaimEvidence; deadline: number }, pass: PassBy): string {
  return `${w.evidence.text}; stops at ${formatUtc(w.deadline, 'second')} unless kept${byWhom(pass)}`;
}

/** The audit reason of a reclaim: why, the evidence, when its owner was warned, and who ran the pass. */
export function reclaimAuditReason(
  r: { reason: ReclaimReason; evidence: ReclaimEvidence; warnedAt: number },
  pass: PassBy,
): string {
  const why = r.reason === 'ttl' ? 'time limit' : 'idle';
  return `${why}: ${r.evidence.text}; warned at ${formatUtc(r.warnedAt, 'second')}${byWhom(pass)}`;
}

function byWhom(pass: PassBy): string {
  return pass.trigger === 'command' && pass.by ? ` (pass run by ${pass.by})` : '';
}
