// The reclaim pass in words: the one line `status` and the ops summary show, and the reasons the
// audit trail records for a warning and a reclaim.
import { formatDuration } from '../lib/duration.ts';
import { formatUtc } from '../lib/format.ts';
import type { ReclaimAction, ReclaimEvidence, ReclaimReason, ReclaimReport } from './notifier.ts';

/** Names listed in a one-line summary before "+N more". */
const SUMMARY_NAMES = 5;

/** One line: what the pass did, as `status` and the ops summary show it. */
export function summarise(r: ReclaimReport): string {
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
