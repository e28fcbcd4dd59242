// The launch modal's listeners: the App Home's Launch button and the global shortcut open it
// (views.open with the trigger_id, at once: no Docker call first), and its submission runs the
// same `launch` command the slash command and Launch again run, as the submitter, with the same
// checks. A bad input is answered in the modal (response_action errors); the launch's result
// arrives in a DM and in the App Home, published again.
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { errorReply, prepare } from '../commands/index.ts';
import type { Reply } from '../commands/reply.ts';
import type { Services } from '../core/context.ts';
import { policyFor } from '../core/templates.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { RecentIds } from './dedupe.ts';
import {
  type LaunchOrigin,
  launchModalIds,
  type ModalTemplate,
  readSubmission,
  renderLaunchModal,
} from './launch-modal.ts';
import { renderReply } from './render.ts';
import type { CommandRunner } from './runner.ts';

export interface LaunchModalDeps {
  runner: CommandRunner;
  services: Pick<Services, 'templates' | 'config'>;
  recent: RecentIds;
  log: Logger;
  /** Publishes the user's App Home again, with the launch's line first. */
  publishHome(client: WebClient, userId: string, notice?: Reply): Promise<void>;
}

export function registerLaunchModal(app: App, deps: LaunchModalDeps): void {
  const { runner, services, recent, log } = deps;

  /** Every template, in the file's order, with its effective policy: from memory, no Docker call. */
  const modalTemplates = (): ModalTemplate[] =>
    [...services.templates.values()].map((t) => {
      const p = policyFor(services.templates, t.name, services.config);
      return {
        name: t.name,
        description: t.description,
        platform: t.platform,
        policy: {
          idleTimeoutMs: p.idleTimeoutMs,
          idleWarningMs: p.idleWarningMs,
          bytesFloor: p.idleBytesFloor,
          ...(p.maxLifetimeMs !== undefined ? { maxLifetimeMs: p.maxLifetimeMs } : {}),
          maxPerUser: p.maxPerUser,
          own: [...p.own],
        },
      };
    });

  async function open(client: WebClient, triggerId: string, user: string, from: LaunchOrigin) {
    try {
      await client.views.open({ trigger_id: triggerId, view: renderLaunchModal(modalTemplates(), from) });
    } catch (err) {
      log.error({ user, err: describeError(err) }, 'could not open the launch modal');
    }
  }

  app.action<BlockAction<ButtonAction>>(
    { type: 'block_actions', action_id: launchModalIds.homeButton },
    async ({ ack, body, client }) => {
      await ack();
      if (!recent.firstTime(`${body.trigger_id}:${launchModalIds.homeButton}`)) return;
      await open(client, body.trigger_id, body.user.id, 'home');
    },
  );

  app.shortcut(
    { type: 'shortcut', callback_id: launchModalIds.shortcut },
    async ({ ack, shortcut, client }) => {
      await ack();
      if (!recent.firstTime(`${shortcut.trigger_id}:${launchModalIds.shortcut}`)) return;
      await open(client, shortcut.trigger_id, shortcut.user.id, 'shortcut');
    },
  );

  app.view(launchModalIds.view, async ({ ack, body, view, client }) => {
    const user = body.user.id;
    const submission = readSubmission(view, (name) => services.templates.has(name));
    if (!submission.ok) {
      await ack({ response_action: 'errors', errors: submission.errors });
      return;
    }
    // Acked at once: the launch waits for the health path, far past Slack's 3 s.
    await ack();
    const where = { action: launchModalIds.view, user };
    let reply: Reply;
    try {
      reply = await runner.run(prepare(submission.words), await runner.actorOf(user));
    } catch (err) {
      reply = errorReply(err, log, where);
    }
    await directMessage(client, user, reply, log);
    await deps.publishHome(client, user, reply);
  });
}

/** The launch's reply in a DM to the user (conversations.open, then chat.postMessage). */
async function directMessage(client: WebClient, user: string, reply: Reply, log: Logger): Promise<void> {
  try {
    const opened = await client.conversations.open({ users: user });
    const channel = opened.channel?.id;
    if (!channel) throw new Error(`conversations.open gave no channel for ${user}`);
    const message = renderReply(reply);
    await client.chat.postMessage({ channel, text: message.text, blocks: message.blocks });
  } catch (err) {
    log.error({ user, err: describeError(err) }, 'could not send the launch result by DM');
  }
}
