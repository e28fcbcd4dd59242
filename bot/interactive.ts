// Buttons and App Home. A button runs the same command a user could type (Stop -> `stop <name>`,
// Keep 1h -> `extend <name> 1h`), with the same checks; App Home shows the user's instances and
// the pool, and is published again after a button pressed there. Launch again (in the DM after a
// reclaim) runs `launch <template> --name <name>`.
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { errorReply, prepare, runPrepared } from '../commands/index.ts';
import type { InstanceView, Reply } from '../commands/reply.ts';
import { type Actor, requireOwnerOrAdmin } from '../core/policy.ts';
import type { Clock } from '../lib/clock.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { buttonIds } from './blocks.ts';
import type { RecentIds } from './dedupe.ts';
import { renderHomeView } from './home.ts';
import { launchAgainId, parseLaunchAgain } from './reclaim-messages.ts';
import type { CommandRunner } from './runner.ts';

export interface InteractiveDeps {
  runner: CommandRunner;
  recent: RecentIds;
  clock: Clock;
  log: Logger;
}

/** What a button runs: the same commands a user could type. */
function buttonCommand(actionId: string, instance: string): string[] {
  switch (actionId) {
    case buttonIds.stop:
      return ['stop', instance];
    case buttonIds.keep_1h:
      return ['extend', instance, '1h'];
    case buttonIds.keep_8h:
      return ['extend', instance, '8h'];
    default:
      return ['extend', instance];
  }
}

/**
 * What a button runs, read from the clicked action (throwing on a value this bot never made), then
 * given the clicker: the words of the command a user could type.
 */
type ButtonCommand = (action: ButtonAction) => (actor: Actor) => string[];

/** What the launch modal's listeners (bot/launch-listeners.ts) reuse: publishing a user's App Home. */
export interface InteractiveHome {
  publishHome(client: WebClient, userId: string, notice?: Reply): Promise<void>;
}

export function registerInteractive(
  app: App,
  { runner, recent, clock, log }: InteractiveDeps,
): InteractiveHome {
  async function publishHome(client: WebClient, userId: string, notice?: Reply): Promise<void> {
    try {
      const ctx = runner.context(await runner.actorOf(userId));
      // Not counted as commands in /metrics: nobody typed them. Asked together: each shares the
      // engine call of any concurrent `list` or `status` (lib/single-flight.ts).
      const [list, status] = await Promise.all([
        runPrepared(prepare(['list', 'mine']), ctx),
        runPrepared(prepare(['status']), ctx),
      ]);
      const instances: InstanceView[] = list.kind === 'instances' ? list.instances : [];
      if (status.kind !== 'status') throw new Error(status.summary);
      const view = renderHomeView({ userId, instances, status: status.status, now: clock.now(), notice });
      await client.views.publish({ user_id: userId, view });
    } catch (err) {
      log.error({ user: userId, err: describeError(err) }, 'could not publish App Home');
    }
  }

  /**
   * Listens to clicks of `actionId`: acked at once, each click run once (Slack retries), the
   * command `commandFor` gives run as the clicker with the same checks as typed. The answer goes to
   * the response_url; App Home is published again when clicked there, or when there is no
   * response_url to answer at.
   */
  function onClick(actionId: string | RegExp, commandFor: ButtonCommand): void {
    app.action<BlockAction<ButtonAction>>(
      { type: 'block_actions', action_id: actionId },
      async ({ action, ack, body, respond, client }) => {
        await ack();
        if (!recent.firstTime(`${body.trigger_id}:${action.action_id}`)) return;
        const where = { action: action.action_id, user: body.user.id };
        let reply: Reply;
        try {
          const command = commandFor(action);
          // A group Slack cannot list counts as empty (bot/groups.ts); any other failure to find
          // the role is ours, not a refusal: answered with a ref, as on the slash path.
          const actor = await runner.actorOf(body.user.id);
          reply = await runner.run(prepare(command(actor)), actor);
        } catch (err) {
          reply = errorReply(err, log, where);
        }
        if (body.response_url) await runner.respond(respond, reply, where);
        if (body.view?.type === 'home' || !body.response_url) await publishHome(client, body.user.id, reply);
      },
    );
  }

  // Two Stop clicks at once stop it once: Instances.stop runs one stop of an instance at a time.
  onClick(
    new RegExp(`^(${Object.values(buttonIds).join('|')})$`),
    (action) => () => buttonCommand(action.action_id, action.value ?? ''),
  );

  // Launch again, in the DM after a reclaim: `launch <template> --name <name>` as the clicker, who
  // must be the owner it was reclaimed from or an admin; the launch's own checks and quota apply.
  // A forged value is refused before the clicker's role is looked up.
  onClick(launchAgainId, (action) => {
    const target = parseLaunchAgain(action.value);
    return (actor) => {
      requireOwnerOrAdmin(actor, target.owner, target.name, 'launch again');
      return ['launch', target.template, '--name', target.name];
    };
  });

  app.event('app_home_opened', async ({ event, client }) => {
    if (event.tab !== 'home') return;
    await publishHome(client, event.user);
  });
  return { publishHome };
}
