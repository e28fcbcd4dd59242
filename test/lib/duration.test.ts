// Durations as users type them (90s, 30m, 2h, 1d) and as the bot shows them.
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../lib/duration.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  const valid: [string, number][] = [
    ['90s', 90 * SECOND],
    ['30m', 30 * MINUTE],
    ['2h', 2 * HOUR],
    ['1d', DAY],
    ['1s', SECOND],
    [' 15m ', 15 * MINUTE],
    ['999999d', 999_999 * DAY],
  ];
  for (const [text, ms] of valid) {
    it(`reads ${JSON.stringify(text)} as ${ms} ms`, () => {
      expect(parseDuration(text)).toBe(ms);
    });
  }

  const invalid = [
    '0s',
    '00m',
    '05m',
    '5x',
    '1.5h',
    '-1h',
    '+1h',
    '',
    '   ',
    'h',
    '2',
    '2 h',
    '2H',
    '1h30m',
    '2hours',
    '1000000d',
    '1'.repeat(3000),
    `${'9'.repeat(2999)}h`,
  ];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text.length > 20 ? `${text.slice(0, 10)}...(${text.length} chars)` : text)}`, () => {
      expect(parseDuration(text)).toBeNull();
    });
  }
});

describe('formatDuration', () => {
  const cases: [number, string][] = [
    [0, '0ms'],
    [-5, '0ms'],
    [250, '250ms'],
    [999.6, '1s'],
    [SECOND, '1s'],
    [90 * SECOND, '1m30s'],
    [59_999, '1m'],
    [5_400_000, '1h30m'],
    [2 * HOUR, '2h'],
    [DAY, '1d'],
    [DAY + 2 * HOUR + 3 * MINUTE, '1d2h'],
    [DAY + 5 * MINUTE, '1d5m'],
    [3 * DAY, '3d'],
  ];
  for (const [ms, text] of cases) {
    it(`shows ${ms} ms as ${text}`, () => {
      expect(formatDuration(ms)).toBe(text);
    });
  }

  it('shows a whole-unit duration as it was typed', () => {
    for (const text of ['45s', '30m', '15m', '2h', '1d', '7d']) {
      expect(formatDuration(parseDuration(text)!)).toBe(text);
    }
  });
});
