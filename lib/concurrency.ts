// A small pool: run an async function over many items with a bounded number in flight.
// Used where one call per instance goes to Docker (stats, stops) so 1000 instances never
// mean 1000 sockets at once, nor 1000 calls one after the other.

/**
 * Calls fn for every item with at most `limit` calls in flight, in the items' order of start;
 * results come back in the items' order. The first rejection rejects the whole, and no item is
 * taken after it (the calls in flight go on): a caller that has its error must not find work
 * still starting behind its back, such as launches after its cleanup listed what to remove.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  // One iterator shared by every worker: each item is taken once, in order.
  const queue = items.entries();
  let failed = false;
  const worker = async () => {
    for (const [index, item] of queue) {
      if (failed) return;
      try {
        results[index] = await fn(item, index);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const workers = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}

/** mapLimit that settles every call: one rejection does not stop the others. */
export function mapSettled<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  return mapLimit(items, limit, async (item, index): Promise<PromiseSettledResult<R>> => {
    try {
      return { status: 'fulfilled', value: await fn(item, index) };
    } catch (reason) {
      return { status: 'rejected', reason };
    }
  });
}

/**
 * Rejects when `promise` has not settled within `ms` (the call itself goes on): with `error`, or
 * a plain Error of that text.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, error: string | Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(typeof error === 'string' ? new Error(error) : error), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs fn with a signal that aborts when `ms` pass first; rejects at that moment with `error`
 * (or a plain Error of that text). For calls that honour a signal (an HTTP request is torn down,
 * so sockets do not pile up); a call that ignores it still cannot hold the caller past `ms`.
 */
export async function withDeadline<T>(
  ms: number,
  error: string | Error,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timeout = typeof error === 'string' ? new Error(error) : error;
  try {
    return await withTimeout(fn(controller.signal), ms, timeout);
  } catch (err) {
    if (err === timeout) controller.abort(timeout);
    throw err;
  }
}

/**
 * Turns for the event loop in a burst of synchronous work spread over many async workers: each
 * worker awaits turn() before a piece of work; within a slice it resolves at once, past it every
 * worker waits for the same next turn of the loop, so timers and sockets (Slack's acks) are
 * served every `sliceMs` instead of after the whole burst.
 */
export class LoopTurns {
  private sliceStart = performance.now();
  private next: Promise<void> | null = null;

  constructor(private readonly sliceMs = 4) {}

  turn(): Promise<void> | undefined {
    if (this.next) return this.next;
    if (performance.now() - this.sliceStart < this.sliceMs) return undefined;
    this.next = new Promise((resolve) =>
      setImmediate(() => {
        this.next = null;
        this.sliceStart = performance.now();
        resolve();
      }),
    );
    return this.next;
  }
}
