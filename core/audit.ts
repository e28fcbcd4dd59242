// The audit trail: every launch, stop, extend, warning, reclaim and build, newest last.
import { AUDIT_LIMIT, type AuditEntry, type StoreDoc } from '../store/schema.ts';

export function audit(doc: StoreDoc, entry: AuditEntry): void {
  doc.audit.push(entry);
  if (doc.audit.length > AUDIT_LIMIT) doc.audit.splice(0, doc.audit.length - AUDIT_LIMIT);
}
