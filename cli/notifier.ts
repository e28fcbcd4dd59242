// Reclaim warnings, after-reclaim notices and summaries in a terminal (the local shell and the CLI): printed, since
// there is no Slack to DM. A command's own pass is answered by its reply, so only the
// schedule's summaries are printed here.
import type {
  Handoff,
  Notifier,
  NotifyResult,
  ReclaimedNotice,
  ReclaimReport,
  ReclaimWarning,
} from '../core/notifier.ts';
import type { LostInstance } from '../core/reconcile.ts';
import { figuresText, type UsageReport } from '../core/usage-report.ts';
import { elapsed } from '../lib/format.ts';
import { reclaimReportLines, warningText } from './text.ts';

export class ConsoleNotifier implements Notifier {
  constructor(private readonly write: (text: string) => void) {}

  async warnOwner(warning: ReclaimWarning): Promise<NotifyResult> {
    this.write(`${warningText(warning)}\n`);
    return { delivered: true, detail: 'printed in the terminal' };
  }

  /** One line for both owners: a terminal has nobody else to tell. */
  async instanceGiven(handoff: Handoff): Promise<NotifyResult[]> {
    this.write(
      `${handoff.instance} now belongs to ${handoff.to} (was ${handoff.from}; given by ${handoff.by}).\n`,
    );
    const told = { delivered: true, detail: 'printed in the terminal' };
    return [told, told];
  }

  /** After a reclaim: one line saying what was stopped, why, and the command that launches it again. */
  async tellReclaimed(n: ReclaimedNotice): Promise<NotifyResult> {
    const why = n.reason === 'idle' ? 'idle' : 'time limit';
    this.write(
      `Reclaimed ${n.instance} of ${n.owner} (${why}) after it ran ${elapsed(n.reclaimedAt, n.evidence.createdAt)}: ` +
        `${n.evidence.text}. Launch it again: \`launch ${n.template} --name ${n.instance}\`.\n`,
    );
    return { delivered: true, detail: 'printed in the terminal' };
  }

  /** A running instance found gone: one line, and the command that launches it again. */
  async tellLost(l: LostInstance): Promise<NotifyResult> {
    const on = l.node === undefined ? '' : ` on node ${l.node}`;
    this.write(
      `${l.instance} of ${l.owner}${on} is gone: ${l.why}. Launch it again: \`launch ${l.template} --name ${l.instance}\`.\n`,
    );
    return { delivered: true, detail: 'printed in the terminal' };
  }

  async opsSummary(report: ReclaimReport): Promise<void> {
    if (report.trigger === 'command') return;
    const title = report.dryRun ? 'Reclaim (dry run)' : 'Reclaim';
    this.write(`${[`${title}: ${report.summary}`, ...reclaimReportLines(report)].join('\n')}\n`);
  }

  /** The weekly usage digest (USAGE_CRON), printed as the ops channel would get it. */
  async usageDigest(report: UsageReport): Promise<void> {
    const lines = [`Usage over the last ${report.days} days: ${figuresText(report.total)}`];
    for (const l of report.byUser) lines.push(`  ${l.key}: ${figuresText(l)}`);
    for (const l of report.byTemplate) lines.push(`  template ${l.key}: ${figuresText(l)}`);
    this.write(`${lines.join('\n')}\n`);
  }
}
