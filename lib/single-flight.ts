// Concurrent callers that want the same answer share one call in flight: thirty `list all` typed
// at once cost the engine one list, not thirty. Nothing is kept once the call settles (the next
// caller starts a fresh call), and a caller joins only a call started at most `maxShareMs` before
// it asked: an answer is never older than that, and a call hung on a frozen engine is not joined
// by callers arriving after the engine is back.

export interface SingleFlightOptions {
  /** A call in flight longer than this is not joined: the caller starts a new one. */
  maxShareMs?: number;
  /** Milliseconds, monotonic; performance.now() when absent. */
  now?: () => number;
}

export class SingleFlight<K, V> {
  private readonly pending = new Map<K, { call: Promise<V>; startedAt: number }>();
  private readonly maxShareMs: number;
  private readonly now: () => number;

  constructor(options: SingleFlightOptions = {}) {
    this.maxShareMs = options.maxShareMs ?? Number.POSITIVE_INFINITY;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * The call in flight under `key` (started within maxShareMs), or a new `call()` under it. A
   * rejection reaches every caller sharing that call, and is then forgotten like an answer.
   */
  run(key: K, call: () => Promise<V>): Promise<V> {
    const now = this.now();
    const inFlight = this.pending.get(key);
    if (inFlight && now - inFlight.startedAt <= this.maxShareMs) return inFlight.call;
    // A synchronous throw in call() is a rejection too. The entry goes when this call ends, unless
    // a newer call has taken the key meanwhile (this one had grown too old to join).
    const started: Promise<V> = Promise.resolve()
      .then(call)
      .finally(() => {
        if (this.pending.get(key)?.call === started) this.pending.delete(key);
      });
    this.pending.set(key, { call: started, startedAt: now });
    return started;
  }

  /** How many keys have a call in flight. */
  get size(): number {
    return this.pending.size;
  }
}
