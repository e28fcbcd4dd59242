import { z } from 'zod';
import { defineCommand, typed } from './define.ts';
import { positional } from './parse.ts';
import { observedView } from './views.ts';

const usage = 'list [mine|all]';

export const list = defineCommand({
  name: 'list',
  usage,
  summary: 'Show instances: yours (default) or everyone’s.',
  who: 'anyone',
  flags: {},
  schema: z
    .object({
      positional: positional(1, usage).pipe(
        z.tuple([z.enum(['mine', 'all'], { error: `list takes "mine" or "all"` })]).or(z.tuple([])),
      ),
      flags: z.object({}),
    })
    .transform((a) => a.positional[0] ?? 'mine'),
  async run(scope, ctx) {
    const observed = await ctx.services.instances.observe();
    const chosen = scope === 'all' ? observed : observed.filter((o) => o.record.owner === ctx.actor.id);
    chosen.sort((a, b) => a.record.createdAt - b.record.createdAt);
    const who = scope === 'all' ? '' : ' of yours';
    return {
      kind: 'instances',
      ok: true,
      visibility: 'ephemeral',
      scope,
      now: ctx.services.clock.now(),
      summary:
        chosen.length === 0
          ? `No instances${who} are running; start one with \`${typed(ctx.prefix, 'launch')}\`.`
          : `${chosen.length} instance${chosen.length === 1 ? '' : 's'}${who}:`,
      instances: chosen.map((o) => observedView(ctx.services, o)),
    };
  },
});
