// A copy-on-access view of the store document for one update (store.ts).
import type { StoreDoc } from './schema.ts';

/** The map behind each draft's instances view: what readAll() scans. */
const mapOf = new WeakMap<object, object>();

/**
 * The records of a map, for a read-only scan inside an update (a quota count, a tally per node):
 * reading them through the draft's view would copy every one. Outside an update, the map itself.
 */
export function readAll<T>(records: Readonly<Record<string, T>>): readonly Readonly<T>[] {
  return Object.values((mapOf.get(records) ?? records) as Record<string, T>);
}

/**
 * A copy of a map of records, each record copied when first read through it: an update that
 * changes one instance of 2000 copies that one. (Cloning the whole map cost 2-5 ms at 1000
 * records, twice per launch: a cost that grew with the host's fill.) Reads go to the map itself.
 */
function recordsCopiedOnRead<T>(records: Record<string, T>): Record<string, T> {
  const copied = new Set<string>();
  const view = new Proxy(records, {
    get(target, key) {
      if (typeof key === 'string' && !copied.has(key) && Object.hasOwn(target, key)) {
        copied.add(key);
        own(target, key, structuredClone(target[key]));
      }
      return Reflect.get(target, key);
    },
    set(target, key, value) {
      if (typeof key !== 'string') return false;
      copied.add(key); // fn's own object: nothing to copy
      own(target, key, value);
      return true;
    },
  });
  mapOf.set(view, records);
  return view;
}

/** A shallow copy of a map; a key loop copies a 1400-key map in half the time of a spread. */
function copyMap<T>(map: Record<string, T>): Record<string, T> {
  const copy: Record<string, T> = {};
  for (const key of Object.keys(map)) {
    if (key === '__proto__') own(copy, key, map[key]);
    else copy[key] = map[key] as T;
  }
  return copy;
}

/** Sets an own property, even one named "__proto__" (an assignment would set the prototype). */
function own(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * A copy-on-access view of the document for one update: a part is copied only when fn touches
 * it, so appending to a 10,000-entry audit trail does not clone the whole document. Audit, build
 * and port entries are never changed once written (written records are frozen, doc-bytes.ts), so
 * a shallow copy of those is enough; instance records are changed in place, so each is copied
 * when fn reads it.
 */
export class Draft {
  readonly doc: StoreDoc;
  private readonly copies: Partial<StoreDoc> = {};
  /** What fn sees of a copied part, where that is not the copy itself (the instances' proxy). */
  private readonly views: Partial<StoreDoc> = {};

  constructor(private readonly base: StoreDoc) {
    const draft = { version: base.version } as StoreDoc;
    const copiers: { [K in Exclude<keyof StoreDoc, 'version'>]: (v: StoreDoc[K]) => StoreDoc[K] } = {
      instances: copyMap,
      // Port entries are replaced, never changed in place (the pool freezes the ones it makes),
      // so copying the map is enough: taking a port stays cheap as the pool fills.
      ports: copyMap,
      nodePorts: (tables) => {
        if (tables === undefined) return undefined;
        const copy = copyMap(tables);
        for (const node of Object.keys(copy)) own(copy, node, copyMap(copy[node] as (typeof copy)[string]));
        return copy;
      },
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
          if (!(key in this.copies)) {
            const copy = copiers[key](base[key] as never);
            (this.copies as Record<string, unknown>)[key] = copy;
            if (key === 'instances')
              this.views.instances = recordsCopiedOnRead(copy as StoreDoc['instances']);
          }
          return this.views[key] ?? this.copies[key];
        },
        set: (value: unknown) => {
          (this.copies as Record<string, unknown>)[key] = value;
          delete this.views[key];
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
