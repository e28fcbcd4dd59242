// Property-based fuzzing of the edges user text crosses: the parser (`prepare`) and the Slack
// renderer (`renderReply`). A fixed seed and a bounded number of runs keep it fast and repeatable;
// a failure prints the seed and the shrunk counterexample.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../bot/blocks.ts';
import { renderReply } from '../../bot/render.ts';
import { errorReply, prepare } from '../../commands/index.ts';
import { MAX_TEXT } from '../../commands/parse.ts';
import type { HistoryEntry, InstanceView, Reply } from '../../commands/reply.ts';
import { isUserError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { checkLimits, mrkdwnTexts } from '../support/slack-limits.ts';

const SEED = 20261129;
const RUNS = 400;
const params = { seed: SEED, numRuns: RUNS };

const NOW = Date.parse('2026-01-01T12:00:00Z');
const OWNER = 'U0OWNER1';
const URL = 'http://localhost:8080';
const log = silentLogger();
const prototypeKeysBefore = Object.getOwnPropertyNames(Object.prototype).sort();

afterAll(() => {
  // Nothing a fuzzed command did wrote onto the global Object.
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeysBefore);
});

/** Words a hostile or careless user types: Slack syntax, prototype keys, flags, control characters. */
const nasty = fc.constantFrom(
  '<!channel>',
  '<!here>',
  '<!everyone>',
  '<@U0ATTACK>',
  '<#C0ATTACK>',
  '<http://evil.example|click me>',
  '<https://evil.example>',
  '<!date^1^{date}|x>',
  '<!subteam^S0ATTACK>',
  '&lt;!channel&gt;',
  '*bold*',
  '`code`',
  '```',
  '> quote',
  '\n',
  '\r\n',
  '\u0000',
  '\u001b[31m',
  '\u202e',
  '\u2014name',
  '—ttl',
  '--',
  '--name',
  '--ttl',
  '--lines',
  '--dry-run',
  '--no-cache',
  '--name=',
  '--ttl=1d',
  '--constructor',
  '--__proto__',
  '--toString',
  '--hasOwnProperty',
  '--__proto__=x',
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'prototype',
  '999999d',
  '0s',
  '-1h',
  '1e309h',
  'NaN',
  'launch',
  'stop',
  'extend',
  'logs',
  'list',
  'help',
  'build',
  'reclaim',
  'history',
  'templates',
  'status',
  'demo',
  'team-a',
  '😀',
  '👩‍👩‍👧',
  'é',
);

/** Arbitrary text: any code points, or words from `nasty`, or both, separated by spaces or not. */
const userText = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc
      .array(fc.oneof(nasty, fc.string({ unit: 'binary', maxLength: 12 })), { maxLength: 24 })
      .chain((words) => fc.constantFrom(' ', '', '\t', '\u00a0').map((sep) => words.join(sep))),
  );

/** Runs prepare and says what it threw; anything but a UserError fails the property. */
function prepared(text: string): { ok: true } | { ok: false; err: unknown } {
  try {
    prepare(text);
    return { ok: true };
  } catch (err) {
    return { ok: false, err };
  }
}

describe('prepare on arbitrary text', () => {
  it('returns a command or throws a UserError, nothing else', () => {
    fc.assert(
      fc.property(userText(200), (text) => {
        const r = prepared(text);
        if (!r.ok) {
          expect(isUserError(r.err), String(r.err)).toBe(true);
          expect((r.err as Error).message.length).toBeLessThan(600);
        }
      }),
      params,
    );
  });

  it('takes commands with arbitrary arguments the same way', () => {
    const command = fc.constantFrom('launch', 'stop', 'extend', 'logs', 'list', 'help', 'build', 'reclaim');
    fc.assert(
      fc.property(command, fc.array(fc.oneof(nasty, userText(20)), { maxLength: 8 }), (name, words) => {
        const r = prepared([name, ...words].join(' '));
        if (!r.ok) expect(isUserError(r.err), String(r.err)).toBe(true);
      }),
      params,
    );
  });

  it('handles inputs up to the limit, and refuses longer ones with a UserError', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MAX_TEXT - 20, max: MAX_TEXT + 20 }),
        fc.oneof(nasty, fc.string({ unit: 'binary', minLength: 1, maxLength: 4 })),
        (length, unit) => {
          const text = `launch ${unit.repeat(Math.ceil(length / Math.max(1, unit.length)))}`.slice(0, length);
          const r = prepared(text);
          if (!r.ok) expect(isUserError(r.err), String(r.err)).toBe(true);
          if (text.length > MAX_TEXT) expect(r.ok).toBe(false);
        },
      ),
      { seed: SEED, numRuns: 100 },
    );
  });

  it('refuses prototype keys as flags, instead of taking them as value flags', () => {
    for (const flag of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      const r = prepared(`launch demo --${flag} team-a`);
      expect(r.ok).toBe(false);
      if (!r.ok)
        expect((r.err as Error).message).toMatch(/^launch has no --\S+ flag; it takes --name, --ttl\.$/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The renderer

/** The only Slack syntax a rendered reply may hold: its owners' mentions, its dates, its URLs. */
function strayMarkup(text: string): string[] {
  const rest = text
    .replaceAll(`<@${OWNER}>`, '')
    .replaceAll(`<${URL}|${URL}>`, '')
    .replace(/<!date\^\d+\^[{}a-z_ ]+\|[0-9: -]+(UTC)?>/g, '')
    .replace(/(^|\n)> /g, '$1');
  return rest.match(/<[^<>]*>?|>/g) ?? [];
}

function checkRendered(reply: Reply): void {
  const { text, blocks } = renderReply(reply);
  expect(checkLimits(blocks, LIMITS.messageBlocks)).toEqual([]);
  expect(text.length).toBeLessThanOrEqual(LIMITS.messageText);
  expect(strayMarkup(text)).toEqual([]);
  for (const t of mrkdwnTexts(blocks)) expect(strayMarkup(t), t.slice(0, 200)).toEqual([]);
}

const actor = fc.oneof(
  fc.constant(OWNER),
  fc.constant('schedule'),
  userText(30).map((u) => `cli:${u}`),
);

type Generated<A> = A extends fc.Arbitrary<infer T> ? T : never;

const instanceView = fc.record({
  name: userText(60),
  owner: actor,
  template: userText(60),
  state: fc.constantFrom('starting', 'running', 'exited', 'missing') as fc.Arbitrary<InstanceView['state']>,
  expires: fc.boolean(),
  warned: fc.constantFrom(undefined, 'idle', 'ttl') as fc.Arbitrary<'idle' | 'ttl' | undefined>,
});

const toView = (v: Generated<typeof instanceView>): InstanceView => ({
  name: v.name,
  owner: v.owner,
  template: v.template,
  port: 8080,
  url: URL,
  state: v.state,
  createdAt: NOW - 3_600_000,
  lastActivityAt: NOW - 60_000,
  expiresAt: v.expires ? NOW + 3_600_000 : undefined,
  warning: v.warned ? { reason: v.warned, deadline: NOW + 900_000 } : undefined,
});

const historyEntry: fc.Arbitrary<HistoryEntry> = fc.record({
  at: fc.integer({ min: NOW - 86_400_000, max: NOW }),
  actor,
  action: fc.oneof(fc.constantFrom('launch', 'stop', 'extend', 'warn', 'reclaim', 'build'), userText(20)),
  instance: fc.option(userText(60), { nil: undefined }),
  template: fc.option(userText(60), { nil: undefined }),
  reason: fc.option(userText(500), { nil: undefined }),
});

const base = fc.record({
  ok: fc.boolean(),
  summary: userText(4000),
  details: fc.option(fc.array(userText(300), { maxLength: 80 }), { nil: undefined }),
});

const reply: fc.Arbitrary<Reply> = fc.oneof(
  base.map((b): Reply => ({ ...b, kind: 'message', visibility: 'ephemeral' })),
  fc
    .tuple(base, instanceView)
    .map(([b, v]): Reply => ({ ...b, kind: 'instance', visibility: 'ephemeral', instance: toView(v) })),
  fc.tuple(base, fc.array(instanceView, { maxLength: 70 })).map(
    ([b, vs]): Reply => ({
      ...b,
      kind: 'instances',
      visibility: 'ephemeral',
      scope: 'all',
      instances: vs.map(toView),
      now: NOW,
    }),
  ),
  fc.tuple(base, fc.array(historyEntry, { maxLength: 60 }), fc.option(userText(60), { nil: undefined })).map(
    ([b, entries, instance]): Reply => ({
      ...b,
      kind: 'history',
      visibility: 'ephemeral',
      entries,
      total: entries.length + 7,
      instance,
      now: NOW,
    }),
  ),
);

describe('renderReply on replies built from arbitrary user text', () => {
  it('has a checker that sees markup', () => {
    expect(strayMarkup('hi <!channel> <@U0ATTACK> <http://evil|x>')).toHaveLength(3);
    expect(strayMarkup(`<@${OWNER}> at <${URL}|${URL}> &lt;!here&gt;`)).toEqual([]);
  });

  it('never lets Slack markup from user text through, and stays within Slack limits', () => {
    fc.assert(fc.property(reply, checkRendered), { seed: SEED, numRuns: 250 });
  });

  it('renders the refusal of any command text safely', () => {
    fc.assert(
      fc.property(userText(MAX_TEXT + 10), (text) => {
        const r = prepared(text);
        if (r.ok) return;
        checkRendered(errorReply(r.err, log));
      }),
      params,
    );
  });
});
