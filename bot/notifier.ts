// The reclaim pass's messages on Slack: a DM to the owner (conversations.open, then
// chat.postMessage with Keep 1h / Keep 8h / Stop now buttons) and one summary per pass in
// OPS_CHANNEL. The buttons' action ids are blocks.ts's buttonIds, so the bot's button listener
// runs them as `extend <name> 1h|8h` and `stop <name>`, with the same checks as typed commands.
import type { WebClient } from '@slack/web-api';
import type { Notifier, NotifyResult, ReclaimReport, ReclaimWarning } from '../core/notifier.ts';
import type { Logger } from '../lib/log.ts';
import { isSlackUserId } from '../lib/slack-ids.ts';
import { renderOpsSummary, renderWarningDM } from './reclaim-messages.ts';

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

  async warnOwner(warning: ReclaimWarning): Promise<NotifyResult> {
    // An owner like `cli:bob` (launched from a terminal) has no DM.
    if (!isSlackUserId(warning.owner)) {
      return { delivered: false, detail: `owner ${warning.owner} is not a Slack user: no DM` };
    }
    const opened = await this.client.conversations.open({ users: warning.owner });
    const channel = opened.channel?.id;
    if (!channel) throw new Error(`conversations.open gave no channel for ${warning.owner}`);
    const message = renderWarningDM(warning);
    await this.client.chat.postMessage({ channel, text: message.text, blocks: message.blocks });
    return { delivered: true, detail: `DM ${channel}` };
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
}
