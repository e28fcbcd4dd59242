// The store half of the scale suite (bench/scale.ts): the store file at N records with its audit
// trail full (AUDIT_LIMIT entries), one update's write through Store.update against the same
// document written raw (serialise, temp file, fsync, rename), alternating.
import { renameSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Services } from '../core/context.ts';
import { AUDIT_LIMIT } from '../store/schema.ts';
import type { BenchContext } from './harness.ts';
import { alternate, type Bench, benchRow, ratio, side, timed } from './rows.ts';

const STORE_ROUNDS = 10;
const MB = 1024 * 1024;

/** The store at N records with its audit trail full: one update's write, against the same bytes written raw. */
export async function storeRows(ctx: BenchContext, services: Services, n: number): Promise<Bench[]> {
  const { store } = services;
  await store.update((doc) => {
    const template = doc.audit.at(-1) ?? { at: Date.now(), actor: ctx.actor.id, action: 'launch' as const };
    while (doc.audit.length < AUDIT_LIMIT)
      doc.audit.push({ ...template, reason: `filler ${doc.audit.length}` });
  });
  const ours: number[] = [];
  const raw: number[] = [];
  const rawFile = path.join(ctx.dir, 'raw-store.json');
  const rawWrite = async () => {
    // A store's write without the store's kept runs (store/doc-bytes.ts): JSON.stringify of the
    // whole document, a temp file, flush, rename.
    const text = `${JSON.stringify(store.read())}\n`;
    const handle = await open(`${rawFile}.tmp`, 'w');
    await handle.writeFile(text);
    await handle.sync();
    await handle.close();
    renameSync(`${rawFile}.tmp`, rawFile);
  };
  let round = 0;
  const update = () =>
    store.update((doc) => {
      doc.reclaim.lastPassSummary = `round ${round++}`;
    });
  await alternate(
    ctx.signal,
    STORE_ROUNDS,
    async () => void ours.push((await timed(update)).ms),
    async () => void raw.push((await timed(rawWrite)).ms),
  );
  const sizeMb = statSync(store.file).size / MB;
  writeFileSync(rawFile, ''); // the raw copy is not needed past here
  const mine = side(`Store.update of one field, ${n} records, ${AUDIT_LIMIT} audit entries`, ours);
  const base = side('JSON.stringify + temp file + fsync + rename of the same document', raw);
  return [
    benchRow({
      suite: 'scale',
      id: 'scale.store-write',
      name: `store write at ${n} records, full audit trail (${sizeMb.toFixed(1)} MB)`,
      ours: mine,
      baseline: base,
      result: { label: 'median ratio', value: ratio(mine, base), unit: 'x' },
      notes: `file ${sizeMb.toFixed(2)} MB; ${STORE_ROUNDS} rounds each, alternating`,
    }),
  ];
}
