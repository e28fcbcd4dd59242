// Questions about the audit trail (the store keeps its newest 10,000 entries), for `history`.
import type { AuditEntry } from '../store/schema.ts';
import type { Store } from '../store/store.ts';

export interface HistoryPage {
  /** Newest first, at most the limit asked for. */
  entries: AuditEntry[];
  /** How many entries match, shown or not. */
  total: number;
}

export class AuditHistory {
  constructor(private readonly store: Store) {}

  /** The newest `limit` entries, everyone's or one instance's. */
  newest(limit: number, instance?: string): HistoryPage {
    const trail = this.store.read().audit;
    const entries: AuditEntry[] = [];
    let total = 0;
    for (let k = trail.length - 1; k >= 0; k--) {
      const entry = trail[k];
      if (entry === undefined || (instance !== undefined && entry.instance !== instance)) continue;
      total++;
      if (entries.length < limit) entries.push({ ...entry });
    }
    return { entries, total };
  }
}
