// The JSON store: one lowdb file (the only lowdb import), validated by the zod schema on open.
// Every mutation goes through update(fn): fn runs synchronously on a copy of the document, so
// mutations are serialised by construction and a throwing fn changes nothing; the writes of
// updates issued together are grouped into one atomic, durable file write (durable-file.ts:
// fsynced temp file + rename) of bytes built from runs of records kept between writes
// (doc-bytes.ts). One process owns the store through a kernel lock on `<file>.lock` (lib/lock.ts);
// another opens it read-only and takes it over by itself when the owner ends.
// A failed write is retried, then the store is read-only until a write succeeds again.
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Low } from 'lowdb';
import { UserError } from '../lib/errors.ts';
import { tryLock, unlock } from '../lib/lock.ts';
import { inconsistency } from './check.ts';
import { DocBytes } from './doc-bytes.ts';
import { Draft } from './draft.ts';
import { DurableTextFile } from './durable-file.ts';
import {
  errorCode,
  isTransientWriteError,
  openFault,
  ownedBy,
  type ReadOnlyState,
  WRITE_RETRY_DELAYS_MS,
  writeFault,
} from './faults.ts';
import { emptyDoc, type StoreDoc, storeDocSchema } from './schema.ts';

export type ReadonlyDoc = Readonly<StoreDoc>;

/** Where the store says what it did by itself (pino's Logger fits). */
export interface StoreLog {
  info(context: Record<string, unknown>, message: string): void;
  warn(context: Record<string, unknown>, message: string): void;
}

export interface StoreOptions {
  /** Where the store reports taking over, write faults and their end; nowhere when absent. */
  log?: StoreLog;
  /** How often a store owned by another process tries to take it over (default 500 ms). */
  takeOverEveryMs?: number;
  /** How often a store read-only after a failed write tries to write again (default 2 s). */
  rewriteEveryMs?: number;
  /** Called once this process has taken the store over from an owner that ended, and can write. */
  onTakeOver?: () => void;
}

const silent: StoreLog = { info: () => undefined, warn: () => undefined };

export class Store {
  private doc: StoreDoc = emptyDoc();
  /** The document the file holds: what a failed write rolls back to. */
  private durable: StoreDoc = this.doc;
  /** Why the store refuses writes, or null when it is writable. */
  private state: ReadOnlyState | null = null;
  /** Bumped when a failed write rolls the document back: updates applied before it are lost. */
  private epoch = 0;
  /** The error a rolled-back write failed with, for the updates it took with it. */
  private rollbackError: UserError | null = null;
  private flushQueued: Promise<void> | null = null;
  private flushRunning: Promise<void> = Promise.resolve();
  /** Whether this store took the lock (and must release it on close). */
  private locked = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly log: StoreLog;
  private readonly db: Low<string | Uint8Array>;
  private readonly adapter: DurableTextFile;
  /** Keeps runs of records' JSON between writes: a write stringifies only what changed. */
  private readonly docBytes = new DocBytes();

  private constructor(
    readonly file: string,
    private readonly options: StoreOptions,
  ) {
    this.log = options.log ?? silent;
    this.adapter = new DurableTextFile(file);
    this.db = new Low<string | Uint8Array>(this.adapter, '');
  }

  /** The kernel lock file beside the store; it stays on disk (deleting it would split the lock). */
  get lockFile(): string {
    return `${this.file}.lock`;
  }

  /**
   * Opens (or creates) the store. A file that does not parse or fails the schema is left
   * untouched: the store opens read-only, serving the empty document, and says why. A store
   * another process owns opens read-only, serving the file as it is, and is taken over (re-read
   * and writable) by itself once that process ends, however it ends.
   */
  static async open(file: string, options: StoreOptions = {}): Promise<Store> {
    const store = new Store(path.resolve(file), options);
    try {
      await mkdir(path.dirname(store.file), { recursive: true });
    } catch (err) {
      // mkdir -p says EEXIST when a part of the path is a file: say what that means.
      const code = errorCode(err) === 'EEXIST' ? 'ENOTDIR' : errorCode(err);
      store.state = openFault(`its folder cannot be created (${code})`);
      return store;
    }
    const holder = store.tryTakeLock();
    await store.load();
    if (holder !== null && store.state?.cause === 'owned') store.watch('owned');
    return store;
  }

  /** Tries the lock once; null when it is ours, else the holder's pid (0 when unknown). */
  private tryTakeLock(): number | null {
    try {
      const holder = tryLock(this.lockFile);
      this.locked = holder === null;
      if (holder !== null) this.state = ownedBy(holder);
      return holder;
    } catch (err) {
      this.state = openFault(`its lock file cannot be opened (${errorCode(err)})`);
      return null;
    }
  }

  /** Reads the file into the document: at open, and again on taking the store over. */
  private async load(): Promise<void> {
    let text: string | null;
    try {
      text = await this.adapter.read();
    } catch (err) {
      this.state = openFault(`it cannot be read (${errorCode(err)})`);
      return;
    }
    if (text === null) {
      this.doc = this.durable = emptyDoc();
      if (!this.locked) return;
      this.state = null;
      try {
        await this.update(() => undefined); // creates the file now, so an unwritable path shows at start
      } catch (err) {
        // The failed write made the store read-only and says why; open it read-only, as documented.
        if (this.writable) throw err;
      }
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      this.state = openFault(`it is not valid JSON (${(err as Error).message})`);
      return;
    }
    const parsed = storeDocSchema.safeParse(json);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      const where = first ? `${first.path.join('.') || 'the document'}: ${first.message}` : 'unknown';
      this.state = openFault(`it does not match the store schema (${where})`);
      return;
    }
    const wrong = inconsistency(parsed.data, json);
    if (wrong !== null) {
      this.state = openFault(`it ${wrong}`);
      return;
    }
    this.doc = this.durable = parsed.data;
    if (!this.locked) return;
    try {
      await access(this.file, constants.W_OK);
      await access(path.dirname(this.file), constants.W_OK);
      this.state = null;
    } catch (err) {
      this.state = openFault(`it is not writable (${errorCode(err)})`);
    }
  }

  /**
   * Retries, every few hundred ms while another process owns the store (taking it over), or
   * every few seconds after a failed write (rewriting the last durable document). Unref'd: it
   * never keeps a process alive.
   */
  private watch(cause: 'owned' | 'write'): void {
    if (this.timer !== null || this.closed) return;
    const everyMs =
      cause === 'owned' ? (this.options.takeOverEveryMs ?? 500) : (this.options.rewriteEveryMs ?? 2_000);
    const tick = cause === 'owned' ? () => this.tryTakeOver() : () => this.tryRewrite();
    this.timer = setInterval(() => void tick(), everyMs);
    this.timer.unref();
  }

  private stopWatching(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async tryTakeOver(): Promise<void> {
    let holder: number | null;
    try {
      holder = tryLock(this.lockFile);
    } catch {
      return; // the lock file is out of reach for now: try again on the next tick
    }
    if (holder !== null) {
      this.state = ownedBy(holder); // the owner may have changed
      return;
    }
    this.locked = true;
    this.stopWatching();
    if (this.closed) return this.releaseLock();
    await this.load(); // still read-only (owned) until the file is read: no update lands on the old document
    if (this.state === null) {
      this.log.info({ file: this.file }, 'took over the store: its owner ended');
      this.options.onTakeOver?.();
    } else this.log.warn({ file: this.file }, `took over the store, but ${this.readOnlyMessage}`);
  }

  private async tryRewrite(): Promise<void> {
    if (this.state?.cause !== 'write' || this.flushQueued) return;
    await this.update(() => undefined).catch(() => undefined);
  }

  private releaseLock(): void {
    if (this.locked) unlock(this.lockFile);
    this.locked = false;
  }

  /** Stops retrying and releases the store's lock, after the last write is on disk. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopWatching();
    await this.flushed();
    this.releaseLock();
  }

  get writable(): boolean {
    return this.state === null;
  }

  /** One sentence saying why writes are refused, or null. */
  get readOnlyMessage(): string | null {
    return this.state === null ? null : this.sentence(this.state);
  }

  private sentence(state: ReadOnlyState): string {
    return `The store ${this.file} is read-only because ${state.reason}; ${state.fix}.`;
  }

  /** Throws the read-only UserError when the store refuses writes. */
  assertWritable(): void {
    if (this.state !== null) throw this.readOnlyError(this.state);
  }

  private readOnlyError(state: ReadOnlyState, cause?: unknown): UserError {
    const options = cause === undefined ? undefined : { cause };
    return new UserError('read-only', this.sentence(state), [], options);
  }

  /** The current document. Do not mutate it: use update(). */
  read(): ReadonlyDoc {
    return this.doc;
  }

  /**
   * Applies fn to a copy of the document and resolves once the result is on disk.
   * fn is synchronous, so two updates can never interleave; if it throws, nothing changes.
   * After a failed write (read-only, cause 'write') updates still try: the first to succeed
   * makes the store writable again. An update that rejects changed nothing, in memory or on disk.
   */
  async update<T>(fn: (doc: StoreDoc) => T): Promise<T> {
    if (this.state !== null && this.state.cause !== 'write') throw this.readOnlyError(this.state);
    const draft = new Draft(this.doc);
    const result = fn(draft.doc);
    if (result instanceof Promise) {
      // An async fn would mutate the draft after it was committed: refuse it outright.
      throw new Error('store.update takes a synchronous function');
    }
    this.doc = draft.commit();
    const epoch = this.epoch;
    await this.scheduleFlush();
    // A write that failed after fn ran rolled the document back, this change with it.
    if (epoch !== this.epoch && this.rollbackError) throw this.rollbackError;
    return result;
  }

  /** Groups every update made before the next write starts into that one write. */
  private scheduleFlush(): Promise<void> {
    if (this.flushQueued) return this.flushQueued;
    const queued = this.flushRunning.then(() => {
      this.flushQueued = null;
      return this.flush();
    });
    this.flushQueued = queued;
    this.flushRunning = queued.catch(() => undefined);
    return queued;
  }

  /** Writes the document, retrying a transient failure; on failure rolls back and goes read-only. */
  private async flush(): Promise<void> {
    const doc = this.doc;
    this.db.data = this.docBytes.of(doc);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.db.write();
        break;
      } catch (err) {
        const delay = WRITE_RETRY_DELAYS_MS[attempt];
        if (delay !== undefined && isTransientWriteError(err)) {
          await new Promise((r) => setTimeout(r, delay));
          continue;
        }
        const fault = writeFault(err);
        if (this.state?.cause !== 'write') this.log.warn({ file: this.file, err }, this.sentence(fault));
        this.state = fault;
        // Back to what the file holds; the updates in this write, and any applied since, fail.
        this.doc = this.durable;
        this.epoch++;
        this.rollbackError = this.readOnlyError(fault, err);
        this.watch('write');
        throw this.rollbackError;
      }
    }
    this.durable = doc;
    if (this.state?.cause === 'write') {
      this.state = null;
      this.stopWatching();
      this.log.info({ file: this.file }, 'the store is writable again: a write succeeded');
    }
  }

  /** Resolves when every update issued so far is on disk (or failed). */
  async flushed(): Promise<void> {
    await (this.flushQueued ?? this.flushRunning).catch(() => undefined);
  }
}
