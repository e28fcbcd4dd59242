// The DM an owner gets after a reclaim (bot/reclaim-messages.ts renderReclaimedDM) against golden
// files, within Slack's limits, and its Launch again button's value: made by the DM, read back by
// the button listener, and anything else refused in a sentence.
// Update the golden files after an intended change: UPDATE_GOLDEN=1 npx vitest run test/bot/reclaim-messages.test.ts
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../bot/blocks.ts';
import {
  launchAgainId,
  launchAgainValue,
  parseLaunchAgain,
  renderReclaimedDM,
} from '../../bot/reclaim-messages.ts';
import type { ReclaimedNotice } from '../../core/notifier.ts';
import { isUserError } from '../../lib/errors.ts';
import { checkLimits, type Json, walk } from '../support/slack-limits.ts';

const GOLDEN_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const KIB = 1024;

// given: an idle instance launched 3h 10m ago, last used 2h ago, warned 15 minutes before the stop
const idle: ReclaimedNotice = {
  instance: 'demo-2',
  owner: 'UALICE01',
  template: 'demo',
  port: 8082,
  url: 'http://spreadserve.example:8082',
  reason: 'idle',
  warnedAt: NOW - 15 * MIN,
  reclaimedAt: NOW,
  evidence: {
    reason: 'idle',
    lastActivityAt: NOW - 2 * HOUR,
    txSinceActivity: 37 * KIB,
    rxSinceActivity: 12 * KIB,
    floorBytes: 64 * KIB,
    createdAt: NOW - 3 * HOUR - 10 * MIN,
    text: 'sent 37.0 KiB and received 12.0 KiB in 2h with no use (floor 64.0 KiB a check)',
  },
};

// given: one past its time limit, with the longest name there is
const ttl: ReclaimedNotice = {
  ...idle,
  instance: 'x'.repeat(40),
  template: 'finance',
  reason: 'ttl',
  evidence: { ...idle.evidence, reason: 'ttl', expiresAt: NOW - 15 * MIN, createdAt: NOW - 8 * HOUR },
};

function golden(name: string, actual: unknown): void {
  const file = path.join(GOLDEN_DIR, `${name}.json`);
  const json = `${JSON.stringify(actual, null, 2)}\n`;
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, json);
    return;
  }
  if (!existsSync(file)) {
    throw new Error(
      `missing golden file ${file}: run UPDATE_GOLDEN=1 npx vitest run test/bot/reclaim-messages.test.ts`,
    );
  }
  expect(JSON.parse(json), `${name} differs from ${file} (UPDATE_GOLDEN=1 to accept)`).toEqual(
    JSON.parse(readFileSync(file, 'utf8')),
  );
}

const buttonsOf = (blocks: unknown): Json[] =>
  [...walk(blocks)].map(([, o]) => o).filter((o) => o.type === 'button');

describe('the DM after a reclaim', () => {
  it('renders the idle one as recorded', () => golden('reclaimed-dm-idle', renderReclaimedDM(idle)));
  it('renders the time-limit one as recorded', () => golden('reclaimed-dm-ttl', renderReclaimedDM(ttl)));

  it('says what was stopped, why, with the evidence and the lifetime', () => {
    // when the idle notice is rendered
    const { text, blocks } = renderReclaimedDM(idle);
    const shown = JSON.stringify(blocks);
    // then the fallback names the instance and the reason; the blocks give bytes sent, idle since, lifetime
    expect(text).toMatch(/^♻️ demo-2 was stopped at 2026-01-01 12:00 UTC \(idle\)/);
    expect(shown).toContain('*demo-2* was stopped');
    expect(shown).toContain('it looked idle');
    expect(shown).toContain('it sent 37 KiB and received 12 KiB');
    expect(shown).toMatch(/no use since <!date\^\d+\^[^|]+\|2026-01-01 10:00 UTC> \(2h ago\)/);
    expect(shown).toContain('*Lifetime:* it ran for 3h10m');
    expect(shown).toContain('port 8082 is free again');
    // and the time-limit one says that instead
    expect(JSON.stringify(renderReclaimedDM(ttl).blocks)).toContain('it reached its time limit');
  });

  it('carries one Launch again button whose value names the template, the name and the owner', () => {
    const buttons = buttonsOf(renderReclaimedDM(idle).blocks);
    expect(buttons).toHaveLength(1);
    const [button] = buttons;
    expect(button?.action_id).toBe(launchAgainId);
    expect((button?.text as Json | undefined)?.text).toBe('Launch again');
    expect(parseLaunchAgain(button?.value as string)).toEqual({
      template: 'demo',
      name: 'demo-2',
      owner: 'UALICE01',
    });
  });

  it("stays within Slack's limits", () => {
    for (const n of [idle, ttl]) {
      const { text, blocks } = renderReclaimedDM(n);
      expect(checkLimits(blocks, LIMITS.messageBlocks)).toEqual([]);
      expect(text.length).toBeLessThanOrEqual(LIMITS.messageText);
      for (const b of buttonsOf(blocks))
        expect(String(b.value).length).toBeLessThanOrEqual(LIMITS.buttonValue);
    }
  });
});

describe('the Launch again value', () => {
  const refused = (value: string | undefined): string => {
    try {
      parseLaunchAgain(value);
    } catch (err) {
      expect(isUserError(err)).toBe(true);
      return (err as Error).message;
    }
    throw new Error(`accepted ${value}`);
  };
  const sentence = 'That Launch again button is not one this bot made: nothing was launched.';

  it('reads back what it made', () => {
    const target = { template: 'demo', name: 'my-sheet', owner: 'UBOB' };
    expect(parseLaunchAgain(launchAgainValue(target))).toEqual(target);
  });

  it('refuses anything else in one sentence, __proto__ included', () => {
    // given values no DM made: not JSON, prototype keys, names outside the name rule, flags, extra keys
    const forged = [
      undefined,
      '',
      '__proto__',
      'null',
      '[]',
      '{"__proto__":{"template":"demo"},"template":"demo","name":"a1","owner":"UALICE01"}',
      '{"template":"__proto__","name":"a1","owner":"UALICE01"}',
      '{"template":"demo","name":"__proto__","owner":"UALICE01"}',
      '{"template":"demo","name":"constructor","owner":"UALICE01","admin":true}',
      '{"template":"--ttl","name":"a1","owner":"UALICE01"}',
      '{"template":"demo","name":"a1"}',
      '{"template":"demo","name":"a1","owner":""}',
      '{"template":"demo","name":"a1","owner":"__proto__"}',
      `{"template":"demo","name":"a1","owner":"${'U'.repeat(65)}"}`,
    ];
    // then each is refused with the same sentence
    for (const value of forged) expect(refused(value), String(value)).toBe(sentence);
  });
});
