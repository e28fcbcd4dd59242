// The reclaim pass's messages on Slack: a DM to the owner (conversations.open, then
// chat.postMessage with Keep 1h / Keep 8h / Stop now buttons) and one summary per pass in
// OPS_CHANNEL, and after a reclaim a DM saying what was stopped and why, with a Launch again
// button. The warning buttons' action ids are blocks.ts's buttonIds, so the bot's button listener
// runs them as `extend <name> 1h|8h` and `stop <name>`, with the same checks as typed commands.
import type { KnownBlock, WebClient } from '@slack/web-api';
import type {
  Handoff,
  Notifier,
  NotifyResult,
  ReclaimedNotice,
  ReclaimReport,
  ReclaimWarning,
} from '../core/notifier.ts';
import type { LostInstance } from '../core/reconcile.ts';
import type { UsageReport } from '../core/usage-report.ts';
import type { Logger } from '../lib/log.ts';
import { isSlackUserId } from '../lib/slack-ids.ts';
import { escapeMrkdwn, link, mention } from './blocks.ts';
import { renderOpsSummary, renderReclaimedDM, renderWarningDM } from './reclaim-messages.ts';
import { renderUsageDigest } from './usage-blocks.ts';

export interface SlackNotifierOptions {
  /** Channel id for pass summaries; none: summaries are only logged. */
  opsChannel?: string;
  log: Logger;
}

export class SlackNotifier implements Notifier {
  constructor(
    private readonly client: WebClient,
    private readonly options: SlackNotifierOptions,
  ) {}

  /** A DM to `user`; an owner like `cli:bob` (launched from a terminal) has none. */
  private async dm(
    user: string,
    message: { text: string; blocks?: KnownBlock[] },
    who = user,
  ): Promise<NotifyResult> {
    if (!isSlackUserId(user)) return { delivered: false, detail: `${who} is not a Slack user: no DM` };
    const opened = await this.client.conversations.open({ users: user });
    const channel = opened.channel?.id;
    if (!channel) throw new Error(`conversations.open gave no channel for ${user}`);
    await this.client.chat.postMessage({ channel, ...message });
    return { delivered: true, detail: `DM ${channel}` };
  }

  warnOwner(warning: ReclaimWarning): Promise<NotifyResult> {
    return this.dm(warning.owner, renderWarningDM(warning), `owner ${warning.owner}`);
  }

  /** A DM to each owner of an instance given away (`give`); a `cli:` owner has none. */
  async instanceGiven(handoff: Handoff): Promise<NotifyResult[]> {
    const { instance, from, to, by, url } = handoff;
    const byWhom = by === from ? '' : ` (by ${mention(by)})`;
    const lines: [string, string][] = [
      [from, `You gave *${instance}* to ${mention(to)}${byWhom}; it is theirs to use, extend and stop now.`],
      [
        to,
        `${mention(from)} gave you *${instance}*${byWhom}: ${link(url)}. It is yours to use, extend and stop now.`,
      ],
    ];
    const told: NotifyResult[] = [];
    for (const [user, text] of lines) told.push(await this.dm(user, { text }));
    return told;
  }

  /** After a reclaim: what was stopped, why, and a Launch again button (bot/interactive.ts). */
  tellReclaimed(notice: ReclaimedNotice): Promise<NotifyResult> {
    return this.dm(notice.owner, renderReclaimedDM(notice), `owner ${notice.owner}`);
  }

  /** A running instance found gone (on Swarm: its node lost): what happened and how to launch it again. */
  tellLost(lost: LostInstance): Promise<NotifyResult> {
    const on = lost.node === undefined ? '' : ` on node \`${escapeMrkdwn(lost.node)}\``;
    const text =
      `Your instance *${escapeMrkdwn(lost.instance)}*${on} is gone: ${escapeMrkdwn(lost.why)}. ` +
      `Its record is closed and its port is free again; launch it again with ` +
      `\`/spreadserve launch ${escapeMrkdwn(lost.template)} --name ${escapeMrkdwn(lost.instance)}\`.`;
    return this.dm(lost.owner, { text }, `owner ${lost.owner}`);
  }

  async opsSummary(report: ReclaimReport): Promise<void> {
    const { opsChannel, log } = this.options;
    if (!opsChannel) {
      log.info({ summary: report.summary }, 'reclaim summary (OPS_CHANNEL is not set)');
      return;
    }
    const message = renderOpsSummary(report);
    await this.client.chat.postMessage({ channel: opsChannel, text: message.text, blocks: message.blocks });
  }

  /** The weekly usage digest (USAGE_CRON) in OPS_CHANNEL (bot/usage-blocks.ts). */
  async usageDigest(report: UsageReport): Promise<void> {
    const { opsChannel, log } = this.options;
    if (!opsChannel) {
      log.info({ total: report.total }, 'usage digest (OPS_CHANNEL is not set)');
      return;
    }
    const message = renderUsageDigest(report);
    await this.client.chat.postMessage({ channel: opsChannel, text: message.text, blocks: message.blocks });
  }
}
