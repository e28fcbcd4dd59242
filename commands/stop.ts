import { z } from 'zod';
import { defineCommand } from './define.ts';
import { instanceName } from './parse.ts';

const usage = 'stop <name>';

export const stop = defineCommand({
  name: 'stop',
  usage,
  summary: 'Stop and remove an instance and free its port (its owner or an admin).',
  who: 'owner or admin',
  flags: {},
  working: 'Stopping',
  counter: 'stops',
  schema: z
    .object({
      positional: z.tuple([instanceName], { error: `stop takes one instance name; usage: ${usage}` }),
      flags: z.object({}),
    })
    .transform((a) => a.positional[0]),
  async run(name, ctx) {
    const record = await ctx.services.instances.stop(ctx.actor, name);
    return {
      kind: 'message',
      ok: true,
      visibility: 'ephemeral',
      summary: `Stopped ${name}; port ${record.port} is free again.`,
    };
  },
});
