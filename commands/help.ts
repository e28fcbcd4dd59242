import { z } from 'zod';
import { usageError } from '../lib/errors.ts';
import { defineCommand, typed } from './define.ts';
import { positional } from './parse.ts';
import type { Command } from './types.ts';

/** help needs the registry, which needs help: the registry passes itself in. */
export function helpCommand(registry: () => readonly Command[]): Command {
  const usage = 'help [command]';
  return defineCommand({
    name: 'help',
    usage,
    summary: 'Show how to use the commands, or one command.',
    who: 'anyone',
    flags: {},
    offline: true,
    schema: z
      .object({ positional: positional(1, usage), flags: z.object({}) })
      .transform((a) => a.positional[0]),
    async run(topic, ctx) {
      const all = registry();
      const chosen = topic === undefined ? all : all.filter((c) => c.name === topic);
      const [first] = chosen;
      if (first === undefined) {
        throw usageError(
          `There is no command "${String(topic).slice(0, 40)}"; commands: ${all.map((c) => c.name).join(', ')}.`,
        );
      }
      return {
        kind: 'help',
        ok: true,
        visibility: 'ephemeral',
        summary:
          topic === undefined
            ? `SpreadServe Bot: type \`${typed(ctx.prefix, '<command>')}\`. Commands:`
            : `\`${typed(ctx.prefix, first.usage)}\``,
        commands: chosen.map((c) => ({
          name: c.name,
          usage: typed(ctx.prefix, c.usage),
          summary: c.summary,
          who: c.who,
        })),
      };
    },
  });
}
