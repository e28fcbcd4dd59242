// One instance in Slack: its state, its reclaim warning, a line or a section for it, and its
// Stop / Extend buttons. Shared by the `launch`/`list` replies, App Home and the warning DM (the
// Stop confirmation).
import type { types } from '@slack/bolt';
import type { InstanceView } from '../commands/reply.ts';
import { clip, clipWithNote, elapsed, relativeTime } from '../lib/format.ts';
import {
  type BlockIds,
  buttonIds,
  escapeMrkdwn,
  type KnownBlock,
  LIMITS,
  link,
  mention,
  mrkdwn,
  plain,
  section,
  slackDate,
} from './blocks.ts';

const STATE_LABEL: Record<InstanceView['state'], string> = {
  running: '🟢 running',
  starting: '🟡 starting',
  exited: '🔴 exited',
  missing: '⚪ missing',
};

export const stateLabel = (state: InstanceView['state']): string => STATE_LABEL[state];

/** When the instance stops unless extended: a date alone, or relative to `now` when given. */
export function warningLine(w: NonNullable<InstanceView['warning']>, now: number | undefined): string {
  const when =
    now === undefined
      ? slackDate(w.deadline, '{date_short_pretty} at {time}')
      : relativeTime(now, w.deadline);
  return w.reason === 'idle'
    ? `⚠️ Looks idle: stops ${when} unless extended`
    : `⚠️ Reached its time limit: stops ${when} unless extended`;
}

/** Section (what it is) + actions (Stop, Extend) for one instance in a list or App Home. */
export function instanceWithButtons(i: InstanceView, now: number, ids: BlockIds): KnownBlock[] {
  const lines = [
    `*${escapeMrkdwn(i.name)}* · ${stateLabel(i.state)} · \`${escapeMrkdwn(i.template)}\` · ${mention(i.owner)}`,
    `${link(i.url)}${nodePart(i)} · up ${elapsed(now, i.createdAt)} · idle ${elapsed(now, i.lastActivityAt)}` +
      (i.expiresAt !== undefined ? ` · time limit ${relativeTime(now, i.expiresAt)}` : ''),
  ];
  if (i.warning) lines.push(warningLine(i.warning, now));
  return [section(clipWithNote(lines.join('\n'), LIMITS.sectionText)), actionsFor(i, ids)];
}

/** On Swarm, the node an instance runs on (its URL is that node's). */
export const nodePart = (i: Pick<InstanceView, 'node'>): string =>
  i.node === undefined ? '' : ` · node \`${escapeMrkdwn(i.node)}\``;

/** One line of the compact table a list becomes when it has too many instances for buttons. */
export function instanceRow(i: InstanceView, now: number): string {
  const parts = [
    `*${escapeMrkdwn(i.name)}*`,
    stateLabel(i.state),
    `\`${escapeMrkdwn(i.template)}\``,
    mention(i.owner),
    link(i.url) + nodePart(i),
    `up ${elapsed(now, i.createdAt)}`,
    `idle ${elapsed(now, i.lastActivityAt)}`,
  ];
  if (i.warning) parts.push(`⚠️ stops ${relativeTime(now, i.warning.deadline)}`);
  return parts.join(' · ');
}

/** Stop, and Extend while there is something to extend. */
export function actionsFor(i: InstanceView, ids: BlockIds): types.ActionsBlock {
  const elements: types.Button[] = [stopButton(i)];
  if (i.state === 'running' || i.state === 'starting') elements.push(extendButton(i));
  return { type: 'actions', block_id: ids.make(`instance:${i.name}`), elements };
}

function stopButton(i: InstanceView): types.Button {
  return {
    type: 'button',
    action_id: buttonIds.stop,
    text: plain('Stop', LIMITS.buttonText),
    value: clip(i.name, LIMITS.buttonValue),
    style: 'danger',
    confirm: stopConfirm(i.name, i.port),
  };
}

/** The dialog before a Stop button stops anything: the instance list's and the warning DM's. */
export function stopConfirm(instance: string, port: number): types.ConfirmationDialog {
  return {
    title: plain(`Stop ${instance}?`, LIMITS.confirmTitle),
    text: mrkdwn(
      `This stops and removes *${escapeMrkdwn(instance)}* and frees port ${port}. ` +
        'Anything not saved outside the container is lost.',
      LIMITS.confirmText,
    ),
    confirm: plain('Stop it', LIMITS.confirmButton),
    deny: plain('Keep it', LIMITS.confirmButton),
    style: 'danger',
  };
}

function extendButton(i: InstanceView): types.Button {
  const b: types.Button = {
    type: 'button',
    action_id: buttonIds.extend,
    text: plain('Extend', LIMITS.buttonText),
    value: clip(i.name, LIMITS.buttonValue),
  };
  // A warned instance's way out stands out.
  if (i.warning) b.style = 'primary';
  return b;
}
