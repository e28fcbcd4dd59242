// Readiness: a real HTTP request, since docker-proxy accepts TCP before the server listens.
import http from 'node:http';

/** A GET's outcome: the status code; 'slow' when the server took the request and did not answer
 * in time; null when nothing took it (refused or reset: not listening yet) or it was aborted. */
type Outcome = number | 'slow' | null;

function httpStatus(url: string, timeoutMs: number, signal?: AbortSignal): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false, signal }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on('timeout', () => {
      resolve('slow');
      req.destroy();
    });
    req.on('error', () => resolve(null));
  });
}

/** The first request's time to answer; each slow answer doubles it, up to the last. */
const REQUEST_TIMEOUT_MS = { first: 1_000, last: 30_000 };

export interface WaitForHttpOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Checked every few failed tries and after a slow one: throw to stop waiting (e.g. the
   * container exited). */
  stillAlive?: () => Promise<void>;
  /** Stops waiting (returns false) once aborted, the request in flight included: the bot is
   * shutting down. */
  signal?: AbortSignal;
}

/** Polls until the URL answers 2xx or 3xx. Returns false on timeout. Bounded in time and count:
 * one request in flight at a time. A server that takes the request but answers slowly (a CGI on
 * a saturated host) gets longer to answer the next, instead of a new request every second: the
 * abandoned ones go on running in the container, and on a full host they fed on each other until
 * no launch answered within its start timeout. */
export async function waitForHttp(url: string, options: WaitForHttpOptions): Promise<boolean> {
  const interval = options.intervalMs ?? 50;
  const deadline = Date.now() + options.timeoutMs;
  let requestTimeoutMs = REQUEST_TIMEOUT_MS.first;
  for (let attempt = 1; Date.now() < deadline && !options.signal?.aborted; attempt++) {
    const timeoutMs = Math.min(requestTimeoutMs, Math.max(50, deadline - Date.now()));
    const outcome = await httpStatus(url, timeoutMs, options.signal);
    if (typeof outcome === 'number' && outcome >= 200 && outcome < 400) return true;
    if (outcome === 'slow') requestTimeoutMs = Math.min(requestTimeoutMs * 2, REQUEST_TIMEOUT_MS.last);
    if (options.stillAlive && (attempt % 10 === 0 || outcome === 'slow')) await options.stillAlive();
    await new Promise((r) => setTimeout(r, Math.min(interval * Math.min(attempt, 4), 250)));
  }
  return false;
}
