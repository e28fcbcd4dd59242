// The usage report (`usage`, the weekly digest) as Block Kit: one line per user, then per template.
import { figuresText, type UsageLine, type UsageReport } from '../core/usage-report.ts';
import {
  andMore,
  capBlocks,
  escapeMrkdwn,
  type KnownBlock,
  LIMITS,
  mention,
  packLines,
  section,
} from './blocks.ts';

function lineText(l: UsageLine, who: (key: string) => string): string {
  return `• ${who(l.key)}: ${escapeMrkdwn(figuresText(l))}`;
}

/** At most `budget` blocks: the per-user lines, then the per-template ones, each packed. */
export function usageBlocks(report: UsageReport, budget: number): KnownBlock[] {
  if (report.byUser.length === 0 || budget < 4) return [];
  const half = Math.floor(budget / 2) - 1;
  const users = packLines(
    report.byUser.map((l) => lineText(l, mention)),
    half,
    (n) => andMore(n, 'users'),
  );
  const templates = packLines(
    report.byTemplate.map((l) => lineText(l, (t) => `*${escapeMrkdwn(t)}*`)),
    half,
    (n) => andMore(n, 'templates'),
  );
  return [section('*By user*'), ...users, section('*By template*'), ...templates];
}

/** The weekly digest for the ops channel: the totals, then the lines. */
export function renderUsageDigest(report: UsageReport): { text: string; blocks: KnownBlock[] } {
  const text = `📊 Usage over the last ${report.days} days: ${figuresText(report.total)}.`;
  const head = section(escapeMrkdwn(text));
  const body = usageBlocks(report, LIMITS.messageBlocks - 1);
  return { text, blocks: capBlocks([head, ...body], LIMITS.messageBlocks, 'blocks') };
}
