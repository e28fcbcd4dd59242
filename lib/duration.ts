// Durations as users type them: 90s, 30m, 2h, 1d (one number, one unit).
import { z } from 'zod';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_RE = /^([1-9][0-9]{0,5})([smhd])$/;

export const DURATION_HINT = 'a number and a unit, like 90s, 30m, 2h or 1d';

/** Milliseconds, or null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const m = DURATION_RE.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** The shortest readable form: 5400000 -> "1h30m", 90000 -> "1m30s". */
export function formatDuration(ms: number): string {
  // Compare rounded, so 999.6 shows as 1s rather than 1000ms.
  if (!(Math.round(ms) >= 1_000)) return `${Math.max(0, Math.round(ms) || 0)}ms`;
  let rest = Math.round(ms / 1_000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join('');
}

/**
 * A duration as zod reads it: text in, milliseconds out. `problem` words the issue for text that
 * is not a duration (each caller says it its own way); compose `.default`, `.optional` around it.
 */
export const durationSchema = (problem: (text: string) => string) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: problem(text) });
      return z.NEVER;
    }
    return ms;
  });
