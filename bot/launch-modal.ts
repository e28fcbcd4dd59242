// The launch modal (App Home's Launch button, the global shortcut): a template picker (each
// option with its description, platform and effective policy), an optional name and an optional
// lifetime; and the submission read back, checked, as the `launch` command's words. Pure: the
// templates come from memory (no Docker call), so the modal opens within Slack's 3 s.
import type { types } from '@slack/bolt';
import { z } from 'zod';
import type { TemplatePolicyView } from '../commands/reply.ts';
import { NAME_HINT, NAME_RE } from '../core/labels.ts';
import { DURATION_HINT, formatDuration, parseDuration } from '../lib/duration.ts';
import { clip } from '../lib/format.ts';
import { isPrototypeKey } from '../lib/own.ts';
import { context, plain } from './blocks.ts';

/** Ids the listeners (bot/launch-listeners.ts), the manifest and the App Home share. */
export const launchModalIds = {
  /** The App Home's Launch button. */
  homeButton: 'open_launch_modal',
  /** The global shortcut, as manifest.yml declares it. */
  shortcut: 'spreadserve_launch',
  /** The modal's callback_id: its view_submission. */
  view: 'spreadserve_launch_modal',
  template: 'template',
  name: 'name',
  ttl: 'ttl',
} as const;

/** Slack's limits of a modal and its elements (Block Kit reference). */
export const MODAL_LIMITS = {
  title: 24,
  button: 24,
  options: 100,
  optionText: 75,
  optionDescription: 75,
  optionValue: 150,
  label: 2000,
  hint: 2000,
  placeholder: 150,
  privateMetadata: 3000,
} as const;

export interface ModalTemplate {
  name: string;
  description: string;
  platform: 'linux' | 'windows';
  policy: TemplatePolicyView;
}

/** Where the modal was opened from; carried in private_metadata and checked on submission. */
export type LaunchOrigin = 'home' | 'shortcut';

const metadataSchema = z.strictObject({ from: z.enum(['home', 'shortcut']) });

const OS_NAME = { linux: 'Linux', windows: 'Windows' } as const;

/** "Linux · idle 2h · lifetime 8h · 3 per user": what an option can say in 75 characters. */
export function compactPolicy(platform: ModalTemplate['platform'], p: TemplatePolicyView): string {
  const lifetime =
    p.maxLifetimeMs === undefined ? 'no lifetime cap' : `lifetime ${formatDuration(p.maxLifetimeMs)}`;
  const perUser = p.maxPerUser === 0 ? 'no per-user limit' : `${p.maxPerUser} per user`;
  return [OS_NAME[platform], `idle ${formatDuration(p.idleTimeoutMs)}`, lifetime, perUser].join(' · ');
}

function option(t: ModalTemplate): types.PlainTextOption {
  const text = t.description ? `${t.name}: ${t.description}` : t.name;
  return {
    text: plain(text, MODAL_LIMITS.optionText),
    description: plain(compactPolicy(t.platform, t.policy), MODAL_LIMITS.optionDescription),
    value: t.name,
  };
}

/** The modal; `templates` in the templates file's order (the first is the default, preselected). */
export function renderLaunchModal(templates: readonly ModalTemplate[], from: LaunchOrigin): types.ModalView {
  const shown = templates.slice(0, MODAL_LIMITS.options).map(option);
  const left = templates.length - shown.length;
  const first = shown[0];
  const picker: types.StaticSelect = {
    type: 'static_select',
    action_id: launchModalIds.template,
    placeholder: plain('Choose a template', MODAL_LIMITS.placeholder),
    options: shown,
    ...(first ? { initial_option: first } : {}),
  };
  const blocks: types.KnownBlock[] = [
    {
      type: 'input',
      block_id: launchModalIds.template,
      label: plain('Template', MODAL_LIMITS.label),
      element: picker,
      hint: plain(
        'Each shows its platform and reclaim policy (idle timeout, lifetime cap, per-user limit); ' +
          '/spreadserve templates shows them in full. A template of the other platform is refused.' +
          (left > 0
            ? ` ${left} more are not listed here: launch them with /spreadserve launch <template>.`
            : ''),
        MODAL_LIMITS.hint,
      ),
    },
    {
      type: 'input',
      block_id: launchModalIds.name,
      optional: true,
      label: plain('Name', MODAL_LIMITS.label),
      element: {
        type: 'plain_text_input',
        action_id: launchModalIds.name,
        max_length: 40,
        placeholder: plain('e.g. team-a (a name is made up when empty)', MODAL_LIMITS.placeholder),
      },
      hint: plain(`Optional: ${NAME_HINT}.`, MODAL_LIMITS.hint),
    },
    {
      type: 'input',
      block_id: launchModalIds.ttl,
      optional: true,
      label: plain('Lifetime', MODAL_LIMITS.label),
      element: {
        type: 'plain_text_input',
        action_id: launchModalIds.ttl,
        max_length: 7,
        placeholder: plain('e.g. 8h', MODAL_LIMITS.placeholder),
      },
      hint: plain(
        `Optional: ${DURATION_HINT}; at most the template's max lifetime. It is stopped then.`,
        MODAL_LIMITS.hint,
      ),
    },
    context('The result arrives in a direct message from the bot and in its App Home.'),
  ];
  return {
    type: 'modal',
    callback_id: launchModalIds.view,
    title: plain('Launch a server', MODAL_LIMITS.title),
    submit: plain('Launch', MODAL_LIMITS.button),
    close: plain('Cancel', MODAL_LIMITS.button),
    private_metadata: JSON.stringify({ from }),
    blocks,
  };
}

/** What a submission asks for, checked: the `launch` command's words, or the errors by block. */
export type LaunchSubmission =
  | { ok: true; words: string[] }
  | { ok: false; errors: Partial<Record<'template' | 'name' | 'ttl', string>> };

/** One input's value as Slack sends it in view.state.values. */
interface InputState {
  type?: string;
  value?: string | null;
  selected_option?: { value?: string } | null;
}

const NOT_OURS = 'That launch form is not one this bot made: nothing was launched.';

/**
 * The submission as `launch <template> [--name N] [--ttl D]`, or the one sentence for each bad
 * input. `known` says whether a template exists; a forged form (metadata, an unknown value) gets
 * one sentence on the template field.
 */
export function readSubmission(
  view: { private_metadata?: string; state?: { values?: Record<string, Record<string, InputState>> } },
  known: (template: string) => boolean,
): LaunchSubmission {
  let metadata: unknown;
  try {
    metadata = JSON.parse(view.private_metadata ?? '');
  } catch {
    metadata = undefined;
  }
  if (!metadataSchema.safeParse(metadata).success) return { ok: false, errors: { template: NOT_OURS } };
  const values = view.state?.values ?? {};
  const input = (id: keyof typeof launchModalIds): InputState | undefined =>
    Object.hasOwn(values, id) ? values[id]?.[launchModalIds[id]] : undefined;
  const template = input('template')?.selected_option?.value ?? '';
  const name = (input('name')?.value ?? '').trim();
  const ttl = (input('ttl')?.value ?? '').trim();
  const errors: Partial<Record<'template' | 'name' | 'ttl', string>> = {};
  if (!template || isPrototypeKey(template) || !known(template)) {
    errors.template = template
      ? `There is no template "${clip(template, 41)}": choose one from the list; nothing was launched.`
      : NOT_OURS;
  }
  if (name && (!NAME_RE.test(name) || isPrototypeKey(name))) {
    errors.name = `"${clip(name, 41)}" is not a valid name: ${NAME_HINT}.`;
  }
  if (ttl && parseDuration(ttl) === null) {
    errors.ttl = `"${clip(ttl, 41)}" is not a duration: use ${DURATION_HINT}.`;
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    words: ['launch', template, ...(name ? ['--name', name] : []), ...(ttl ? ['--ttl', ttl] : [])],
  };
}
