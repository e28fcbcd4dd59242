// The audit trail: every launch, stop, extend, warning, reclaim and build, newest last.
import { AUDIT_LIMIT, type AuditEntry, type StoreDoc } from '../store/schema.ts';
import { accrue, pruneUsage, usageOf } from './usage.ts';

export function audit(doc: StoreDoc, entry: AuditEntry): void {
  // The usage totals move in the same store update as the entry (core/usage.ts).
  const usage = usageOf(doc);
  accrue(usage, entry, doc);
  pruneUsage(usage, entry.at);
  doc.audit.push(entry);
  if (doc.audit.length > AUDIT_LIMIT) doc.audit.splice(0, doc.audit.length - AUDIT_LIMIT);
}
