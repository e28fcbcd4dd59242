import { z } from 'zod';
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
    return {
      kind: 'instance',
      ok: true,
      visibility: 'ephemeral',
      summary: `${record.name} is up at ${view.url}`,
      instance: view,
    };
  },
});
