// The one /spreadserve listener. Acknowledge first, then work: an offline command (help) is
// answered in the ack itself; anything else is acked at once ("⏳ Launching demo…" for long
// work) and answered through the response_url. No Docker call happens before ack().
import type { App } from '@slack/bolt';
import { errorReply, findCommand, type PreparedCommand, prepare } from '../commands/index.ts';
import type { Reply } from '../commands/reply.ts';
import type { Logger } from '../lib/log.ts';
import { escapeMrkdwn } from './blocks.ts';
import type { RecentIds } from './dedupe.ts';
import type { Metrics } from './metrics.ts';
import { SlackProgress } from './progress.ts';
import { asMessage, type CommandRunner, SLASH } from './runner.ts';

export interface SlashDeps {
  runner: CommandRunner;
  metrics: Metrics;
  recent: RecentIds;
  log: Logger;
}

export function registerSlashCommand(app: App, { runner, metrics, recent, log }: SlashDeps): void {
  app.command(SLASH, async ({ command, ack, respond, client }) => {
    if (!recent.firstTime(command.trigger_id)) {
      await ack();
      log.info({ trigger: command.trigger_id }, 'duplicate slash command ignored');
      return;
    }
    const [typedName = '', ...words] = command.text.trim().split(/\s+/);
    let prepared: PreparedCommand;
    try {
      prepared = prepare(command.text);
    } catch (err) {
      // A known command with bad arguments counts under its name; anything else as unknown.
      metrics.commands.inc({
        command: findCommand(typedName.toLowerCase())?.name ?? 'unknown',
        outcome: 'usage',
      });
      await ack(asMessage(errorReply(err, log)));
      return;
    }
    const { command: chosen } = prepared;
    if (chosen.offline) {
      await ack(asMessage(await runner.run(prepared, { id: command.user_id, role: 'user' })));
      return;
    }
    const args = words.join(' ');
    await ack(
      chosen.working
        ? {
            response_type: 'ephemeral',
            // The user's own words echoed back: escaped, so `<!channel>` or `<url|text>` stay text.
            text: `⏳ ${chosen.working}${args ? ` ${escapeMrkdwn(args)}` : ''}…`,
          }
        : undefined,
    );
    // Long work with steps (a build) shows them in one message updated as it goes.
    const progress = chosen.stepProgress
      ? new SlackProgress({
          client,
          respond,
          channel: command.channel_id,
          user: command.user_id,
          title: `${chosen.working ?? chosen.name} ${args}`.trim(),
          command: `${SLASH} ${command.text.trim()}`,
          log,
        })
      : undefined;
    let reply: Reply;
    try {
      reply = await runner.run(prepared, await runner.actorOf(command.user_id), progress?.report);
    } catch (err) {
      // Finding the role failed (not a group lookup: those fail closed, bot/groups.ts).
      reply = errorReply(err, log, { command: chosen.name, user: command.user_id });
    }
    await progress?.finish(reply);
    await runner.respond(respond, reply, { command: chosen.name, user: command.user_id });
  });
}
