// What Docker streams back, cut into lines: container logs (demultiplexed) and builder output
// (split across chunks); and the abort of a long call by its signal.
import { UserError } from '../lib/errors.ts';

const stripCr = (line: string) => line.replace(/\r$/, '');

const splitLines = (text: string): string[] => {
  const lines = text.split('\n').map(stripCr);
  if (lines.at(-1) === '') lines.pop();
  return lines;
};

/** Splits a log Buffer into lines. Without a TTY Docker multiplexes stdout and stderr into frames
 * of an 8-byte header (stream type, 3 zero bytes, big-endian payload size) and the payload. */
export function demuxLogLines(buf: Buffer): string[] {
  const multiplexed =
    buf.length >= 8 && buf.readUInt8(0) <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!multiplexed) return splitLines(buf.toString('utf8'));
  const lines: string[] = [];
  // Partial lines are kept per stream so a stdout fragment never merges with a stderr line.
  const pending = new Map<number, string>();
  let at = 0;
  while (at + 8 <= buf.length) {
    const stream = buf.readUInt8(at);
    const size = buf.readUInt32BE(at + 4);
    const text = (pending.get(stream) ?? '') + buf.subarray(at + 8, at + 8 + size).toString('utf8');
    at += 8 + size;
    const parts = text.split('\n');
    pending.set(stream, parts.pop() ?? '');
    lines.push(...parts.map(stripCr));
  }
  for (const rest of pending.values()) if (rest !== '') lines.push(stripCr(rest));
  return lines;
}

/** Feeds chunks of text; calls onLine for each complete line (the builder splits lines across chunks). */
export function makeLineSplitter(onLine: (line: string) => void): (chunk: string) => void {
  let pending = '';
  return (chunk) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) {
      const line = stripCr(part);
      if (line.trim() !== '') onLine(line);
    }
  };
}

/** Runs fn, rejecting with UserError('timeout', message) as soon as the signal fires. */
export function abortable<T>(
  signal: AbortSignal | undefined,
  message: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!signal) return fn();
  if (signal.aborted) return Promise.reject(new UserError('timeout', message));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new UserError('timeout', message));
    signal.addEventListener('abort', onAbort, { once: true });
    fn().then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
