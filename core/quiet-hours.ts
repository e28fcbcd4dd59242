// Quiet hours (QUIET_HOURS, e.g. 20:00-08:00): a daily window of an owner's local time in which
// no idle warning is delivered; it waits for the first pass after the window ends, and its
// deadline counts from then. A time limit (TTL, MAX_LIFETIME) is not moved: when it runs out
// inside the window, its warning comes one warning period before the window starts.
// Pure: the owner's zone is an IANA name (Slack's user.tz, or the server's), read through Intl.
// The offset is taken at the instant asked about, so a DST change inside a window may shift its
// end by the change (an hour, at most twice a year).
import { z } from 'zod';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Minutes after local midnight; from == to is refused (all day or never is not a window). */
export interface QuietHours {
  fromMinute: number;
  toMinute: number;
  /** As configured, e.g. "20:00-08:00". */
  text: string;
}

/** An owner's quiet hours: the window and the zone it is read in. */
export interface OwnerQuiet {
  hours: QuietHours;
  timeZone: string;
}

/** A stretch of quiet, as instants. */
export interface QuietSpan {
  start: number;
  end: number;
}

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/;

/** Reads "HH:MM-HH:MM" (24-hour, may wrap midnight), or says in a sentence why it is not one. */
export function parseQuietHours(text: string): QuietHours | { error: string } {
  const m = HH_MM.exec(text.trim());
  if (!m)
    return { error: `expected HH:MM-HH:MM like 20:00-08:00 (24-hour, may wrap midnight), got "${text}"` };
  const fromMinute = Number(m[1]) * 60 + Number(m[2]);
  const toMinute = Number(m[3]) * 60 + Number(m[4]);
  if (fromMinute === toMinute) return { error: `expected a start and an end that differ, got "${text}"` };
  return { fromMinute, toMinute, text: text.trim() };
}

/** QUIET_HOURS: empty or unset is off. */
export const quietHoursSetting = z
  .string()
  .optional()
  .transform((text, ctx): QuietHours | undefined => {
    if (text === undefined || text.trim() === '') return undefined;
    const parsed = parseQuietHours(text);
    if ('error' in parsed) {
      ctx.addIssue({ code: 'custom', message: parsed.error });
      return z.NEVER;
    }
    return parsed;
  });

const formatters = new Map<string, Intl.DateTimeFormat>();

/** True when Intl knows the zone name. */
export function isKnownTimeZone(name: string): boolean {
  try {
    formatterFor(name);
    return true;
  } catch {
    return false;
  }
}

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** How far the zone's wall clock is ahead of UTC at `at`, in ms (negative west of Greenwich). */
export function zoneOffsetMs(timeZone: string, at: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(at)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const wall = Date.UTC(
    parts.year ?? 0,
    (parts.month ?? 1) - 1,
    parts.day,
    parts.hour,
    parts.minute,
    parts.second,
  );
  return wall - (at - (((at % 1000) + 1000) % 1000));
}

/** The quiet stretch `at` falls in, or undefined when it falls outside quiet hours. */
export function quietSpanAt(at: number, quiet: OwnerQuiet): QuietSpan | undefined {
  const local = at + zoneOffsetMs(quiet.timeZone, at);
  const ofDay = ((local % DAY) + DAY) % DAY;
  const from = quiet.hours.fromMinute * MINUTE;
  const to = quiet.hours.toMinute * MINUTE;
  const inside = from < to ? ofDay >= from && ofDay < to : ofDay >= from || ofDay < to;
  if (!inside) return undefined;
  return { start: at - ((ofDay - from + DAY) % DAY), end: at + ((to - ofDay + DAY) % DAY) };
}
