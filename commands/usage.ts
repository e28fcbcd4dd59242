import { z } from 'zod';
import { USAGE_MAX_DAYS } from '../core/usage.ts';
import { figuresText, type UsageFilter } from '../core/usage-report.ts';
import { UserError, usageError } from '../lib/errors.ts';
import { defineCommand } from './define.ts';
import { positional, shown, templateName } from './parse.ts';

const usage = 'usage [--days N] [mine|all|<template>]';
export const DEFAULT_USAGE_DAYS = 7;

const dayCount = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return DEFAULT_USAGE_DAYS;
    const n = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
    if (!(n >= 1 && n <= USAGE_MAX_DAYS)) {
      ctx.addIssue({
        code: 'custom',
        message: `--days takes a whole number of days from 1 to ${USAGE_MAX_DAYS}, got "${shown(text, 20)}"`,
      });
      return z.NEVER;
    }
    return n;
  });

export const usageCommand = defineCommand({
  name: 'usage',
  usage,
  summary: `Instance-hours, launches, reclaims and idle hours reclaimed over the last N days (default ${DEFAULT_USAGE_DAYS}): yours, everyone's (admins), or one template's.`,
  who: 'anyone',
  flags: { days: 'value' },
  schema: z
    .object({
      positional: positional(1, usage).pipe(z.array(templateName)),
      flags: z.object({ days: dayCount }),
    })
    .transform((a) => ({ scope: a.positional[0] ?? 'mine', days: a.flags.days })),
  async run(args, ctx) {
    const { actor, services } = ctx;
    const admin = actor.role === 'admin';
    const filter: UsageFilter = {};
    let of: string;
    if (args.scope === 'mine') {
      filter.user = actor.id;
      of = 'your';
    } else if (args.scope === 'all') {
      if (!admin) {
        throw new UserError('forbidden', 'Only admins see everyone’s usage; `usage` shows yours.');
      }
      of = 'everyone’s';
    } else {
      if (!services.usage.knows(args.scope)) {
        throw usageError(
          `There is no template "${shown(args.scope)}"; \`templates\` lists them, or use "mine" or "all".`,
        );
      }
      filter.template = args.scope;
      // Admins see everyone's use of a template, anyone else their own.
      if (!admin) filter.user = actor.id;
      of = admin ? `${args.scope}’s` : `your ${args.scope}`;
    }
    const report = services.usage.report(services.clock.now(), args.days, filter);
    const t = report.total;
    const span = `the last ${args.days} day${args.days === 1 ? '' : 's'}`;
    return {
      kind: 'usage',
      ok: true,
      visibility: 'ephemeral',
      scope: args.scope,
      report,
      summary:
        t.hours === 0 && t.launches === 0
          ? `No ${of === 'your' ? 'use of yours' : `${of} use`} in ${span}.`
          : `Usage (${of === 'your' ? 'yours' : of}) over ${span}: ${figuresText(t)}.`,
    };
  },
});
