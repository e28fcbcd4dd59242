// One helper per formatting idea, shared by every layer and both front ends: byte counts, UTC
// times, clipping, one-line text, bars. Pure; imports nothing of the project but durations.
import { formatDuration } from './duration.ts';

// ---------------------------------------------------------------------------------------------
// Bytes

/**
 * Decimal units, as the Docker CLI shows image sizes ("1.9 MB"); `binary` for quantities people
 * think of in powers of two, like IDLE_BYTES_FLOOR ("16 KiB").
 */
export function formatBytes(bytes: number, units: 'decimal' | 'binary' = 'decimal'): string {
  if (units === 'decimal') {
    if (bytes < 1000) return `${bytes} B`;
    if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
    if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
    return `${(bytes / 1e9).toFixed(2)} GB`;
  }
  if (bytes < 1024) return `${bytes} B`;
  const names = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < names.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = value >= 10 || Number.isInteger(value) ? String(Math.round(value)) : value.toFixed(1);
  return `${text} ${names[unit]}`;
}

// ---------------------------------------------------------------------------------------------
// Times

/**
 * A UTC time for people: `minute` "2026-01-01 14:05 UTC", `second` "2026-01-01 14:05:07 UTC",
 * `clock` "14:05:07 UTC" (a moment of today, such as when a running build started).
 */
export function formatUtc(ms: number, precision: 'minute' | 'second' | 'clock' = 'second'): string {
  const iso = new Date(ms).toISOString();
  const text =
    precision === 'clock'
      ? iso.slice(11, 19)
      : iso.slice(0, precision === 'minute' ? 16 : 19).replace('T', ' ');
  return `${text} UTC`;
}

/** "in 5m", "5m ago" or "just now", relative to `now`. */
export function relativeTime(now: number, at: number): string {
  if (Math.abs(at - now) < 1_000) return 'just now';
  return at > now ? `in ${formatDuration(at - now)}` : `${formatDuration(now - at)} ago`;
}

/** How long since `at` ("up 2h", "idle 5m"): never negative, whole seconds at least. */
export function elapsed(now: number, at: number): string {
  const ms = now - at;
  return ms < 1_000 ? '0s' : formatDuration(ms);
}

// ---------------------------------------------------------------------------------------------
// Text

/** Newlines (and the blanks around them) become one space. */
export function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ');
}

/** Terminal colour and cursor codes, as container logs carry them, removed. */
export function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: log lines carry ANSI escape codes
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
}

/** Escape sequences: CSI (ESC [ or the C1 CSI), OSC (ESC ] … BEL or ESC \\) and other ESC codes (ESC c, ESC ( B). */
const ESCAPE_SEQUENCE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the sequences removed
  /\u001b\[[0-?]*[ -/]*[@-~]|\u009b[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[ -/]*[0-~]/g;
/** C0 controls but tab, DEL, and C1 controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters removed
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/**
 * A line safe to print on a terminal: escape sequences (colours, cursor moves, titles) and every
 * other control character but tab removed, so a container's log cannot drive the operator's terminal.
 */
export function stripControls(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '').replace(CONTROL, '');
}

/**
 * At most `max` characters, ending in "…" when cut. Never splits a surrogate pair, nor an HTML
 * entity such as `&amp;` (Slack text is escaped before it is clipped).
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${safeCut(text, max - 1)}…`;
}

/** Like clip, but says how many characters were left out. */
export function clipWithNote(text: string, max: number): string {
  if (text.length <= max) return text;
  // The note's length depends on the count; measuring it with the whole length covers it.
  const noteFor = (n: number) => `… (${n} more characters)`;
  const head = safeCut(text, max - noteFor(text.length).length);
  return `${head}${noteFor(text.length - head.length)}`;
}

function safeCut(text: string, n: number): string {
  let cut = text.slice(0, Math.max(0, n));
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut.replace(/&[a-z]{0,3}$/, '');
}

// ---------------------------------------------------------------------------------------------
// Bars

/**
 * `▓▓▓▓░░░░░░`: `done` of `total` in `cells` cells. With `visible`, any progress at all shows
 * at least one cell and anything short of the whole leaves one empty (a pool 0.2% used is not
 * empty, nor is one 99.8% used full).
 */
export function bar(
  done: number,
  total: number,
  options: { cells: number; full?: string; empty?: string; visible?: boolean },
): string {
  const { cells, full = '▓', empty = '░' } = options;
  const part = total > 0 ? Math.min(Math.max(done, 0), total) : 0;
  let filled = total > 0 ? Math.round((part / total) * cells) : 0;
  if (options.visible) {
    if (part > 0 && filled === 0) filled = 1;
    if (part < total && filled === cells) filled = cells - 1;
  }
  return full.repeat(filled) + empty.repeat(cells - filled);
}
