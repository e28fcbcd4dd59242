// The usage report (`usage`, the weekly digest): the daily totals of core/usage.ts over the last N
// UTC days (today included), plus the running stretches counted up to now.
import type { UsageDoc } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { TemplateSet } from './templates.ts';
import { DAY_MS, dayOf, rebuildUsage } from './usage.ts';

export interface UsageFigures {
  /** Instance-hours. */
  hours: number;
  launches: number;
  reclaims: number;
  /** Instance-hours reclaimed instances would have run on (core/usage.ts states the rule). */
  idleHoursReclaimed: number;
}

export interface UsageLine extends UsageFigures {
  key: string;
}

export interface UsageReport {
  days: number;
  /** The window: from the start of the first UTC day to now. */
  from: number;
  to: number;
  total: UsageFigures;
  byUser: UsageLine[];
  byTemplate: UsageLine[];
}

/** Which rows count: one user's, one template's, both, or everything. */
export interface UsageFilter {
  user?: string;
  template?: string;
}

const zero = (): UsageFigures => ({ hours: 0, launches: 0, reclaims: 0, idleHoursReclaimed: 0 });

function plus(sum: UsageFigures, f: UsageFigures): void {
  sum.hours += f.hours;
  sum.launches += f.launches;
  sum.reclaims += f.reclaims;
  sum.idleHoursReclaimed += f.idleHoursReclaimed;
}

/** Maps keyed by user text: a Map, so "__proto__" is a key like any other. */
function add(into: Map<string, UsageFigures>, key: string, f: UsageFigures): void {
  const sum = into.get(key) ?? zero();
  plus(sum, f);
  into.set(key, sum);
}

const round = (n: number) => Math.round(n * 100) / 100;
const rounded = (f: UsageFigures): UsageFigures => ({
  ...f,
  hours: round(f.hours),
  idleHoursReclaimed: round(f.idleHoursReclaimed),
});

function lines(map: Map<string, UsageFigures>): UsageLine[] {
  return [...map]
    .map(([key, f]) => ({ key, ...rounded(f) }))
    .sort((a, b) => b.hours - a.hours || a.key.localeCompare(b.key));
}

export function usageReport(
  usage: UsageDoc,
  now: number,
  days: number,
  filter: UsageFilter = {},
): UsageReport {
  const from = Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
  const firstDay = dayOf(from);
  const nowSec = now / 1000;
  const wanted = (user: string, template: string) =>
    (filter.user === undefined || filter.user === user) &&
    (filter.template === undefined || filter.template === template);
  const byUser = new Map<string, UsageFigures>();
  const byTemplate = new Map<string, UsageFigures>();
  const count = (user: string, template: string, f: UsageFigures) => {
    add(byUser, user, f);
    add(byTemplate, template, f);
  };
  for (const row of usage.days) {
    if (row.day < firstDay || !wanted(row.user, row.template)) continue;
    const openIdle = (row.openReclaims ?? 0) * nowSec - (row.openReclaimAtSum ?? 0);
    count(row.user, row.template, {
      hours: row.seconds / 3600,
      launches: row.launches,
      reclaims: row.reclaims,
      idleHoursReclaimed: (row.idleSeconds + Math.max(0, openIdle)) / 3600,
    });
  }
  for (const open of usage.open) {
    if (!wanted(open.owner, open.template)) continue;
    const seconds = Math.max(0, now - Math.max(open.since, from)) / 1000;
    count(open.owner, open.template, { ...zero(), hours: seconds / 3600 });
  }
  const total = zero();
  for (const f of byUser.values()) plus(total, f);
  return {
    days,
    from,
    to: now,
    total: rounded(total),
    byUser: lines(byUser),
    byTemplate: lines(byTemplate),
  };
}

/** The reports over the store's totals, for `usage` and the digest. */
export class UsageReports {
  constructor(private readonly deps: { store: Store; templates: TemplateSet }) {}

  report(now: number, days: number, filter: UsageFilter = {}): UsageReport {
    const doc = this.deps.store.read();
    // A store from before the totals: rebuilt for this report, kept from the next audit entry on.
    return usageReport(doc.usage ?? rebuildUsage(doc), now, days, filter);
  }

  /** A template of the templates file, or one with use on record (since removed from the file). */
  knows(template: string): boolean {
    if (this.deps.templates.has(template)) return true;
    const usage = this.deps.store.read().usage;
    return usage?.days.some((r) => r.template === template) ?? false;
  }
}

/** "12.5 instance-hours · 3 launches · 1 reclaimed · 2 idle hours reclaimed". */
export function figuresText(f: UsageFigures): string {
  return [
    `${f.hours} instance-hour${f.hours === 1 ? '' : 's'}`,
    `${f.launches} launch${f.launches === 1 ? '' : 'es'}`,
    `${f.reclaims} reclaimed`,
    `${f.idleHoursReclaimed} idle hour${f.idleHoursReclaimed === 1 ? '' : 's'} reclaimed`,
  ].join(' · ');
}
