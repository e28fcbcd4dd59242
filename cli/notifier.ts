// Reclaim warnings and summaries in a terminal (the local shell and the CLI): printed, since
// there is no Slack to DM. A command's own pass is answered by its reply, so only the
// schedule's summaries are printed here.
import type { Notifier, NotifyResult, ReclaimReport, ReclaimWarning } from '../core/notifier.ts';
import { reclaimReportLines, warningText } from './text.ts';

export class ConsoleNotifier implements Notifier {
  constructor(private readonly write: (text: string) => void) {}

  async warnOwner(warning: ReclaimWarning): Promise<NotifyResult> {
    this.write(`${warningText(warning)}\n`);
    return { delivered: true, detail: 'printed in the terminal' };
  }

  async opsSummary(report: ReclaimReport): Promise<void> {
    if (report.trigger === 'command') return;
    const title = report.dryRun ? 'Reclaim (dry run)' : 'Reclaim';
    this.write(`${[`${title}: ${report.summary}`, ...reclaimReportLines(report)].join('\n')}\n`);
  }
}
