import { z } from 'zod';
import { describeError } from '../core/errors.ts';
import { defineCommand } from './define.ts';
import { positional } from './parse.ts';
import type { StatusView } from './reply.ts';

export const status = defineCommand({
  name: 'status',
  usage: 'status',
  summary: 'For on-call, posted in the channel: engine, instances, ports, reclaim, failures.',
  who: 'anyone',
  flags: {},
  slow: false,
  schema: z.object({ positional: positional(0, 'status'), flags: z.object({}) }),
  async run(_args, ctx) {
    const { engine, store, pool, clock } = ctx.services;
    let engineError: string | undefined;
    try {
      await engine.ping();
    } catch (err) {
      engineError = describeError(err);
    }
    const doc = store.read();
    const records = Object.values(doc.instances);
    const starting = records.filter((r) => r.state === 'starting').length;
    const view: StatusView = {
      engine: { reachable: engineError === undefined, error: engineError },
      store: { writable: store.writable, error: store.readOnlyMessage ?? undefined },
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
      summary: `${healthy ? 'All good' : 'Degraded'}: ${view.instances.running} running, ${p.inUse + p.reserved}/${p.total} ports used${engineError ? ', Docker unreachable' : ''}${store.writable ? '' : ', store read-only'}.`,
      status: view,
    };
  },
});
