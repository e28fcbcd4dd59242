// Closing an instance's record, inside a store update: shared by stop, a failed launch and
// reconcile, so a port is freed the same way whoever frees it.
import type { AuditEntry, StoreDoc } from '../store/schema.ts';
import { audit } from './audit.ts';
import type { PortPool } from './port-pool.ts';

/**
 * Inside a store update: drops an instance's record and frees its port (the container is gone),
 * audited when `why` is given. A record already gone is left alone.
 */
export function closeRecord(
  doc: StoreDoc,
  pool: PortPool,
  name: string,
  why?: Pick<AuditEntry, 'at' | 'actor' | 'action' | 'reason'>,
): void {
  const record = doc.instances[name];
  if (!record) return;
  pool.release(doc, record.port, name, record.node?.id);
  delete doc.instances[name];
  if (why) {
    const { at, actor, action, reason } = why;
    audit(doc, { at, actor, action, instance: name, template: record.template, reason });
  }
}
