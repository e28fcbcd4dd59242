import { z } from 'zod';
import { formatDuration } from '../lib/duration.ts';
import { formatBytes } from '../lib/format.ts';
import { defineCommand } from './define.ts';
import { templateName } from './parse.ts';

const usage = 'build <template> [--no-cache]';

export const build = defineCommand({
  name: 'build',
  usage,
  summary: 'Build a template’s image (admins).',
  who: 'admin',
  flags: { 'no-cache': 'switch' },
  working: 'Building',
  stepProgress: true,
  schema: z
    .object({
      positional: z.tuple([templateName], { error: `build takes one template name; usage: ${usage}` }),
      flags: z.object({ 'no-cache': z.literal(true).optional() }),
    })
    .transform((a) => ({ template: a.positional[0], noCache: a.flags['no-cache'] === true })),
  async run(args, ctx) {
    const result = await ctx.services.builds.build({
      actor: ctx.actor,
      template: args.template,
      noCache: args.noCache,
      onProgress: (p) => ctx.progress?.(p.line, p.step),
    });
    return {
      kind: 'build',
      ok: true,
      visibility: 'ephemeral',
      summary: `Built ${result.template.image} (${formatBytes(result.image.sizeBytes)}) in ${formatDuration(result.durationMs)}.`,
      build: {
        template: result.template.name,
        tag: result.template.image,
        imageId: result.image.id,
        sizeBytes: result.image.sizeBytes,
        durationMs: result.durationMs,
        strategy: result.template.build?.strategy ?? 'dockerfile',
      },
    };
  },
});
