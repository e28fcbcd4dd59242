// Usage accounting: compact daily totals (per UTC day, per user, per template) kept in the store
// beside the audit trail, so a report over 90 days stays right after the 10,000-entry trail has
// rotated. Every audit entry passes through accrue() inside the same store update that appends it
// (core/audit.ts), so the totals and the trail never disagree.
//
// Instance-seconds are credited to the owner when a stretch of ownership ends (stop, reclaim,
// close, give); running stretches are kept in `open` and counted up to "now" by the report.
// Idle seconds reclaimed: from the reclaim to the instance's TTL/lifetime end (expiresAt), or, for
// an instance without one, to the end of the report window; kept as a count and a sum of reclaim
// times so the window's end can be applied when the report is made.
import type { AuditEntry, StoreDoc, UsageDoc, UsageOpen, UsageRow } from '../store/schema.ts';

export const DAY_MS = 86_400_000;
/** Daily rows older than this are dropped: the longest report asked for is USAGE_MAX_DAYS. */
export const USAGE_MAX_DAYS = 365;

/** "2026-11-29": the UTC day an instant falls in. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const dayStart = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

export function emptyUsage(): UsageDoc {
  return { days: [], open: [] };
}

/** The row to add to: a fresh copy put in the row's place, so a store update copies only the
 * arrays (store/draft.ts) and never changes a row the last committed document holds. */
function rowFor(usage: UsageDoc, day: string, user: string, template: string): UsageRow {
  const at = usage.days.findIndex((r) => r.day === day && r.user === user && r.template === template);
  const found = usage.days[at];
  const row = found
    ? { ...found }
    : { day, user, template, seconds: 0, launches: 0, reclaims: 0, idleSeconds: 0 };
  if (found) usage.days[at] = row;
  else usage.days.push(row);
  return row;
}

/** Credits [from, to) to user and template, split at UTC midnights. */
function creditTime(usage: UsageDoc, user: string, template: string, from: number, to: number): void {
  for (let start = from; start < to; ) {
    const end = Math.min(to, dayStart(start) + DAY_MS);
    rowFor(usage, dayOf(start), user, template).seconds += (end - start) / 1000;
    start = end;
  }
}

function closeStretch(usage: UsageDoc, open: UsageOpen, at: number): void {
  creditTime(usage, open.owner, open.template, open.since, Math.max(open.since, at));
  usage.open = usage.open.filter((o) => o !== open);
}

/** "from U1 to U2" (core/handoff.ts) -> "U2". */
const giveReceiver = (reason: string | undefined): string | undefined =>
  /\bto (\S+)$/.exec(reason ?? '')?.[1];

/** Updates the totals for one audit entry; `doc` is the store as it is when the entry is made. */
export function accrue(usage: UsageDoc, entry: AuditEntry, doc: Pick<StoreDoc, 'instances'>): void {
  const name = entry.instance;
  if (name === undefined) return;
  const record = Object.hasOwn(doc.instances, name) ? doc.instances[name] : undefined;
  let open = usage.open.find((o) => o.instance === name);
  if (open && record && open.endsAt !== record.expiresAt) {
    // extend moves a TTL: keep the latest (a new entry: the committed one is never changed)
    const moved: UsageOpen = { ...open, endsAt: record.expiresAt };
    usage.open = usage.open.map((o) => (o === open ? moved : o));
    open = moved;
  }
  switch (entry.action) {
    case 'launch':
    case 'adopt': {
      if (open) closeStretch(usage, open, entry.at);
      const owner = entry.action === 'launch' ? entry.actor : (record?.owner ?? entry.actor);
      const template = entry.template ?? record?.template ?? '?';
      usage.open.push({ instance: name, owner, template, since: entry.at, endsAt: record?.expiresAt });
      if (entry.action === 'launch') rowFor(usage, dayOf(entry.at), owner, template).launches++;
      return;
    }
    case 'give': {
      const to = giveReceiver(entry.reason) ?? record?.owner;
      if (!open || to === undefined) return;
      closeStretch(usage, open, entry.at);
      usage.open.push({ ...open, owner: to, since: entry.at });
      return;
    }
    case 'reclaim': {
      if (!open) return;
      closeStretch(usage, open, entry.at);
      const row = rowFor(usage, dayOf(entry.at), open.owner, open.template);
      row.reclaims++;
      if (open.endsAt !== undefined) row.idleSeconds += Math.max(0, open.endsAt - entry.at) / 1000;
      else {
        row.openReclaims = (row.openReclaims ?? 0) + 1;
        row.openReclaimAtSum = (row.openReclaimAtSum ?? 0) + entry.at / 1000;
      }
      return;
    }
    case 'stop':
    case 'close':
      if (open) closeStretch(usage, open, entry.at);
      return;
    default:
      return;
  }
}

/** Drops daily rows older than USAGE_MAX_DAYS before `now`. */
export function pruneUsage(usage: UsageDoc, now: number): void {
  const oldest = dayOf(now - USAGE_MAX_DAYS * DAY_MS);
  if (usage.days.some((r) => r.day < oldest)) usage.days = usage.days.filter((r) => r.day >= oldest);
}

/**
 * Totals for a store written before they existed: replayed from the audit trail it still holds,
 * then every open instance the trail has no launch for counted from its createdAt.
 */
export function rebuildUsage(doc: Pick<StoreDoc, 'instances' | 'audit'>): UsageDoc {
  const usage = emptyUsage();
  const none = { instances: {} };
  for (const entry of doc.audit) accrue(usage, entry, none);
  for (const [name, record] of Object.entries(doc.instances)) {
    if (record.state !== 'running') continue;
    const open = usage.open.find((o) => o.instance === name);
    if (open) {
      open.owner = record.owner;
      open.endsAt = record.expiresAt;
    } else {
      const { owner, template, createdAt: since, expiresAt: endsAt } = record;
      usage.open.push({ instance: name, owner, template, since, endsAt });
    }
  }
  // Stretches the trail closed but whose instance is gone without a trace stay as they were.
  usage.open = usage.open.filter((o) => Object.hasOwn(doc.instances, o.instance));
  return usage;
}

/** The store's totals, rebuilt first from the trail when the store predates them. */
export function usageOf(doc: StoreDoc): UsageDoc {
  doc.usage ??= rebuildUsage(doc);
  return doc.usage;
}
