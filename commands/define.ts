import type { z } from 'zod';
import { usageError } from '../lib/errors.ts';
import type { RawArgs } from './parse.ts';
import type { BoundRun, Command, CommandDef } from './types.ts';

/** Wraps a typed command definition so the registry can hold it next to the others. */
export function defineCommand<A>(def: CommandDef<A>): Command {
  const { schema, run, ...traits } = def;
  const parse = (raw: RawArgs): A => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const message = capitalise(bestIssue(parsed.error.issues)?.message ?? 'invalid arguments');
      // Messages that already end in the usage are not given it twice.
      throw usageError(/usage: /i.test(message) ? message : `${message}. Usage: ${def.usage}`);
    }
    return parsed.data;
  };
  return {
    ...traits,
    offline: def.offline === true,
    bind(raw: RawArgs): BoundRun {
      const args = parse(raw);
      if (def.offline) return { offline: true, run: (ctx) => def.run(args, ctx) };
      return { offline: false, run: (ctx) => def.run(args, ctx) };
    },
  };
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * The most telling issue of a failed parse. A union (`list [mine|all]`, `extend <name> [DURATION]`)
 * fails as a bare "Invalid input": take the issue of the branch that got furthest into the input
 * instead, so `list foo` says what list takes and `extend ab 5x` says what a duration is.
 */
function bestIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue | undefined {
  const first = issues[0];
  if (first?.code !== 'invalid_union' || first.errors.length === 0) return first;
  let best: z.core.$ZodIssue | undefined;
  for (const branch of first.errors) {
    const issue = bestIssue(branch);
    if (issue && (best === undefined || issue.path.length > best.path.length)) best = issue;
  }
  return best ?? first;
}

/** A command as the user types it here: "/spreadserve launch", "spreadserve launch", or "launch". */
export const typed = (prefix: string, text: string): string => [prefix, text].filter(Boolean).join(' ');
