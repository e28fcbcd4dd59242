// The ports suite (issue 2): port reservations and frees through PortPool and Store.update,
// sequential and concurrent, and whether a reservation's cost grows as the pool fills.
import path from 'node:path';
import { PortPool } from '../core/port-pool.ts';
import { Store } from '../store/store.ts';
import type { Suite } from './harness.ts';
import { type Bench, benchRow, ratio, side, timed } from './rows.ts';

const PORT_OPS = 1000;
/** The default pool (8080-9079): bookkeeping only, nothing binds these ports here. */
const PORT_POOL = { from: 8080, to: 8080 + PORT_OPS - 1 };

export const portsSuite: Suite = {
  name: 'ports',
  description: `${PORT_OPS} port reservations and frees through PortPool + Store.update, sequential and concurrent`,
  needsDocker: false,
  async run(ctx) {
    const file = path.join(ctx.dir, 'ports.json');
    const store = await Store.open(file);
    const pool = new PortPool([PORT_POOL], store.read());
    const names = Array.from({ length: PORT_OPS }, (_, i) => `port-${i}`);
    const rows: Bench[] = [];

    const reserve = (name: string) => store.update((doc) => pool.reserve(doc, name, Date.now()));
    const release = (name: string, port: number) => store.update((doc) => pool.release(doc, port, name));
    const check = (ports: number[], what: string) => {
      if (new Set(ports).size !== PORT_OPS) throw new Error(`${what}: a port was handed out twice`);
      if (Object.keys(store.read().ports).length !== PORT_OPS) throw new Error(`${what}: store lost ports`);
    };
    const checkEmpty = (what: string) => {
      const left = Object.keys(store.read().ports).length;
      if (left !== 0) throw new Error(`${what}: ${left} ports still held after freeing all`);
    };

    /** One row per operation and mode: its per-op latencies and the wall time of all PORT_OPS (per
     * op as the side keeps it, rounded). */
    const row = (op: 'reserve' | 'free', concurrent: boolean, samples: number[], wallMs: number): Bench => {
      const call = op === 'reserve' ? 'pool.reserve' : 'pool.release';
      const mode = concurrent ? 'concurrent' : 'sequential';
      const ours = side(`store.update(${call}), ${concurrent ? 'all in flight' : 'awaited each'}`, samples, {
        keep: 0,
        wallMs,
      });
      return benchRow({
        suite: 'ports',
        id: `ports.${op}-${mode}`,
        name: `${PORT_OPS} ${op === 'reserve' ? 'reservations' : 'frees'}, ${mode}`,
        ours,
        result: concurrent
          ? { label: 'wall time / op', value: (ours.wallMs ?? wallMs) / PORT_OPS, unit: 'ms' }
          : { label: 'median / op', value: ours.stats.median, unit: 'ms' },
        notes: concurrent
          ? `${PORT_OPS} updates issued at once: their file writes collapse into a few; per-op figures are latencies from issue to on-disk`
          : `${PORT_OPS} updates, each awaited (one atomic file write each); store on a temp file`,
      });
    };

    // Sequential: each update awaited (a file write each).
    ctx.log(`ports: ${PORT_OPS} sequential reservations and frees`);
    let wall = performance.now();
    const seqReserve: number[] = [];
    const held: { name: string; port: number }[] = [];
    for (const name of names) {
      const { ms, value } = await timed(() => reserve(name));
      seqReserve.push(ms);
      held.push({ name, port: value });
    }
    const seqReserveWall = performance.now() - wall;
    check(
      held.map((h) => h.port),
      'sequential reserve',
    );
    wall = performance.now();
    const seqFree: number[] = [];
    for (const { name, port } of held) seqFree.push((await timed(() => release(name, port))).ms);
    const seqFreeWall = performance.now() - wall;
    checkEmpty('sequential free');

    // Concurrent: all issued in one go, latency of each from issue to resolve.
    ctx.log(`ports: ${PORT_OPS} concurrent reservations and frees`);
    wall = performance.now();
    const conc = await Promise.all(
      names.map((name) => timed(() => reserve(name)).then(({ ms, value }) => ({ name, port: value, ms }))),
    );
    const concReserveWall = performance.now() - wall;
    check(
      conc.map((c) => c.port),
      'concurrent reserve',
    );
    wall = performance.now();
    const concFree = await Promise.all(conc.map(({ name, port }) => timed(() => release(name, port))));
    const concFreeWall = performance.now() - wall;
    checkEmpty('concurrent free');

    // What is on disk agrees: a reopened store holds no ports.
    await store.flushed();
    await store.close();
    const reopened = await Store.open(file);
    if (Object.keys(reopened.read().ports).length !== 0) throw new Error('ports: the file still holds ports');
    await reopened.close();

    rows.push(
      row('reserve', false, seqReserve, seqReserveWall),
      row('free', false, seqFree, seqFreeWall),
      row(
        'reserve',
        true,
        conc.map((c) => c.ms),
        concReserveWall,
      ),
      row(
        'free',
        true,
        concFree.map((c) => c.ms),
        concFreeWall,
      ),
    );
    // Allocation cost must not grow with the ports in use (issue 2): the first 100 sequential
    // reservations (an almost empty pool) against the last 100 (900+ in use).
    const first = side('first 100 reservations (0-99 in use)', seqReserve.slice(0, 100));
    const last = side('last 100 reservations (900-999 in use)', seqReserve.slice(-100));
    rows.push(
      benchRow({
        suite: 'ports',
        id: 'ports.reserve-growth',
        name: 'reservation cost as the pool fills',
        ours: last,
        baseline: first,
        result: { label: 'median ratio', value: ratio(last, first), unit: 'x' },
        notes:
          'informational: includes the awaited file write, which grows with the document; pool.reserve itself is O(log n)',
      }),
    );
    return rows;
  },
};
