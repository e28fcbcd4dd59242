import { z } from 'zod';
import type { Services } from '../core/context.ts';
import { describeError } from '../lib/errors.ts';
import { defineCommand } from './define.ts';
import { positional } from './parse.ts';
import type { StatusView } from './reply.ts';

export const status = defineCommand({
  name: 'status',
  usage: 'status',
  summary: 'For on-call, posted in the channel: engine, instances, ports, reclaim, failures.',
  who: 'anyone',
  flags: {},
  schema: z.object({ positional: positional(0, 'status'), flags: z.object({}) }),
  async run(_args, ctx) {
    const { store, pool, clock } = ctx.services;
    const { engine, store: storeState } = await probe(ctx.services);
    const doc = store.read();
    const records = Object.values(doc.instances);
    const starting = records.filter((r) => r.state === 'starting').length;
    const view: StatusView = {
      engine,
      store: storeState,
      instances: { running: records.length - starting, starting },
      ports: pool.counts(doc),
      reclaim: {
        lastPassAt: doc.reclaim.lastPassAt,
        nextPassAt: ctx.services.nextReclaimAt?.(),
        lastSummary: doc.reclaim.lastPassSummary,
      },
      failures: doc.reclaim.failures.slice(-5),
    };
    const healthy = view.engine.reachable && view.store.writable;
    const p = view.ports;
    return {
      kind: 'status',
      ok: true,
      visibility: 'in_channel',
      now: clock.now(),
      summary: `${healthy ? 'All good' : 'Degraded'}: ${view.instances.running} running, ${p.inUse + p.reserved}/${p.total} ports used${engine.reachable ? '' : ', Docker unreachable'}${store.writable ? '' : ', store read-only'}.`,
      status: view,
    };
  },
});

/**
 * Whether the engine answers (within `timeoutMs`, when given) and the store is writable: the
 * `status` reply's first two lines and GET /healthz.
 */
export async function probe(
  services: Services,
  timeoutMs?: number,
): Promise<Pick<StatusView, 'engine' | 'store'>> {
  let engineError: string | undefined;
  try {
    const ping = services.engine.ping();
    await (timeoutMs === undefined
      ? ping
      : Promise.race([
          ping,
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs).unref(),
          ),
        ]));
  } catch (err) {
    engineError = describeError(err);
  }
  return {
    engine: { reachable: engineError === undefined, error: engineError },
    store: { writable: services.store.writable, error: services.store.readOnlyMessage ?? undefined },
  };
}
