// Quiet hours (issue 14 item 2), without Docker: the window rule (core/quiet-hours.ts), the
// reclaim policy with an owner's quiet hours (core/reclaim-policy.ts), and reading an owner's
// zone from what Slack's users.info gives (bot/time-zones.ts zoneOfUser).
import { describe, expect, it } from 'vitest';
import { zoneOfUser } from '../../bot/time-zones.ts';
import { loadConfig } from '../../core/config.ts';
import {
  type OwnerQuiet,
  parseQuietHours,
  type QuietHours,
  quietSpanAt,
  zoneOffsetMs,
} from '../../core/quiet-hours.ts';
import { type PolicyInput, reclaimPolicy } from '../../core/reclaim-policy.ts';
import type { InstanceRecord } from '../../store/schema.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const GRACE = 15 * MIN;
const SETTINGS = { idleTimeoutMs: 2 * HOUR, idleWarningMs: GRACE, idleBytesFloor: 16_384 };

function hours(text: string): QuietHours {
  const parsed = parseQuietHours(text);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}
const NIGHT = hours('20:00-08:00');
const at = (iso: string) => Date.parse(iso);
const owner = (timeZone: string, h: QuietHours = NIGHT): OwnerQuiet => ({ hours: h, timeZone });

describe('QUIET_HOURS', () => {
  it('reads HH:MM-HH:MM, wrapping midnight or not; unset or empty is off', () => {
    expect(parseQuietHours('20:00-08:00')).toEqual({ fromMinute: 1200, toMinute: 480, text: '20:00-08:00' });
    expect(parseQuietHours(' 12:30-13:45 ')).toEqual({ fromMinute: 750, toMinute: 825, text: '12:30-13:45' });
    expect(loadConfig({}).reclaim.quietHours).toBeUndefined();
    expect(loadConfig({ QUIET_HOURS: '' }).reclaim.quietHours).toBeUndefined();
    expect(loadConfig({ QUIET_HOURS: '22:00-06:30' }).reclaim.quietHours).toMatchObject({ fromMinute: 1320 });
  });

  it('refuses anything else in one sentence naming the variable', () => {
    for (const bad of ['20-08', '8:00-20:00', '24:00-08:00', '20:00-08:60', '20:00 08:00', '09:00-09:00']) {
      expect(() => loadConfig({ QUIET_HOURS: bad }), bad).toThrow(/QUIET_HOURS.*expected/);
    }
  });
});

describe('the quiet window in the owner zone', () => {
  it('is inside at night and outside by day, across midnight (UTC owner)', () => {
    // given 20:00-08:00 in UTC; then 23:00 and 03:00 are quiet, 08:00 and 12:00 are not
    expect(quietSpanAt(at('2026-03-02T23:00:00Z'), owner('UTC'))).toEqual({
      start: at('2026-03-02T20:00:00Z'),
      end: at('2026-03-03T08:00:00Z'),
    });
    expect(quietSpanAt(at('2026-03-03T03:00:00Z'), owner('UTC'))).toEqual({
      start: at('2026-03-02T20:00:00Z'),
      end: at('2026-03-03T08:00:00Z'),
    });
    expect(quietSpanAt(at('2026-03-03T08:00:00Z'), owner('UTC'))).toBeUndefined();
    expect(quietSpanAt(at('2026-03-03T12:00:00Z'), owner('UTC'))).toBeUndefined();
    expect(quietSpanAt(at('2026-03-03T19:59:59Z'), owner('UTC'))).toBeUndefined();
  });

  it('a window that does not wrap midnight', () => {
    const lunch = owner('UTC', hours('12:00-13:00'));
    expect(quietSpanAt(at('2026-03-02T12:30:00Z'), lunch)?.end).toBe(at('2026-03-02T13:00:00Z'));
    expect(quietSpanAt(at('2026-03-02T13:00:00Z'), lunch)).toBeUndefined();
    expect(quietSpanAt(at('2026-03-02T11:59:00Z'), lunch)).toBeUndefined();
  });

  it('follows zones ahead of and behind UTC', () => {
    // 12:00 UTC is 21:00 in Tokyo (UTC+9): quiet until 08:00 there, 23:00 UTC
    expect(zoneOffsetMs('Asia/Tokyo', at('2026-03-02T12:00:00Z'))).toBe(9 * HOUR);
    expect(quietSpanAt(at('2026-03-02T12:00:00Z'), owner('Asia/Tokyo'))?.end).toBe(
      at('2026-03-02T23:00:00Z'),
    );
    // 12:00 UTC is 04:00 in Los Angeles (UTC-8 in winter): quiet until 08:00 there, 16:00 UTC
    expect(zoneOffsetMs('America/Los_Angeles', at('2026-03-02T12:00:00Z'))).toBe(-8 * HOUR);
    expect(quietSpanAt(at('2026-03-02T12:00:00Z'), owner('America/Los_Angeles'))?.end).toBe(
      at('2026-03-02T16:00:00Z'),
    );
    // and 12:00 UTC is 12:00 in London: not quiet
    expect(quietSpanAt(at('2026-03-02T12:00:00Z'), owner('Europe/London'))).toBeUndefined();
  });
});

describe("an owner's zone from Slack", () => {
  it('is user.tz when known, else a whole-hour tz_offset, else the server zone', () => {
    expect(zoneOfUser('Asia/Tokyo', 32_400)).toBe('Asia/Tokyo');
    expect(zoneOfUser('Not/AZone', 7_200)).toBe('Etc/GMT-2');
    expect(zoneOffsetMs(zoneOfUser(undefined, -18_000), 0)).toBe(-5 * HOUR);
    expect(zoneOfUser(undefined, 19_800)).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
  });
});

/** A running instance idle for 3 h at `now` (sampled before), owned by UALICE. */
function idleRecord(now: number, over: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    name: 'demo-1',
    owner: 'UALICE',
    template: 'demo',
    port: 24000,
    state: 'running',
    createdAt: now - 5 * HOUR,
    lastActivityAt: now - 3 * HOUR,
    lastSample: { at: now - 5 * MIN, txBytes: 100, rxBytes: 100, txSinceActivity: 0, rxSinceActivity: 0 },
    ...over,
  };
}

/** The policy's verdict at `now`, nothing sent since the last sample, with the owner's quiet hours. */
function verdict(r: InstanceRecord, now: number, quiet?: OwnerQuiet) {
  const base = r.lastSample ?? { txBytes: 0, rxBytes: 0 };
  const input: PolicyInput = {
    record: r,
    sample: { txBytes: base.txBytes, rxBytes: base.rxBytes, cpuNs: 0 },
    settings: SETTINGS,
    now,
    judge: true,
    quiet,
  };
  return reclaimPolicy(input);
}

describe('the reclaim policy in quiet hours', () => {
  it('holds an idle warning due inside quiet hours, and says until when', () => {
    // given an idle instance whose Tokyo owner is at 23:00 local (14:00 UTC)
    const now = at('2026-03-02T14:00:00Z');
    const v = verdict(idleRecord(now), now, owner('Asia/Tokyo'));
    // then no warning, held until 08:00 Tokyo (23:00 UTC)
    expect(v.decision).toEqual({ kind: 'none' });
    expect(v.heldUntil).toBe(at('2026-03-02T23:00:00Z'));
    // and without quiet hours the same instance is warned
    expect(verdict(idleRecord(now), now).decision).toMatchObject({ kind: 'warn', reason: 'idle' });
    // and an owner in London (14:00 local) is warned too
    expect(verdict(idleRecord(now), now, owner('Europe/London')).decision).toMatchObject({ kind: 'warn' });
  });

  it('delivers it at the first pass after they end, the deadline counted from delivery', () => {
    // given the same instance at 08:05 Tokyo, held all night
    const now = at('2026-03-02T23:05:00Z');
    const v = verdict(idleRecord(now), now, owner('Asia/Tokyo'));
    // then it is warned now, to be reclaimed IDLE_WARNING from now
    expect(v.decision).toMatchObject({ kind: 'warn', reason: 'idle', warnedAt: now, deadline: now + GRACE });
    expect(v.heldUntil).toBeUndefined();
  });

  it('still reclaims once a warning delivered before quiet hours has run out', () => {
    // given a warning given at 19:50 UTC to a UTC owner, deadline 20:05; now 20:10 (quiet)
    const now = at('2026-03-02T20:10:00Z');
    const warnedAt = at('2026-03-02T19:50:00Z');
    const r = idleRecord(now, { warning: { reason: 'idle', at: warnedAt, deadline: warnedAt + GRACE } });
    // then it is reclaimed: the owner saw that warning
    expect(verdict(r, now, owner('UTC')).decision).toMatchObject({
      kind: 'reclaim',
      reason: 'idle',
      warnedAt,
    });
  });

  it('warns of a time limit that runs out inside quiet hours one warning period before they start', () => {
    // given a TTL running out at 23:00 UTC for a UTC owner (quiet 20:00-08:00), used just now
    const expiresAt = at('2026-03-02T23:00:00Z');
    const early = at('2026-03-02T19:40:00Z');
    const r = (now: number) => idleRecord(now, { expiresAt, lastActivityAt: now - MIN });
    // when a pass runs at 19:40: not yet due (20:00 - 15m = 19:45)
    expect(verdict(r(early), early, owner('UTC')).decision).toEqual({ kind: 'none' });
    // when a pass runs at 19:45: warned, with the deadline a warning at the limit would have had
    const now = at('2026-03-02T19:45:00Z');
    const v = verdict(r(now), now, owner('UTC'));
    expect(v.decision).toMatchObject({
      kind: 'warn',
      reason: 'ttl',
      warnedAt: now,
      deadline: expiresAt + GRACE,
    });
    if (v.decision.kind === 'warn') expect(v.decision.evidence.text).toMatch(/time limit runs out at/);
    // and without quiet hours nothing is due before the limit
    expect(verdict(r(now), now).decision).toEqual({ kind: 'none' });
  });

  it('keeps the early time-limit warning, and reclaims at its deadline inside quiet hours', () => {
    const expiresAt = at('2026-03-02T23:00:00Z');
    const warnedAt = at('2026-03-02T19:45:00Z');
    const warning = { reason: 'ttl' as const, at: warnedAt, deadline: expiresAt + GRACE };
    // at 21:00 (quiet, before the limit): the warning stands, nothing due
    const mid = at('2026-03-02T21:00:00Z');
    const v1 = verdict(idleRecord(mid, { expiresAt, warning }), mid, owner('UTC'));
    expect(v1).toMatchObject({ withdraw: false, decision: { kind: 'none' } });
    // at 23:15: reclaimed, the time limit holds
    const late = expiresAt + GRACE;
    const v2 = verdict(idleRecord(late, { expiresAt, warning }), late, owner('UTC'));
    expect(v2.decision).toMatchObject({ kind: 'reclaim', reason: 'ttl', warnedAt });
  });

  it('never holds a time-limit warning, even inside quiet hours', () => {
    // given a limit that ran out at 21:00 UTC with no warning yet (the bot was down), now 22:00
    const now = at('2026-03-02T22:00:00Z');
    const v = verdict(idleRecord(now, { expiresAt: at('2026-03-02T21:00:00Z') }), now, owner('UTC'));
    expect(v.decision).toMatchObject({ kind: 'warn', reason: 'ttl', deadline: now + GRACE });
  });
});
