// The usage report as terminal lines: a table per user, then per template.
import type { UsageLine, UsageReport } from '../core/usage-report.ts';

function rows(title: string, lines: UsageLine[]): string[][] {
  return [
    [title, 'HOURS', 'LAUNCHES', 'RECLAIMED', 'IDLE HOURS RECLAIMED'],
    ...lines.map((l) => [
      l.key,
      String(l.hours),
      String(l.launches),
      String(l.reclaims),
      String(l.idleHoursReclaimed),
    ]),
  ];
}

/** Nothing when there was no use; `table` lays the rows out in columns. */
export function usageTextLines(report: UsageReport, table: (rows: string[][]) => string[]): string[] {
  if (report.byUser.length === 0) return [];
  return [...table(rows('USER', report.byUser)), ...table(rows('TEMPLATE', report.byTemplate))];
}
