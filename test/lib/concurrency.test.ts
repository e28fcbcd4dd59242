// The small pool (lib/concurrency.ts): never more than `limit` calls in flight, results in the
// items' order; after the first rejection no further item starts, while mapSettled runs them all.
import { describe, expect, it } from 'vitest';
import { LoopTurns, mapLimit, mapSettled } from '../../lib/concurrency.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** A call per item that counts starts and the most in flight, and rejects for the items in `fail`. */
function counted(fail: ReadonlySet<number> = new Set()) {
  const seen = { started: [] as number[], inFlight: 0, maxInFlight: 0, finished: [] as number[] };
  const fn = async (item: number) => {
    seen.started.push(item);
    seen.inFlight++;
    seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
    // Later items finish sooner, so the order of results is not the order of completion.
    await tick(item === 0 ? 30 : 10 - Math.min(item, 9));
    seen.inFlight--;
    if (fail.has(item)) throw new Error(`item ${item} failed`);
    seen.finished.push(item);
    return item * 10;
  };
  return { fn, seen };
}

const items = Array.from({ length: 20 }, (_, i) => i);

describe('mapLimit', () => {
  it('keeps at most `limit` in flight and returns results in the items order', async () => {
    const { fn, seen } = counted();
    expect(await mapLimit(items, 3, fn)).toEqual(items.map((i) => i * 10));
    expect(seen.maxInFlight).toBe(3);
    expect(seen.started).toEqual(items);
  });

  it('starts no item after the first rejection, and lets the calls in flight finish', async () => {
    const { fn, seen } = counted(new Set([1]));
    await expect(mapLimit(items, 2, fn)).rejects.toThrow('item 1 failed');
    // Item 0 was in flight when item 1 failed: it finishes, and nothing starts after it.
    await tick(60);
    expect(seen.finished).toEqual([0]);
    expect(seen.started).toEqual([0, 1]);
  });

  it('copes with a limit that is not a positive whole number', async () => {
    const { fn, seen } = counted();
    expect(await mapLimit(items.slice(0, 4), 0, fn)).toEqual([0, 10, 20, 30]);
    expect(seen.maxInFlight).toBe(1);
  });
});

describe('mapSettled', () => {
  it('runs every item whatever fails, and says which failed', async () => {
    const { fn, seen } = counted(new Set([1, 5]));
    const settled = await mapSettled(items, 2, fn);
    expect(seen.started).toHaveLength(items.length);
    expect(settled.filter((s) => s.status === 'rejected').map((s) => String(s.reason))).toEqual([
      'Error: item 1 failed',
      'Error: item 5 failed',
    ]);
    expect(settled[2]).toEqual({ status: 'fulfilled', value: 20 });
  });
});

describe('LoopTurns', () => {
  /** 120 items of 1 ms of synchronous work over 16 workers; how many were done when a callback
   * queued on the event loop before the burst got to run. */
  async function doneWhenLoopRan(withTurns: boolean): Promise<number> {
    const turns = new LoopTurns(4);
    let done = 0;
    let doneAtTurn = -1;
    setImmediate(() => {
      doneAtTurn = done;
    });
    await mapSettled(
      Array.from({ length: 120 }, (_, i) => i),
      16,
      async () => {
        if (withTurns) await turns.turn();
        const until = performance.now() + 1;
        while (performance.now() < until) {
          // synchronous work, as a host read is
        }
        done++;
      },
    );
    await new Promise((resolve) => setImmediate(resolve)); // the queued callback has run by now
    return doneAtTurn;
  }

  it('lets the event loop run during a burst of synchronous work, not only after it', async () => {
    expect(await doneWhenLoopRan(false)).toBe(120);
    // About 4 items a slice; a loaded machine only ends slices sooner (they are wall time).
    const atTurn = await doneWhenLoopRan(true);
    expect(atTurn).toBeGreaterThanOrEqual(0);
    expect(atTurn).toBeLessThan(60);
  });

  it('resolves at once within a slice, and makes every caller past it wait for one turn', async () => {
    const turns = new LoopTurns(1_000);
    expect(turns.turn()).toBeUndefined();
    const past = new LoopTurns(0);
    const first = past.turn();
    expect(first).toBeInstanceOf(Promise);
    expect(past.turn()).toBe(first);
    await first;
    expect(past.turn()).not.toBe(first);
  });
});
