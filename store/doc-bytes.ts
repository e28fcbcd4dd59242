// The store file's bytes, written whole at every update (store.ts). JSON.stringify of the whole
// document, then encoding that text, cost ~10 ms of CPU a write at 1400 records: a launch's two
// writes grew with the host's fill, and on a host whose run queue was 5 deep that CPU cost the
// launches at 1200-1400 instances a tenth of their throughput. Here the records of each map and
// list are written in runs of up to RUN records, and a run's bytes are kept while its records are
// the same objects: a write stringifies only the runs an update touched, and copies the rest.
// (Joining kept texts as strings was no cure: V8 joins 1 MB of strings at ~500 MB/s.) The JSON is
// compact: at 1000 records indenting made the file 40% larger, and each write's CPU with it.
import type { StoreDoc } from './schema.ts';

/**
 * How far each part of the document is split: 1 for a map of records or a list of entries (kept
 * in runs), 2 for a map of such maps or an object of such lists, 0 for a part written whole.
 * A part not named here is written whole.
 */
const SPLIT: { readonly [K in keyof StoreDoc]-?: number } = {
  version: 0,
  instances: 1,
  ports: 1,
  nodePorts: 2,
  builds: 1,
  audit: 1,
  reclaim: 0,
  usage: 2,
};

/** Records a run holds at most: a changed record costs re-stringifying its run. */
const RUN = 32;

/** Consecutive records of one map or list and their JSON: `"k":{..},"k":{..}` or `{..},{..}`. */
interface Run {
  /** The map's keys, or null in a list. */
  readonly keys: readonly string[] | null;
  readonly records: readonly object[];
  readonly bytes: Buffer;
}

/** A map (its keys) or a list (keys null), read by position. */
interface Members {
  readonly keys: readonly string[] | null;
  readonly source: Readonly<Record<string | number, unknown>>;
  readonly count: number;
}

const COMMA = Buffer.from(',');
const NEWLINE = Buffer.from('\n');

/**
 * Builds the file's bytes for a document: `JSON.stringify(doc)` and a newline, in UTF-8, byte
 * for byte. A kept run is right only while its records do not change: that is the store's rule (a
 * record is changed on a copy inside an update, store/draft.ts), and a record is frozen once its
 * run is kept, so code that breaks the rule throws instead of leaving the file behind the document.
 */
export class DocBytes {
  /** Each kept run by its first record. */
  private readonly runs = new WeakMap<object, Run>();

  of(doc: Readonly<StoreDoc>): Buffer {
    const out: Buffer[] = [];
    const depthOf = (key: string) => (Object.hasOwn(SPLIT, key) ? SPLIT[key as keyof StoreDoc] : 0);
    this.container(doc, depthOf, out);
    out.push(NEWLINE);
    return Buffer.concat(out);
  }

  /** Appends value's JSON, split `depth` levels down; false when JSON has none (undefined). */
  private value(value: unknown, depth: number, out: Buffer[]): boolean {
    if (depth > 0 && isRecord(value)) {
      if (depth === 1) this.records(value, out);
      else this.container(value, () => depth - 1, out);
      return true;
    }
    const text = JSON.stringify(value) as string | undefined;
    if (text === undefined) return false;
    out.push(Buffer.from(text));
    return true;
  }

  /** Appends an array's or object's JSON, each member split as deep as depthOf says. */
  private container(value: object, depthOf: (key: string) => number, out: Buffer[]): void {
    const list = Array.isArray(value);
    out.push(Buffer.from(list ? '[' : '{'));
    let comma = false;
    const keys = list ? Array.from(value.keys(), String) : Object.keys(value);
    for (const key of keys) {
      const member = (value as Record<string, unknown>)[key];
      if (this.member(list ? null : key, member, depthOf(key), comma, out)) comma = true;
    }
    out.push(Buffer.from(list ? ']' : '}'));
  }

  /**
   * Appends one member of a list (key null) or map, after a comma when `comma`, as JSON writes
   * it: undefined is null in a list and leaves its key out of a map. False when nothing was written.
   */
  private member(key: string | null, value: unknown, depth: number, comma: boolean, out: Buffer[]): boolean {
    const at = out.length;
    out.push(Buffer.from(`${comma ? ',' : ''}${key === null ? '' : `${JSON.stringify(key)}:`}`));
    if (this.value(value, depth, out)) return true;
    if (key !== null) {
      out.length = at;
      return false;
    }
    out.push(Buffer.from('null'));
    return true;
  }

  /** Appends a map's or list's JSON from runs of its records, kept ones where they still match. */
  private records(value: object, out: Buffer[]): void {
    const keys = Array.isArray(value) ? null : Object.keys(value);
    const source = value as Record<string | number, unknown>;
    const members: Members = {
      keys,
      source,
      count: keys === null ? (value as unknown[]).length : keys.length,
    };
    out.push(Buffer.from(keys === null ? '[' : '{'));
    let comma = false;
    let last: Run | null = null; // the run just written, while a short next one may join it
    for (let i = 0; i < members.count; ) {
      const record = memberAt(members, i);
      if (!isRecord(record)) {
        // Not a record (a number, null, a toJSON object): written as JSON writes it, alone.
        last = null;
        if (this.member(keys === null ? null : (keys[i] as string), record, 0, comma, out)) comma = true;
        i++;
        continue;
      }
      const kept = this.runs.get(record);
      let run = kept !== undefined && matches(kept, members, i) ? kept : this.build(members, i);
      i += run.records.length;
      if (last !== null && last.records.length + run.records.length <= RUN) {
        // Two short runs in a row (records added at the end, removed in the middle): one run.
        run = this.join(last, run);
        out[out.length - 1] = run.bytes;
      } else {
        if (comma) out.push(COMMA);
        out.push(run.bytes);
        comma = true;
      }
      last = run;
    }
    out.push(Buffer.from(keys === null ? ']' : '}'));
  }

  /** A new run from position i: up to RUN records, ending before the start of a kept run. */
  private build(members: Members, i: number): Run {
    const { keys } = members;
    const records: object[] = [];
    const texts: string[] = [];
    for (let j = i; j < members.count && records.length < RUN; j++) {
      const record = memberAt(members, j);
      if (!isRecord(record) || (j > i && this.runs.has(record))) break;
      deepFreeze(record);
      records.push(record);
      const text = JSON.stringify(record);
      texts.push(keys === null ? text : `${JSON.stringify(keys[j])}:${text}`);
    }
    const run = {
      keys: keys === null ? null : keys.slice(i, i + records.length),
      records,
      bytes: Buffer.from(texts.join(',')),
    };
    this.runs.set(records[0] as object, run);
    return run;
  }

  /** Two runs in a row as one, kept by the first's first record. */
  private join(a: Run, b: Run): Run {
    this.runs.delete(b.records[0] as object);
    const run = {
      keys: a.keys && b.keys && [...a.keys, ...b.keys],
      records: [...a.records, ...b.records],
      bytes: Buffer.concat([a.bytes, COMMA, b.bytes]),
    };
    this.runs.set(a.records[0] as object, run);
    return run;
  }
}

function memberAt({ keys, source }: Members, i: number): unknown {
  return keys === null ? source[i] : source[keys[i] as string];
}

/** Whether a kept run's records are still the members from position i, under the same keys. */
function matches(run: Run, members: Members, i: number): boolean {
  const { records } = run;
  const n = records.length;
  const { keys, source } = members;
  if (i + n > members.count || (run.keys === null) !== (keys === null)) return false;
  if (keys === null) {
    for (let j = 0; j < n; j++) if (records[j] !== source[i + j]) return false;
    return true;
  }
  const runKeys = run.keys as readonly string[];
  for (let j = 0; j < n; j++) {
    const key = keys[i + j] as string;
    if (runKeys[j] !== key || records[j] !== source[key]) return false;
  }
  return true;
}

/** An array or object JSON writes member by member (one with toJSON is written as that says). */
function isRecord(value: unknown): value is object {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON !== 'function'
  );
}

function deepFreeze(value: object): void {
  Object.freeze(value);
  for (const member of Object.values(value)) {
    if (member !== null && typeof member === 'object' && !Object.isFrozen(member)) deepFreeze(member);
  }
}
