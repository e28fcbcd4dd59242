// A copy-on-access view of the store document for one update (store.ts).
import type { StoreDoc } from './schema.ts';

/**
 * A copy-on-access view of the document for one update: a part is copied only when fn touches
 * it, so appending to a 10,000-entry audit trail does not clone the whole document. Audit, build
 * and port entries are never changed once written, so a shallow copy of those is enough.
 */
export class Draft {
  readonly doc: StoreDoc;
  private readonly copies: Partial<StoreDoc> = {};

  constructor(private readonly base: StoreDoc) {
    const draft = { version: base.version } as StoreDoc;
    const copiers: { [K in Exclude<keyof StoreDoc, 'version'>]: (v: StoreDoc[K]) => StoreDoc[K] } = {
      instances: structuredClone,
      // Port entries are replaced, never changed in place (the pool freezes the ones it makes),
      // so copying the map is enough: taking a port stays cheap as the pool fills.
      ports: (ports) => ({ ...ports }),
      nodePorts: (tables) =>
        tables && Object.fromEntries(Object.entries(tables).map(([k, v]) => [k, { ...v }])),
      reclaim: structuredClone,
      builds: (a) => a.slice(),
      audit: (a) => a.slice(),
      // Usage rows and stretches are replaced, never changed in place (core/usage.ts).
      usage: (u) => u && { days: u.days.slice(), open: u.open.slice() },
    };
    for (const key of Object.keys(copiers) as (keyof typeof copiers)[]) {
      Object.defineProperty(draft, key, {
        enumerable: true,
        get: () => {
          if (!(key in this.copies))
            (this.copies as Record<string, unknown>)[key] = copiers[key](base[key] as never);
          return this.copies[key];
        },
        set: (value: unknown) => {
          (this.copies as Record<string, unknown>)[key] = value;
        },
      });
    }
    this.doc = draft;
  }

  /** The new document: the parts fn touched, the rest shared with the old one. */
  commit(): StoreDoc {
    return { ...this.base, ...this.copies };
  }
}
