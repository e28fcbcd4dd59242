import { z } from 'zod';
import { usageError } from '../lib/errors.ts';
import { isSlackUserId } from '../lib/slack-ids.ts';
import { defineCommand } from './define.ts';
import { instanceName, shown } from './parse.ts';
import { instanceView } from './views.ts';

const usage = 'give <name> <@user>';

/** `<@U123>` or `<@U123|name>` (a Slack mention), a bare `U123`, or `cli:bob` (a terminal user). */
const MENTION = /^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$/;
const CLI_USER = /^cli:[a-z_][a-z0-9._-]{0,31}$/i;

const receiver = z.string().transform((text, ctx) => {
  const id = MENTION.exec(text)?.[1] ?? text;
  if (isSlackUserId(id) || CLI_USER.test(id)) return id;
  ctx.addIssue({
    code: 'custom',
    message: `"${shown(text)}" is not a user: mention them (@name, so Slack sends their id) or type their user id (U…)`,
  });
  return z.NEVER;
});

export const give = defineCommand({
  name: 'give',
  usage,
  summary: 'Hand an instance to another user, who then owns it (its owner or an admin); both are told.',
  who: 'owner or admin',
  flags: {},
  schema: z
    .object({
      positional: z.tuple([instanceName, receiver], {
        error: `give takes an instance name and the user to give it to; usage: ${usage}`,
      }),
      flags: z.object({}),
    })
    .transform((a) => ({ name: a.positional[0], to: a.positional[1] })),
  async run(args, ctx) {
    const { actor, services } = ctx;
    if (args.to === actor.id)
      throw usageError(`You cannot give ${args.name} to yourself; name someone else.`);
    // A terminal user owns as an admin (no quota): only the terminal may hand instances to one.
    if (args.to.startsWith('cli:') && !actor.id.startsWith('cli:')) {
      throw usageError(`${args.to} is a terminal user; give ${args.name} to a Slack user (@name).`);
    }
    const to = await services.policy.actor(args.to);
    const { handoff, told } = await services.instances.give(actor, args.name, to);
    const missed = told.filter((t) => !t.delivered).map((t) => t.detail ?? 'not delivered');
    const record = services.instances.get(args.name);
    return {
      kind: 'instance',
      ok: true,
      visibility: 'ephemeral',
      summary: `${args.name} now belongs to ${handoff.to} (was ${handoff.from}).`,
      details: missed.length ? [`Not everyone was told: ${missed.join('; ')}.`] : undefined,
      instance: instanceView(services, record),
    };
  },
});
