// The JSON store: one lowdb file (the only lowdb import), validated by the zod schema on open.
// Every mutation goes through update(fn): fn runs synchronously on a copy of the document, so
// mutations are serialised by construction and a throwing fn changes nothing; the writes of
// updates issued together are grouped into one atomic file write (steno: temp file + rename).
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { TextFile } from 'lowdb/node';
import { UserError } from '../lib/errors.ts';
import { tryLock, unlock } from '../lib/lock.ts';
import { emptyDoc, type StoreDoc, storeDocSchema } from './schema.ts';

export type ReadonlyDoc = Readonly<StoreDoc>;

/**
 * A copy-on-access view of the document for one update: a part is copied only when fn touches
 * it, so appending to a 10,000-entry audit trail does not clone the whole document. Audit, build
 * and port entries are never changed once written, so a shallow copy of those is enough.
 */
class Draft {
  readonly doc: StoreDoc;
  private readonly copies: Partial<StoreDoc> = {};

  constructor(private readonly base: StoreDoc) {
    const draft = { version: base.version } as StoreDoc;
    const copiers: { [K in Exclude<keyof StoreDoc, 'version'>]: (v: StoreDoc[K]) => StoreDoc[K] } = {
      instances: structuredClone,
      // Port entries are replaced, never changed in place (the pool freezes the ones it makes),
      // so copying the map is enough: taking a port stays cheap as the pool fills.
      ports: (ports) => ({ ...ports }),
      reclaim: structuredClone,
      builds: (a) => a.slice(),
      audit: (a) => a.slice(),
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

export class Store {
  private doc: StoreDoc;
  /** The text last written (or read): what the file holds, to roll back to when a write fails. */
  private committed: string;
  /** What the user can do about a read-only store. */
  private readOnlyFix = 'fix or move the file and restart the bot';
  private flushQueued: Promise<void> | null = null;
  private flushRunning: Promise<void> = Promise.resolve();

  private constructor(
    readonly file: string,
    private readonly db: Low<string>,
    doc: StoreDoc,
    text: string,
    /** Why the store refuses writes, or null when it is writable. */
    private readOnlyReason: string | null,
  ) {
    this.doc = doc;
    this.committed = text;
  }

  /**
   * Opens (or creates) the store. A file that does not parse or fails the schema is left
   * untouched: the store opens read-only, serving the empty document, and says why.
   */
  static async open(file: string): Promise<Store> {
    const store = await Store.openFile(file);
    if (store.writable) {
      // One process owns a store (lowdb's temp file name is fixed, so two writers would collide).
      const owner = tryLock(`${store.file}.lock`);
      if (owner !== null) {
        store.readOnlyReason = `another SpreadServe process (pid ${owner}) owns it`;
        store.readOnlyFix = 'one process owns the store at a time: stop that one first, or use it instead';
      }
    }
    return store;
  }

  private static async openFile(file: string): Promise<Store> {
    const absolute = path.resolve(file);
    const adapter = new TextFile(absolute);
    const db = new Low<string>(adapter, '');
    let text: string | null;
    try {
      text = await adapter.read();
    } catch (err) {
      return Store.readOnly(
        absolute,
        db,
        `it cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
      );
    }
    if (text === null) {
      try {
        await mkdir(path.dirname(absolute), { recursive: true });
      } catch (err) {
        return Store.readOnly(
          absolute,
          db,
          `its folder cannot be created (${(err as NodeJS.ErrnoException).code ?? err})`,
        );
      }
      const store = new Store(absolute, db, emptyDoc(), '', null);
      try {
        await store.update(() => undefined); // creates the file now, so an unwritable path shows at start
      } catch (err) {
        // The failed write made the store read-only and says why; open it read-only, as documented.
        if (store.writable) throw err;
      }
      return store;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return Store.readOnly(absolute, db, `it is not valid JSON (${(err as Error).message})`);
    }
    const parsed = storeDocSchema.safeParse(json);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      const where = first ? `${first.path.join('.') || 'the document'}: ${first.message}` : 'unknown';
      return Store.readOnly(absolute, db, `it does not match the store schema (${where})`);
    }
    let reason: string | null = null;
    try {
      await access(absolute, constants.W_OK);
      await access(path.dirname(absolute), constants.W_OK);
    } catch (err) {
      reason = `it is not writable (${(err as NodeJS.ErrnoException).code ?? err})`;
    }
    return new Store(absolute, db, parsed.data, text, reason);
  }

  private static readOnly(file: string, db: Low<string>, reason: string): Store {
    return new Store(file, db, emptyDoc(), '', reason);
  }

  /** Releases the store's lock, after the last write is on disk. */
  async close(): Promise<void> {
    await this.flushed();
    if (this.writable) unlock(`${this.file}.lock`);
  }

  get writable(): boolean {
    return this.readOnlyReason === null;
  }

  /** One sentence saying why writes are refused, or null. */
  get readOnlyMessage(): string | null {
    return this.readOnlyReason === null ? null : this.readOnlySentence(this.readOnlyReason);
  }

  private readOnlySentence(reason: string): string {
    return `The store ${this.file} is read-only because ${reason}; ${this.readOnlyFix}.`;
  }

  /** Throws the read-only UserError when the store refuses writes. */
  assertWritable(): void {
    if (this.readOnlyReason !== null) throw this.readOnlyError(this.readOnlyReason);
  }

  private readOnlyError(reason: string, cause?: unknown): UserError {
    const options = cause === undefined ? undefined : { cause };
    return new UserError('read-only', this.readOnlySentence(reason), [], options);
  }

  /** The current document. Do not mutate it: use update(). */
  read(): ReadonlyDoc {
    return this.doc;
  }

  /**
   * Applies fn to a copy of the document and resolves once the result is on disk.
   * fn is synchronous, so two updates can never interleave; if it throws, nothing changes.
   */
  async update<T>(fn: (doc: StoreDoc) => T): Promise<T> {
    this.assertWritable();
    const draft = new Draft(this.doc);
    const result = fn(draft.doc);
    if (result instanceof Promise) {
      // An async fn would mutate the draft after it was committed: refuse it outright.
      throw new Error('store.update takes a synchronous function');
    }
    this.doc = draft.commit();
    await this.scheduleFlush();
    return result;
  }

  /** Groups every update made before the next write starts into that one write. */
  private scheduleFlush(): Promise<void> {
    if (this.flushQueued) return this.flushQueued;
    const queued = this.flushRunning.then(async () => {
      this.flushQueued = null;
      // An earlier write failed and rolled the document back, discarding these updates too.
      this.assertWritable();
      const text = `${JSON.stringify(this.doc, null, 2)}\n`;
      this.db.data = text;
      try {
        await this.db.write();
        this.committed = text;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        const reason = `writing it failed (${code})`;
        this.readOnlyReason = reason;
        // Back to what the file holds; updates in this write are reported as failed.
        this.doc = this.committed ? storeDocSchema.parse(JSON.parse(this.committed)) : emptyDoc();
        throw this.readOnlyError(reason, err);
      }
    });
    this.flushQueued = queued;
    this.flushRunning = queued.catch(() => undefined);
    return queued;
  }

  /** Resolves when every update issued so far is on disk (or failed). */
  async flushed(): Promise<void> {
    await (this.flushQueued ?? this.flushRunning).catch(() => undefined);
  }
}
