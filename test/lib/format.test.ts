// The shared formatting helpers (lib/format.ts) and Slack id patterns (lib/slack-ids.ts): pure,
// no Docker, no Slack. Every front end shows bytes, times, clipped text and bars through these.
import { describe, expect, it } from 'vitest';
import {
  bar,
  clip,
  clipWithNote,
  elapsed,
  formatBytes,
  formatUtc,
  oneLine,
  relativeTime,
  stripAnsi,
} from '../../lib/format.ts';
import {
  isSlackUserId,
  isSlackUserOrGroupId,
  SLACK_CHANNEL_ID,
  SLACK_USER_GROUP_ID,
  SLACK_USER_ID,
} from '../../lib/slack-ids.ts';

const NOW = Date.parse('2026-01-01T14:05:07.890Z');
const MINUTE = 60_000;
/** Half of a surrogate pair without the other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('formatBytes', () => {
  const decimal: [number, string][] = [
    [0, '0 B'],
    [999, '999 B'],
    [1_000, '1.0 kB'],
    [12_345, '12.3 kB'],
    [1_950_000, '1.9 MB'],
    [245_300_000, '245.3 MB'],
    [999_999_999, '1000.0 MB'],
    [2_500_000_000, '2.50 GB'],
  ];
  for (const [bytes, text] of decimal) {
    it(`shows ${bytes} bytes as ${text} in decimal units (as Docker shows image sizes)`, () => {
      expect(formatBytes(bytes)).toBe(text);
      expect(formatBytes(bytes, 'decimal')).toBe(text);
    });
  }

  const binary: [number, string][] = [
    [0, '0 B'],
    [1_023, '1023 B'],
    [1_024, '1 KiB'],
    [1_536, '1.5 KiB'],
    [16_384, '16 KiB'],
    [10.5 * 1_024, '11 KiB'],
    [40_960 + 7, '40 KiB'],
    [3 * 1_024 ** 2, '3 MiB'],
    [1_024 ** 3, '1 GiB'],
    [2 * 1_024 ** 5, '2048 TiB'],
  ];
  for (const [bytes, text] of binary) {
    it(`shows ${bytes} bytes as ${text} in binary units (as IDLE_BYTES_FLOOR is thought of)`, () => {
      expect(formatBytes(bytes, 'binary')).toBe(text);
    });
  }
});

describe('formatUtc', () => {
  it('shows a moment in UTC to the minute, to the second (the default), or as a time of day', () => {
    expect(formatUtc(NOW, 'minute')).toBe('2026-01-01 14:05 UTC');
    expect(formatUtc(NOW, 'second')).toBe('2026-01-01 14:05:07 UTC');
    expect(formatUtc(NOW)).toBe('2026-01-01 14:05:07 UTC');
    expect(formatUtc(NOW, 'clock')).toBe('14:05:07 UTC');
  });

  it('cuts rather than rounds: 14:05:59.999 is still 14:05', () => {
    const late = Date.parse('2026-01-01T14:05:59.999Z');
    expect(formatUtc(late, 'minute')).toBe('2026-01-01 14:05 UTC');
    expect(formatUtc(late, 'second')).toBe('2026-01-01 14:05:59 UTC');
  });
});

describe('relativeTime and elapsed', () => {
  it('says "in …" for the future, "… ago" for the past and "just now" within a second', () => {
    expect(relativeTime(NOW, NOW + 5 * MINUTE)).toBe('in 5m');
    expect(relativeTime(NOW, NOW - 90 * MINUTE)).toBe('1h30m ago');
    expect(relativeTime(NOW, NOW - 999)).toBe('just now');
    expect(relativeTime(NOW, NOW + 999)).toBe('just now');
  });

  it('gives a span since a moment in whole seconds, never negative', () => {
    expect(elapsed(NOW, NOW - 2 * 60 * MINUTE)).toBe('2h');
    expect(elapsed(NOW, NOW - 65_000)).toBe('1m5s');
    expect(elapsed(NOW, NOW - 400)).toBe('0s');
    expect(elapsed(NOW, NOW + 5 * MINUTE)).toBe('0s');
  });
});

describe('oneLine and stripAnsi', () => {
  it('joins lines with one space, whatever the line endings and blanks around them', () => {
    expect(oneLine('first line\n  second\r\nthird  \n\nfourth')).toBe('first line second third fourth');
    expect(oneLine('no newline')).toBe('no newline');
  });

  it('removes terminal colour and cursor codes and keeps the text', () => {
    expect(stripAnsi('\u001b[33mINFO\u001b[0m served \u001b[?25lok')).toBe('INFO served ok');
  });
});

describe('clip', () => {
  it('leaves text that fits alone', () => {
    expect(clip('short', 5)).toBe('short');
    expect(clip('', 3)).toBe('');
  });

  it('cuts to at most max characters, the last one "…"', () => {
    const clipped = clip('a'.repeat(100), 10);
    expect(clipped).toBe(`${'a'.repeat(9)}…`);
    expect(clipped).toHaveLength(10);
  });

  it('never splits a surrogate pair', () => {
    // given an emoji (two UTF-16 units) right where the cut falls
    const text = 'ab😀cdef';
    // when it is clipped so that only its first half would fit
    const clipped = clip(text, 4);
    // then the whole emoji goes, not half of it
    expect(clipped).toBe('ab…');
    expect(clipped).not.toMatch(LONE_SURROGATE);
    // and an emoji that fits whole stays
    expect(clip(text, 5)).toBe('ab😀…');
  });

  it('never splits an escaped entity such as &amp;', () => {
    const escaped = 'Tom &amp; Jerry &lt;3';
    for (let max = 1; max < escaped.length; max++) {
      const clipped = clip(escaped, max);
      expect(clipped.length).toBeLessThanOrEqual(max);
      expect(clipped).not.toMatch(/&[a-z]*…$/);
    }
    expect(clip(escaped, 8)).toBe('Tom …');
    expect(clip(escaped, 10)).toBe('Tom &amp;…');
  });
});

describe('clipWithNote', () => {
  it('leaves text that fits alone', () => {
    expect(clipWithNote('short', 100)).toBe('short');
  });

  it('says how many characters were left out, within max', () => {
    // given 5000 characters and room for 3000
    const text = 'x'.repeat(5_000);
    // when clipped with a note
    const clipped = clipWithNote(text, 3_000);
    // then it fits, and the note counts exactly what is missing
    expect(clipped.length).toBeLessThanOrEqual(3_000);
    const note = /… \((\d+) more characters\)$/.exec(clipped);
    expect(note).not.toBeNull();
    const head = clipped.slice(0, clipped.length - (note?.[0].length ?? 0));
    expect(head.length + Number(note?.[1])).toBe(text.length);
  });

  it('never splits a surrogate pair or an entity either', () => {
    const emoji = `${'y'.repeat(10)}😀${'z'.repeat(100)}`;
    for (let max = 30; max < 40; max++) {
      const clipped = clipWithNote(emoji, max);
      expect(clipped.length).toBeLessThanOrEqual(max);
      expect(clipped).not.toMatch(LONE_SURROGATE);
    }
    const escaped = `${'y'.repeat(10)}&amp;${'z'.repeat(100)}`;
    for (let max = 30; max < 40; max++) {
      expect(clipWithNote(escaped, max)).not.toMatch(/&[a-z]*… \(/);
    }
  });
});

describe('bar', () => {
  it('fills done of total in the given cells, with ▓ and ░ unless told otherwise', () => {
    expect(bar(2, 5, { cells: 10 })).toBe('▓▓▓▓░░░░░░');
    expect(bar(5, 5, { cells: 10 })).toBe('▓▓▓▓▓▓▓▓▓▓');
    expect(bar(4, 5, { cells: 20, full: '█' })).toBe(`${'█'.repeat(16)}${'░'.repeat(4)}`);
    expect(bar(1, 2, { cells: 4, full: '#', empty: '-' })).toBe('##--');
  });

  it('keeps within its cells: nothing to count, more than the whole, or less than nothing', () => {
    expect(bar(0, 0, { cells: 5 })).toBe('░░░░░');
    expect(bar(7, 5, { cells: 5 })).toBe('▓▓▓▓▓');
    expect(bar(-3, 5, { cells: 5 })).toBe('░░░░░');
  });

  it('without `visible`, rounds: a little shows as nothing and nearly all as full', () => {
    expect(bar(1, 1_000, { cells: 20 })).toBe('░'.repeat(20));
    expect(bar(999, 1_000, { cells: 20 })).toBe('▓'.repeat(20));
  });

  it('with `visible`, any progress shows a cell and anything short of the whole leaves one empty', () => {
    expect(bar(1, 1_000, { cells: 20, visible: true })).toBe(`▓${'░'.repeat(19)}`);
    expect(bar(999, 1_000, { cells: 20, visible: true })).toBe(`${'▓'.repeat(19)}░`);
    expect(bar(0, 1_000, { cells: 20, visible: true })).toBe('░'.repeat(20));
    expect(bar(1_000, 1_000, { cells: 20, visible: true })).toBe('▓'.repeat(20));
    expect(bar(310, 1_000, { cells: 20, visible: true })).toBe(`${'▓'.repeat(6)}${'░'.repeat(14)}`);
  });
});

describe('Slack ids', () => {
  it('knows a user id (U or W, then at least two capitals or digits) from other actors', () => {
    for (const id of ['UALICE01', 'U123', 'W0ENTERPRISE']) expect(isSlackUserId(id), id).toBe(true);
    for (const id of ['U1', 'UA', 'ualice01', 'cli:bob', 'schedule', '', 'C0OPS', ' UALICE01', 'UALICE-01'])
      expect(isSlackUserId(id), id).toBe(false);
    expect(SLACK_USER_ID.test('UALICE01')).toBe(true);
  });

  it('knows channel and user-group ids', () => {
    for (const id of ['C0OPS', 'G0PRIVATE', 'D0DM']) expect(SLACK_CHANNEL_ID.test(id), id).toBe(true);
    for (const id of ['UALICE01', 'C1', '#ops', 'c0ops']) expect(SLACK_CHANNEL_ID.test(id), id).toBe(false);
    expect(SLACK_USER_GROUP_ID.test('S0ADMINS')).toBe(true);
    expect(SLACK_USER_GROUP_ID.test('UALICE01')).toBe(false);
  });

  it('knows who a role can name: a user or a user group, nothing else', () => {
    for (const id of ['UALICE01', 'W0ENTERPRISE', 'S0ADMINS'])
      expect(isSlackUserOrGroupId(id), id).toBe(true);
    for (const id of ['C0OPS', 'S1', 'cli:bob']) expect(isSlackUserOrGroupId(id), id).toBe(false);
  });
});
