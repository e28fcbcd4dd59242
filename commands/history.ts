import { z } from 'zod';
import { defineCommand } from './define.ts';
import { instanceName, positional } from './parse.ts';
import type { HistoryEntry } from './reply.ts';

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
    const trail = ctx.services.store.read().audit;
    const entries: HistoryEntry[] = [];
    let total = 0;
    for (let k = trail.length - 1; k >= 0; k--) {
      const e = trail[k]!;
      if (name !== undefined && e.instance !== name) continue;
      total++;
      if (entries.length < HISTORY_SHOWN) entries.push({ ...e });
    }
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
