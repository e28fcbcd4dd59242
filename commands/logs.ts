import { z } from 'zod';
import { defineCommand } from './define.ts';
import { instanceName, shown } from './parse.ts';

const usage = 'logs <name> [--lines N]';
export const DEFAULT_LOG_LINES = 50;
export const MAX_LOG_LINES = 500;

const lineCount = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return DEFAULT_LOG_LINES;
    const n = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
    if (!(n >= 1 && n <= MAX_LOG_LINES)) {
      ctx.addIssue({
        code: 'custom',
        message: `--lines takes a whole number from 1 to ${MAX_LOG_LINES}, got "${shown(text, 20)}"`,
      });
      return z.NEVER;
    }
    return n;
  });

export const logs = defineCommand({
  name: 'logs',
  usage,
  summary: `Show the last log lines of an instance (default ${DEFAULT_LOG_LINES}, at most ${MAX_LOG_LINES}).`,
  who: 'owner or admin',
  flags: { lines: 'value' },
  schema: z
    .object({
      positional: z.tuple([instanceName], { error: `logs takes one instance name; usage: ${usage}` }),
      flags: z.object({ lines: lineCount }),
    })
    .transform((a) => ({ name: a.positional[0], lines: a.flags.lines })),
  async run(args, ctx) {
    const lines = await ctx.services.instances.logs(ctx.actor, args.name, args.lines);
    const count = `${lines.length} log line${lines.length === 1 ? '' : 's'}`;
    return {
      kind: 'message',
      ok: true,
      visibility: 'ephemeral',
      summary:
        lines.length === 0
          ? `${args.name} has written no log lines yet.`
          : lines.length < args.lines
            ? `All ${count} of ${args.name}:`
            : `The last ${count} of ${args.name}:`,
      details: lines.length > 0 ? lines : undefined,
    };
  },
});
