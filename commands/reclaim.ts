import { z } from 'zod';
import { requireAdmin } from '../core/policy.ts';
import { defineCommand } from './define.ts';
import { positional } from './parse.ts';

const usage = 'reclaim [--dry-run]';

export const reclaim = defineCommand({
  name: 'reclaim',
  usage,
  summary:
    'Run the reclaim pass now: warn idle instances, stop those warned and still idle (or say what it would).',
  who: 'admin',
  flags: { 'dry-run': 'switch' },
  schema: z
    .object({ positional: positional(0, usage), flags: z.object({ 'dry-run': z.literal(true).optional() }) })
    .transform((a) => ({ dryRun: a.flags['dry-run'] === true })),
  async run(args, ctx) {
    requireAdmin(ctx.actor, 'run the reclaim pass');
    const { reclaimer, config } = ctx.services;
    const options = {
      trigger: 'command' as const,
      by: ctx.actor.id,
      dryRun: args.dryRun || config.reclaim.dryRun,
    };
    let report = await reclaimer.run(options);
    // The first pass of a process only takes a baseline (the CLI is always a fresh process): it
    // credited any use since the stored samples, so a second pass right after can judge.
    const baselineFirst = report.status === 'done' && report.baselineOnly;
    if (baselineFirst) report = await reclaimer.run(options);
    return {
      kind: 'reclaim',
      ok: report.status === 'done',
      visibility: 'ephemeral',
      summary: baselineFirst
        ? `${report.summary} (A baseline pass ran first: the bot had just started.)`
        : report.summary,
      ...(report.status === 'skipped' ? { errorKind: 'conflict' as const } : {}),
      report,
    };
  },
});
