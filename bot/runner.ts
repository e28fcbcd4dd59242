// How the Slack front end runs a command, whatever brought it (a slash command, a button): as
// whom, with what context, counted in /metrics, one log line per command, and how the reply
// goes back through a response_url.
import type { RespondFn } from '@slack/bolt';
import { type PreparedCommand, runPrepared } from '../commands/index.ts';
import type { Reply } from '../commands/reply.ts';
import type { CommandContext } from '../commands/types.ts';
import type { Services } from '../core/context.ts';
import type { Actor } from '../core/policy.ts';
import { formatDuration } from '../lib/duration.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { GROUP_FAILURE_CACHE_MS } from './groups.ts';
import type { Metrics } from './metrics.ts';
import { renderReply } from './render.ts';

export const SLASH = '/spreadserve';

export const asMessage = (reply: Reply) => ({ response_type: reply.visibility, ...renderReply(reply) });

export class CommandRunner {
  constructor(
    private readonly services: Services,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** User groups Slack could not list just now (bot/groups.ts): they count as empty. */
    private readonly unlistedGroups: () => readonly string[] = () => [],
  ) {}

  /** Who a Slack user is to the bot: their role from SPREADSERVE_ADMINS / _USERS and groups. */
  actorOf(userId: string): Promise<Actor> {
    return this.services.policy.actor(userId);
  }

  context(actor: Actor, progress?: CommandContext['progress']): CommandContext {
    return { actor, services: this.services, prefix: SLASH, log: this.log, progress };
  }

  /** Runs a prepared command, counts it, and never throws. */
  async run(prepared: PreparedCommand, actor: Actor, progress?: CommandContext['progress']): Promise<Reply> {
    const started = performance.now();
    const { command } = prepared;
    const reply = this.withGroupNote(await runPrepared(prepared, this.context(actor, progress)));
    const outcome = reply.ok ? 'ok' : (reply.errorKind ?? 'error');
    this.metrics.commands.inc({ command: command.name, outcome });
    // One line per command, so on-call can follow who did what without Slack.
    this.log.info(
      { command: command.name, user: actor.id, outcome, ms: Math.round(performance.now() - started) },
      reply.summary,
    );
    if (reply.ok && command.counter) this.metrics.counters[command.counter].inc();
    return reply;
  }

  /** A refusal while a user group could not be looked up says so: the role may be missing only for now. */
  private withGroupNote(reply: Reply): Reply {
    const groups = reply.errorKind === 'forbidden' ? this.unlistedGroups() : [];
    if (groups.length === 0) return reply;
    const which =
      groups.length === 1 ? `the user group ${groups[0]}` : `the user groups ${groups.join(', ')}`;
    const note = `Slack did not list ${which} just now, so its members count as none for ${formatDuration(GROUP_FAILURE_CACHE_MS)}; try again then.`;
    return { ...reply, summary: `${reply.summary} ${note}` };
  }

  /** Answers through a response_url; a failure there is logged, never thrown. */
  async respond(respond: RespondFn, reply: Reply, where: Record<string, unknown>): Promise<void> {
    try {
      await respond({ ...asMessage(reply), replace_original: false });
    } catch (err) {
      this.log.error({ ...where, err: describeError(err) }, 'could not answer through response_url');
    }
  }
}
