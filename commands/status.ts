import { z } from 'zod';
import { defineCommand } from './define.ts';
import { positional } from './parse.ts';

export const status = defineCommand({
  name: 'status',
  usage: 'status',
  summary: 'For on-call, posted in the channel: engine, instances, ports, reclaim, failures.',
  who: 'anyone',
  flags: {},
  schema: z.object({ positional: positional(0, 'status'), flags: z.object({}) }),
  async run(_args, ctx) {
    const view = await ctx.services.health.status();
    const { engine, store, instances, ports: p } = view;
    const healthy = engine.reachable && store.writable;
    const nearLimit = view.hostLimits ? ", near this host's kernel limits" : '';
    return {
      kind: 'status',
      ok: true,
      visibility: 'in_channel',
      now: ctx.services.clock.now(),
      summary: `${healthy ? 'All good' : 'Degraded'}: ${instances.running} running, ${p.inUse + p.reserved}/${p.total} ports used${engine.reachable ? '' : ', Docker unreachable'}${store.writable ? '' : ', store read-only'}${nearLimit}.`,
      status: view,
    };
  },
});
