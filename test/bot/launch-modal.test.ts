// The launch modal (bot/launch-modal.ts): its blocks against a golden file and within Slack's
// modal limits, however many templates there are; and a submission read back as the `launch`
// command's words, each bad input answered with one sentence on its own field. Pure: no Slack,
// no Docker (test/bot/launch-modal.docker.test.ts drives it through the real Bolt app).
// Update the golden file after an intended change: UPDATE_GOLDEN=1 npx vitest run test/bot/launch-modal.test.ts
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type KnownBlock, LIMITS } from '../../bot/blocks.ts';
import {
  compactPolicy,
  launchModalIds,
  MODAL_LIMITS,
  type ModalTemplate,
  readSubmission,
  renderLaunchModal,
} from '../../bot/launch-modal.ts';
import { NAME_HINT } from '../../core/labels.ts';
import { checkLimits, type Json, walk } from '../support/slack-limits.ts';

const GOLDEN = path.join(import.meta.dirname, 'golden', 'launch-modal.json');
const H = 3_600_000;

const policy = (over: Partial<ModalTemplate['policy']> = {}): ModalTemplate['policy'] => ({
  idleTimeoutMs: 2 * H,
  idleWarningMs: H / 4,
  bytesFloor: 16_384,
  maxPerUser: 10,
  own: [],
  ...over,
});

const templates: ModalTemplate[] = [
  { name: 'demo', description: 'SpreadServe demo (busybox)', platform: 'linux', policy: policy() },
  {
    name: 'gpu-big',
    description: 'A large server for the quarterly model runs, with a long description '.repeat(3),
    platform: 'linux',
    policy: policy({ idleTimeoutMs: H / 2, maxLifetimeMs: 8 * H, maxPerUser: 1, own: ['idleTimeout'] }),
  },
  { name: 'win', description: '', platform: 'windows', policy: policy({ maxPerUser: 0 }) },
];

/** The modal's limits beyond the blocks' own: title, buttons, options, metadata. */
function modalProblems(view: ReturnType<typeof renderLaunchModal>): string[] {
  const problems = checkLimits(view.blocks as KnownBlock[], LIMITS.viewBlocks);
  if ((view.title.text ?? '').length > MODAL_LIMITS.title) problems.push('title');
  if ((view.submit?.text ?? '').length > MODAL_LIMITS.button) problems.push('submit');
  if ((view.private_metadata ?? '').length > MODAL_LIMITS.privateMetadata) problems.push('metadata');
  for (const [where, o] of walk(view.blocks)) {
    if (o.type !== 'static_select') continue;
    const options = o.options as Json[];
    if (options.length > MODAL_LIMITS.options) problems.push(`${where}: ${options.length} options`);
    for (const opt of options) {
      const text = (opt.text as Json).text as string;
      const description = (opt.description as Json).text as string;
      if (text.length > MODAL_LIMITS.optionText) problems.push(`${where}: option text ${text.length}`);
      if (description.length > MODAL_LIMITS.optionDescription) problems.push(`${where}: description`);
      if ((opt.value as string).length > MODAL_LIMITS.optionValue) problems.push(`${where}: value`);
    }
  }
  return problems;
}

/** A submission's view as Slack sends it. */
const submitted = (template: string | undefined, name = '', ttl = '', metadata = '{"from":"home"}') => ({
  private_metadata: metadata,
  state: {
    values: {
      template: {
        template: {
          type: 'static_select',
          selected_option: template === undefined ? null : { value: template },
        },
      },
      name: { name: { type: 'plain_text_input', value: name || null } },
      ttl: { ttl: { type: 'plain_text_input', value: ttl || null } },
    },
  },
});
const known = (t: string) => ['demo', 'gpu-big'].includes(t);

describe('the launch modal', () => {
  it('renders as recorded, within Slack limits', () => {
    // given three templates (one Windows, one with a description past 75 characters)
    const view = renderLaunchModal(templates, 'home');
    // then it matches the golden file and keeps to every limit
    const json = `${JSON.stringify(view, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, json);
    expect(existsSync(GOLDEN), 'missing golden file: UPDATE_GOLDEN=1 to write it').toBe(true);
    expect(JSON.parse(json)).toEqual(JSON.parse(readFileSync(GOLDEN, 'utf8')));
    expect(modalProblems(view)).toEqual([]);
    expect(view.callback_id).toBe(launchModalIds.view);
    // and each option shows its platform and effective policy
    expect(compactPolicy('linux', templates[1]!.policy)).toBe('Linux · idle 30m · lifetime 8h · 1 per user');
    expect(JSON.stringify(view)).toContain('Windows · idle 2h · no lifetime cap · no per-user limit');
  });

  it('lists at most 100 templates and says how many more there are', () => {
    const many = Array.from({ length: 130 }, (_, k) => ({ ...templates[0]!, name: `t-${k}` }));
    const view = renderLaunchModal(many, 'shortcut');
    expect(modalProblems(view)).toEqual([]);
    expect(JSON.stringify(view)).toContain('30 more are not listed here');
  });
});

describe('a submission', () => {
  it('becomes the launch command with the chosen template, name and lifetime', () => {
    expect(readSubmission(submitted('gpu-big', 'team-a', '8h'), known)).toEqual({
      ok: true,
      words: ['launch', 'gpu-big', '--name', 'team-a', '--ttl', '8h'],
    });
    expect(readSubmission(submitted('demo'), known)).toEqual({ ok: true, words: ['launch', 'demo'] });
  });

  it('answers a bad name and a bad lifetime each on its field, in one sentence', () => {
    const answer = readSubmission(submitted('demo', 'Team A', '8 hours'), known);
    expect(answer).toEqual({
      ok: false,
      errors: {
        name: `"Team A" is not a valid name: ${NAME_HINT}.`,
        ttl: '"8 hours" is not a duration: use a number and a unit, like 90s, 30m, 2h or 1d.',
      },
    });
    // a reserved word is no name either
    expect(readSubmission(submitted('demo', 'constructor'), known)).toMatchObject({ ok: false });
  });

  it('refuses forged templates and forged metadata in one sentence', () => {
    for (const t of ['__proto__', 'constructor', 'no-such']) {
      const answer = readSubmission(submitted(t), known);
      expect(answer, t).toEqual({
        ok: false,
        errors: { template: `There is no template "${t}": choose one from the list; nothing was launched.` },
      });
    }
    const notOurs = {
      ok: false,
      errors: { template: 'That launch form is not one this bot made: nothing was launched.' },
    };
    for (const m of ['', 'x', '{"from":"elsewhere"}', '{"from":"home","__proto__":{"a":1}}', '[]']) {
      expect(readSubmission(submitted('demo', '', '', m), known), m).toEqual(notOurs);
    }
    expect(readSubmission(submitted(undefined), known)).toEqual(notOurs);
  });
});

describe('manifest.yml', () => {
  it('declares the global shortcut the bot listens for', () => {
    // given the manifest Slack creates the app from
    const text = readFileSync(path.join(import.meta.dirname, '../../manifest.yml'), 'utf8');
    const manifest = parse(text) as { features: { shortcuts?: { type: string; callback_id: string }[] } };
    // then it has one global shortcut, with the callback id bot/launch-listeners.ts listens for
    expect(manifest.features.shortcuts?.map((s) => [s.type, s.callback_id])).toEqual([
      ['global', launchModalIds.shortcut],
    ]);
  });
});
