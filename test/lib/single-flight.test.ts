// One call in flight per key (lib/single-flight.ts): concurrent callers share it, its answer or
// its rejection reaches them all, and nothing outlives it: the next caller makes a fresh call.
import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../lib/single-flight.ts';

/** A call the test settles by hand, counting how often it was started. */
function controlledCall<V>() {
  let calls = 0;
  const settlers: { resolve: (v: V) => void; reject: (e: unknown) => void }[] = [];
  const call = () => {
    calls++;
    return new Promise<V>((resolve, reject) => settlers.push({ resolve, reject }));
  };
  return {
    call,
    calls: () => calls,
    resolveLast: (v: V) => settlers.at(-1)?.resolve(v),
    resolveFirst: (v: V) => settlers.at(0)?.resolve(v),
    rejectLast: (e: unknown) => settlers.at(-1)?.reject(e),
  };
}

/** Lets the microtasks that start calls run. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('SingleFlight', () => {
  it('gives concurrent callers of one key the same call and the same answer', async () => {
    // given one call in flight under "list"
    const flight = new SingleFlight<string, string[]>();
    const engine = controlledCall<string[]>();

    // when thirty callers ask while it is pending
    const answers = Array.from({ length: 30 }, () => flight.run('list', engine.call));
    await tick();
    const answer = ['a', 'b'];
    engine.resolveLast(answer);

    // then the engine was called once and all thirty got its answer
    expect(engine.calls()).toBe(1);
    for (const got of await Promise.all(answers)) expect(got).toBe(answer);
  });

  it('keeps nothing once the call settles: the next caller makes a fresh call and sees the new answer', async () => {
    // given a call that answered "old"
    const flight = new SingleFlight<string, string>();
    const engine = controlledCall<string>();
    const first = flight.run('list', engine.call);
    await tick();
    engine.resolveLast('old');
    expect(await first).toBe('old');
    expect(flight.size).toBe(0);

    // when a caller asks after it settled
    const second = flight.run('list', engine.call);
    await tick();
    engine.resolveLast('new');

    // then a second engine call was made, and its answer is the one returned
    expect(engine.calls()).toBe(2);
    expect(await second).toBe('new');
  });

  it('shares a rejection with every caller in flight, then forgets it', async () => {
    // given three callers sharing a call that fails
    const flight = new SingleFlight<string, string>();
    const engine = controlledCall<string>();
    const shared = [1, 2, 3].map(() => flight.run('status', engine.call));
    await tick();
    const refused = new Error('Docker is not reachable');
    engine.rejectLast(refused);

    // then all three see that rejection, from one engine call
    for (const outcome of await Promise.allSettled(shared)) {
      expect(outcome).toEqual({ status: 'rejected', reason: refused });
    }
    expect(engine.calls()).toBe(1);

    // and the next caller tries again and gets the new answer
    const retry = flight.run('status', engine.call);
    await tick();
    engine.resolveLast('ok');
    expect(await retry).toBe('ok');
    expect(engine.calls()).toBe(2);
  });

  it('turns a synchronous throw into a rejection and leaves the key free', async () => {
    // given a call that throws before returning a promise
    const flight = new SingleFlight<string, string>();
    const thrown = new Error('bad filter');

    // when it is run, then the caller gets a rejection and the key is free again
    await expect(
      flight.run('list', () => {
        throw thrown;
      }),
    ).rejects.toBe(thrown);
    expect(flight.size).toBe(0);
  });

  it('keeps keys apart: a call under one key is not shared with another', async () => {
    // given calls in flight under two keys
    const flight = new SingleFlight<string, string>();
    const lists = controlledCall<string>();
    const pings = controlledCall<string>();
    const list = flight.run('list', lists.call);
    const ping = flight.run('ping', pings.call);
    await tick();

    // then each key made its own call and gets its own answer
    expect([lists.calls(), pings.calls(), flight.size]).toEqual([1, 1, 2]);
    lists.resolveLast('containers');
    pings.resolveLast('pong');
    expect([await list, await ping]).toEqual(['containers', 'pong']);
  });

  it('does not let a caller join a call older than maxShareMs, and the old call does not evict the new one', async () => {
    // given a call started at t=0 that has not answered by t=1500 (a frozen engine)
    let now = 0;
    const flight = new SingleFlight<string, string>({ maxShareMs: 1_000, now: () => now });
    const engine = controlledCall<string>();
    const hung = flight.run('ping', engine.call);
    await tick();
    now = 500;
    expect(flight.run('ping', engine.call)).toBe(hung); // still young enough to join
    now = 1_500;

    // when a caller asks then
    const fresh = flight.run('ping', engine.call);
    await tick();

    // then it started a call of its own
    expect(fresh).not.toBe(hung);
    expect(engine.calls()).toBe(2);

    // and when the old call answers late, the fresh one stays shared: a caller at t=1600 joins it
    engine.resolveFirst('late');
    expect(await hung).toBe('late');
    now = 1_600;
    expect(flight.run('ping', engine.call)).toBe(fresh);
    engine.resolveLast('back');
    expect(await fresh).toBe('back');
    expect(engine.calls()).toBe(2);
    expect(flight.size).toBe(0);
  });
});
