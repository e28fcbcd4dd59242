import { z } from 'zod';
import { formatUtc } from '../lib/format.ts';
import { defineCommand } from './define.ts';
import { duration, instanceName } from './parse.ts';
import { instanceView } from './views.ts';

const usage = 'extend <name> [DURATION]';
const DEFAULT_MS = 2 * 3_600_000;

export const extend = defineCommand({
  name: 'extend',
  usage,
  summary: 'Mark an instance active now and postpone its reclaim (default 2h).',
  who: 'owner or admin',
  flags: {},
  schema: z
    .object({
      positional: z
        .tuple([instanceName], { error: `extend takes a name and an optional duration; usage: ${usage}` })
        .or(z.tuple([instanceName, duration()])),
      flags: z.object({}),
    })
    .transform((a) => ({ name: a.positional[0], ms: a.positional[1] ?? DEFAULT_MS })),
  async run(args, ctx) {
    const { record, cap } = await ctx.services.instances.extendCapped(ctx.actor, args.name, args.ms);
    const until = formatUtc(record.keepUntil ?? 0, 'minute');
    const limited = cap && ctx.actor.role !== 'admin' ? ` (the most ${cap} allows)` : '';
    return {
      kind: 'instance',
      ok: true,
      visibility: 'ephemeral',
      summary: `${args.name} is kept until ${until}${limited}.`,
      instance: instanceView(ctx.services, record),
    };
  },
});
