// Reclaim in Slack: the DM an owner gets before their instance is stopped, the ops channel's
// summary of each pass, and the lines both that summary and the `reclaim` reply list. The owner
// reads the whole reason (evidenceSentence); the ops channel a few words an instance
// (evidenceShort), since it reads many.
import type { types } from '@slack/bolt';
import { z } from 'zod';
import { failureShownWithAction } from '../commands/reply.ts';
import type {
  ReclaimAction,
  ReclaimEvidence,
  ReclaimedNotice,
  ReclaimReport,
  ReclaimWarning,
} from '../core/notifier.ts';
import { UserError } from '../lib/errors.ts';
import { clip, clipWithNote, elapsed, formatBytes, formatUtc, oneLine, relativeTime } from '../lib/format.ts';
import { NAME_RE } from '../lib/names.ts';
import { SLACK_USER_ID } from '../lib/slack-ids.ts';
import {
  andMore,
  buttonIds,
  capBlocks,
  codeList,
  context,
  escapeMrkdwn,
  type KnownBlock,
  LIMITS,
  link,
  mention,
  packLines,
  plain,
  type RenderedMessage,
  section,
  slackDate,
} from './blocks.ts';
import { stopConfirm } from './instance-blocks.ts';

const MAX_FAILURE_TEXT = 400;
const MAX_NOT_TOLD_TEXT = 200;
const MAX_ACTION_ERROR_TEXT = 300;

/** The DM an owner gets before their instance is reclaimed: why, when, and Keep / Stop buttons. */
export function renderWarningDM(w: ReclaimWarning): RenderedMessage {
  const name = escapeMrkdwn(w.instance);
  const when = slackDate(w.deadline, '{date_short_pretty} at {time}');
  const what = w.reason === 'idle' ? 'looks idle' : 'reached its time limit';
  const lines = [
    `⚠️ Your SpreadServe instance *${name}* ${what}: it will be stopped ${when} unless you keep it.`,
    `*Why:* ${evidenceSentence(w.evidence, w.warnedAt)}`,
    // Which settings judged it: the template's own or the global defaults.
    ...(w.evidence.policy ? [`*Policy:* ${escapeMrkdwn(w.evidence.policy)}`] : []),
    `${link(w.url)} · template \`${escapeMrkdwn(w.template)}\` · port ${w.port}`,
  ];
  const fallback = `⚠️ ${w.instance} ${what} and will be stopped at ${formatUtc(w.deadline, 'minute')} unless you keep it.`;
  const blocks: KnownBlock[] = [
    section(clipWithNote(lines.join('\n'), LIMITS.sectionText)),
    keepButtons(w),
    context('Keep marks it in use now and postpones its reclaim; Stop now removes it and frees its port.'),
  ];
  return { text: clipWithNote(escapeMrkdwn(fallback), LIMITS.messageText), blocks };
}

/** The DM an owner gets after their instance was reclaimed: what, why, for how long it ran, and a
 * Launch again button (the same template and name; bot/interactive.ts runs it as a launch). */
export function renderReclaimedDM(n: ReclaimedNotice): RenderedMessage {
  const name = escapeMrkdwn(n.instance);
  const what = n.reason === 'idle' ? 'it looked idle' : 'it reached its time limit';
  const when = slackDate(n.reclaimedAt, '{date_short_pretty} at {time}');
  const lines = [
    `♻️ Your SpreadServe instance *${name}* was stopped ${when}: ${what}, and nobody kept it after the warning.`,
    `*Why:* ${evidenceSentence(n.evidence, n.reclaimedAt)}`,
    `*Lifetime:* it ran for ${elapsed(n.reclaimedAt, n.evidence.createdAt)} ` +
      `(launched ${slackDate(n.evidence.createdAt, '{date_short_pretty} at {time}')}).`,
    `template \`${escapeMrkdwn(n.template)}\` · port ${n.port} is free again`,
  ];
  const fallback = `♻️ ${n.instance} was stopped at ${formatUtc(n.reclaimedAt, 'minute')} (${n.reason === 'idle' ? 'idle' : 'time limit'}); you can launch it again from this message.`;
  const blocks: KnownBlock[] = [
    section(clipWithNote(lines.join('\n'), LIMITS.sectionText)),
    {
      type: 'actions',
      block_id: clip(`reclaimed:${n.instance}`, LIMITS.blockId),
      elements: [
        {
          type: 'button',
          action_id: launchAgainId,
          text: plain('Launch again', LIMITS.buttonText),
          value: launchAgainValue({ template: n.template, name: n.instance, owner: n.owner }),
          style: 'primary',
        },
      ],
    },
    context(
      'Launch again starts a new instance from the same template, under the same name; ' +
        'what was saved only inside the old one is gone.',
    ),
  ];
  return { text: clipWithNote(escapeMrkdwn(fallback), LIMITS.messageText), blocks };
}

/** The Launch again button's action id; its value names the template, the instance and its owner. */
export const launchAgainId = 'launch_again';

const launchAgainSchema = z.strictObject({
  template: z.string().regex(NAME_RE),
  name: z.string().regex(NAME_RE),
  owner: z.string().max(64).regex(SLACK_USER_ID),
});
export type LaunchAgain = z.infer<typeof launchAgainSchema>;

export const launchAgainValue = (target: LaunchAgain): string => JSON.stringify(target);

/** A Launch again button's value, checked: anything else is refused in a sentence. */
export function parseLaunchAgain(value: string | undefined): LaunchAgain {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value ?? '');
  } catch {
    parsed = undefined;
  }
  const target = launchAgainSchema.safeParse(parsed);
  if (!target.success) {
    throw new UserError('usage', 'That Launch again button is not one this bot made: nothing was launched.');
  }
  return target.data;
}

/** One message per pass for OPS_CHANNEL: the summary, then each instance with owner, reason, evidence. */
export function renderOpsSummary(r: ReclaimReport): RenderedMessage {
  const icon = r.status === 'failed' || r.failures.length > 0 ? '⚠️' : r.recovered ? '✅' : '♻️';
  const title = r.dryRun ? 'Reclaim (dry run)' : 'Reclaim';
  const head = `${icon} *${title}:* ${escapeMrkdwn(oneLine(r.summary))}`;
  const budget = LIMITS.messageBlocks - 1;
  return {
    text: clipWithNote(`${icon} ${title}: ${escapeMrkdwn(oneLine(r.summary))}`, LIMITS.messageText),
    blocks: capBlocks(
      [section(clipWithNote(head, LIMITS.sectionText)), ...reclaimReportBlocks(r, budget)],
      LIMITS.messageBlocks,
      'blocks',
    ),
  };
}

/** What a pass did, reclaims first, then what it tidied up and what failed: within `budget` blocks. */
export function reclaimReportBlocks(r: ReclaimReport, budget: number): KnownBlock[] {
  const order = (a: ReclaimAction) => (a.kind === 'reclaim' ? 0 : 1);
  const lines = [...r.actions].sort((a, b) => order(a) - order(b)).map((a) => actionLine(a, r.startedAt));
  const gone = [...r.cleaned.closed, ...r.cleaned.exited];
  if (gone.length > 0) {
    lines.push(`• closed ${gone.length} whose container was gone or had exited: ${codeList(gone)}`);
  }
  if (r.cleaned.adopted.length > 0) {
    lines.push(
      `• adopted ${r.cleaned.adopted.length} found running in Docker: ${codeList(r.cleaned.adopted)}`,
    );
  }
  for (const f of r.failures) {
    if (failureShownWithAction(r, f.instance)) continue;
    const what = f.instance ? ` \`${escapeMrkdwn(f.instance)}\`` : '';
    lines.push(`• ❌${what} ${escapeMrkdwn(clip(oneLine(f.error), MAX_FAILURE_TEXT))}`);
  }
  if (lines.length === 0) return [];
  return packLines(lines, budget, (n) => andMore(n, 'lines'));
}

const ACTION_WORDS: Record<ReclaimAction['kind'], { done: string; would: string }> = {
  warn: { done: 'warned', would: 'would warn' },
  reclaim: { done: 'reclaimed', would: 'would reclaim' },
};

function actionLine(a: ReclaimAction, now: number): string {
  const words = ACTION_WORDS[a.kind];
  const verb =
    a.outcome === 'dry-run'
      ? words.would
      : a.outcome === 'failed'
        ? `could not ${a.kind === 'warn' ? 'warn' : 'reclaim'}`
        : a.outcome === 'withdrawn'
          ? `kept (${a.kind === 'reclaim' ? 'extended just before the stop' : 'withdrawn'})`
          : words.done;
  const reason = a.reason === 'idle' ? 'idle' : 'time limit';
  const parts = [
    `• *${verb}* \`${escapeMrkdwn(a.instance)}\` (${mention(a.owner)}, ${reason}): ${evidenceShort(a.evidence, now)}`,
  ];
  if (a.kind === 'warn' && a.deadline !== undefined && a.outcome !== 'failed') {
    parts.push(`stops ${slackDate(a.deadline, '{time}')} unless kept`);
  }
  if (a.notified && !a.notified.delivered) {
    const why = oneLine(a.notified.detail ?? 'no reason given');
    parts.push(`owner not told: ${escapeMrkdwn(clip(why, MAX_NOT_TOLD_TEXT))}`);
  }
  if (a.error) parts.push(`❌ ${escapeMrkdwn(clip(oneLine(a.error), MAX_ACTION_ERROR_TEXT))}`);
  return clipWithNote(parts.join(' · '), LIMITS.sectionText);
}

/** The full reason, for the owner. */
function evidenceSentence(e: ReclaimEvidence, now: number): string {
  if (e.reason === 'ttl') {
    return (
      `its time limit ran out ${slackDate(e.expiresAt ?? now, '{date_short_pretty} at {time}')} ` +
      `(launched ${slackDate(e.createdAt, '{date_short_pretty} at {time}')}); traffic does not extend it.`
    );
  }
  return (
    `no use since ${slackDate(e.lastActivityAt, '{date_short_pretty} at {time}')} (${relativeTime(now, e.lastActivityAt)}). ` +
    `Since then it sent ${formatBytes(e.txSinceActivity, 'binary')} and received ${formatBytes(e.rxSinceActivity, 'binary')}; ` +
    `in use means sending more than ${formatBytes(e.floorBytes, 'binary')} between two checks, ` +
    "so an open browser tab's keep-alive does not count."
  );
}

/** The reason in a few words, for the ops channel. */
function evidenceShort(e: ReclaimEvidence, now: number): string {
  if (e.reason === 'ttl') return `time limit ran out ${relativeTime(now, e.expiresAt ?? now)}`;
  return (
    `no use for ${elapsed(now, e.lastActivityAt)}, sent ${formatBytes(e.txSinceActivity, 'binary')} ` +
    `(floor ${formatBytes(e.floorBytes, 'binary')}/check), received ${formatBytes(e.rxSinceActivity, 'binary')}`
  );
}

function keepButtons(w: ReclaimWarning): types.ActionsBlock {
  const value = clip(w.instance, LIMITS.buttonValue);
  return {
    type: 'actions',
    block_id: clip(`reclaim:${w.instance}`, LIMITS.blockId),
    elements: [
      {
        type: 'button',
        action_id: buttonIds.keep_1h,
        text: plain('Keep 1h', LIMITS.buttonText),
        value,
        style: 'primary',
      },
      { type: 'button', action_id: buttonIds.keep_8h, text: plain('Keep 8h', LIMITS.buttonText), value },
      {
        type: 'button',
        action_id: buttonIds.stop,
        text: plain('Stop now', LIMITS.buttonText),
        value,
        style: 'danger',
        confirm: stopConfirm(w.instance, w.port),
      },
    ],
  };
}
