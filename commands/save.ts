import { z } from 'zod';
import { formatDuration } from '../lib/duration.ts';
import { formatBytes } from '../lib/format.ts';
import { NAME_HINT, NAME_RE } from '../lib/names.ts';
import { isPrototypeKey } from '../lib/own.ts';
import { defineCommand } from './define.ts';
import { instanceName, shown } from './parse.ts';

const usage = 'save <name> --as <template>';

/** The saved template's name: the name rule, and never a key every object has. */
const savedName = z
  .string({ error: `save needs --as <template>, the name of the template to save it as; usage: ${usage}` })
  .refine((v) => NAME_RE.test(v) && !isPrototypeKey(v), {
    error: (issue) => `--as "${shown(String(issue.input))}" cannot name a template: ${NAME_HINT}`,
  });

export const save = defineCommand({
  name: 'save',
  usage,
  summary: 'Commit a running instance to a new image and a saved template that launches it (admins).',
  who: 'admin',
  flags: { as: 'value' },
  working: 'Saving',
  stepProgress: true,
  schema: z
    .object({
      positional: z.tuple([instanceName], {
        error: `save takes one instance name and --as <template>; usage: ${usage}`,
      }),
      flags: z.object({ as: savedName }),
    })
    .transform((a) => ({ instance: a.positional[0], as: a.flags.as })),
  async run(args, ctx) {
    const { snapshots } = ctx.services;
    const result = await snapshots.save({
      actor: ctx.actor,
      instance: args.instance,
      as: args.as,
      onProgress: (p) => ctx.progress?.(p.line, p.step),
    });
    const previous = result.previous
      ? ` The previous image ${result.previous.image} was ${result.previous.removed ? 'removed' : 'kept: an instance may still use it'}.`
      : '';
    return {
      kind: 'message',
      ok: true,
      visibility: 'ephemeral',
      summary:
        `Saved ${args.instance} as template ${args.as} (${result.template.image}, ` +
        `${formatBytes(result.image.sizeBytes)}) in ${formatDuration(result.durationMs)}; ` +
        `launch it with: launch ${args.as}.${previous}`,
      details: [`Saved in ${snapshots.saved.location}.`],
    };
  },
});
