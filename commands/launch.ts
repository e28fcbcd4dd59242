import { z } from 'zod';
import { limitName } from '../core/templates.ts';
import { formatDuration } from '../lib/duration.ts';
import { defineCommand } from './define.ts';
import { duration, instanceName, positional, templateName } from './parse.ts';
import { instanceView } from './views.ts';

const usage = 'launch [template] [--name NAME] [--ttl DURATION]';

export const launch = defineCommand({
  name: 'launch',
  usage,
  summary: 'Start a server from a template (default: the first one) and get its URL.',
  who: 'user',
  flags: { name: 'value', ttl: 'value' },
  working: 'Launching',
  counter: 'launches',
  schema: z
    .object({
      positional: positional(1, usage).pipe(z.tuple([templateName]).or(z.tuple([]))),
      flags: z.object({ name: instanceName.optional(), ttl: duration('--ttl').optional() }),
    })
    .transform((a) => ({ template: a.positional[0], name: a.flags.name, ttlMs: a.flags.ttl })),
  async run(args, ctx) {
    const record = await ctx.services.instances.launch({
      actor: ctx.actor,
      ...args,
      onProgress: ctx.progress,
    });
    const view = instanceView(ctx.services, record);
    // A user's --ttl stops at the lifetime cap (MAX_LIFETIME or the template's) from launch: say so when it did.
    const ttl = record.expiresAt === undefined ? undefined : record.expiresAt - record.createdAt;
    const capped =
      args.ttlMs !== undefined && ttl !== undefined && ttl < args.ttlMs
        ? `; its time limit is ${formatDuration(ttl)} (the most ${limitName(ctx.services.instances.policyOf(record.template), 'maxLifetimeMs')} allows)`
        : '';
    return {
      kind: 'instance',
      ok: true,
      visibility: 'ephemeral',
      summary: `${record.name} is up at ${view.url}${capped}`,
      instance: view,
    };
  },
});
