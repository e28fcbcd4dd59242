// Readiness: a real HTTP request, since docker-proxy accepts TCP before the server listens.
import http from 'node:http';

/** One GET; resolves with the status code, or null when nothing answered. */
function httpStatus(url: string, timeoutMs = 1_000): Promise<number | null> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

export interface WaitForHttpOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Checked every few failed tries: throw to stop waiting (e.g. the container exited). */
  stillAlive?: () => Promise<void>;
  /** Stops waiting (returns false) once aborted: the bot is shutting down. */
  signal?: AbortSignal;
}

/** Polls until the URL answers 2xx or 3xx. Returns false on timeout. Bounded in time and count. */
export async function waitForHttp(url: string, options: WaitForHttpOptions): Promise<boolean> {
  const interval = options.intervalMs ?? 50;
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 1; Date.now() < deadline && !options.signal?.aborted; attempt++) {
    const status = await httpStatus(url, Math.min(1_000, Math.max(50, deadline - Date.now())));
    if (status !== null && status >= 200 && status < 400) return true;
    if (options.stillAlive && attempt % 10 === 0) await options.stillAlive();
    await new Promise((r) => setTimeout(r, Math.min(interval * Math.min(attempt, 4), 250)));
  }
  return false;
}
