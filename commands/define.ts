import { usageError } from '../core/errors.ts';
import type { RawArgs } from './parse.ts';
import type { Command, CommandDef } from './types.ts';

/** Wraps a typed command definition so the registry can hold it next to the others. */
export function defineCommand<A>(def: CommandDef<A>): Command {
  return {
    name: def.name,
    usage: def.usage,
    summary: def.summary,
    who: def.who,
    flags: def.flags,
    slow: def.slow,
    bind(raw: RawArgs) {
      const parsed = def.schema.safeParse(raw);
      if (!parsed.success) {
        const message = parsed.error.issues[0]?.message ?? 'invalid arguments';
        throw usageError(`${capitalise(message)}. Usage: ${def.usage}`);
      }
      const args = parsed.data;
      return (ctx) => def.run(args, ctx);
    },
  };
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** A command as the user types it here: "/spreadserve launch", "spreadserve launch", or "launch". */
export const typed = (prefix: string, text: string): string => [prefix, text].filter(Boolean).join(' ');
