import { z } from 'zod';
import { defineCommand } from './define.ts';
import { instanceName, positional } from './parse.ts';

const usage = 'history [name]';
/** Entries shown, newest first: the audit trail keeps 10,000. */
export const HISTORY_SHOWN = 50;

export const history = defineCommand({
  name: 'history',
  usage,
  summary: `Show the audit trail, newest first (the last ${HISTORY_SHOWN}): everyone's, or one instance's.`,
  who: 'anyone',
  flags: {},
  schema: z
    .object({
      positional: positional(1, usage).pipe(z.array(instanceName)),
      flags: z.object({}),
    })
    .transform((a) => a.positional[0] as string | undefined),
  async run(name, ctx) {
    const { entries, total } = ctx.services.history.newest(HISTORY_SHOWN, name);
    const of = name === undefined ? '' : ` of ${name}`;
    return {
      kind: 'history',
      ok: true,
      visibility: 'ephemeral',
      now: ctx.services.clock.now(),
      instance: name,
      total,
      entries,
      summary:
        total === 0
          ? `The audit trail holds nothing${of} yet.`
          : total > entries.length
            ? `The newest ${entries.length} of ${total} audit entries${of}:`
            : `${total} audit entr${total === 1 ? 'y' : 'ies'}${of}, newest first:`,
    };
  },
});
