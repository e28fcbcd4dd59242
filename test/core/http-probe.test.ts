// The launch's readiness poll against real HTTP servers on 127.0.0.1: a server that answers
// slowly is waited for, one request at a time, instead of being sent a new request every second
// (on a saturated host each abandoned request went on running in the container, a CGI, and the
// pile made every launch miss its start timeout); a server that starts listening late is found;
// an abort ends the request in flight.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { waitForHttp } from '../../core/http-probe.ts';

/** This file's own port: nothing listens on it until a test starts a server there. */
const LATE_PORT = 24990;

/** A server whose every answer takes `delayMs`; it counts requests and the most in flight at once. */
function slowServer(delayMs: number) {
  const seen = { requests: 0, inFlight: 0, maxInFlight: 0, closedUnanswered: 0 };
  const server = http.createServer((req, res) => {
    seen.requests++;
    seen.inFlight++;
    seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
    let answered = false;
    const timer = setTimeout(() => {
      answered = true;
      res.end('ok');
    }, delayMs);
    req.socket.on('close', () => {
      seen.inFlight--;
      clearTimeout(timer);
      if (!answered) seen.closedUnanswered++;
    });
  });
  return { server, seen };
}

// Closed after all: the tests run concurrently.
const open: http.Server[] = [];
async function listen(server: http.Server, port = 0): Promise<string> {
  open.push(server);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

afterAll(async () => {
  for (const s of open.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe.concurrent('waitForHttp', () => {
  it('waits for a server slower than a second, one request in flight at a time', async () => {
    const { server, seen } = slowServer(1_500);
    const url = await listen(server);
    expect(await waitForHttp(url, { timeoutMs: 20_000 })).toBe(true);
    // The first request is given up after 1 s; the second is given 2 s and answered.
    expect(seen.maxInFlight).toBe(1);
    expect(seen.requests).toBe(2);
    expect(seen.closedUnanswered).toBe(1);
  });

  it('gives up at its deadline on a server that never answers, having sent only a few requests', async () => {
    const { server, seen } = slowServer(60_000);
    const url = await listen(server);
    expect(await waitForHttp(url, { timeoutMs: 4_000 })).toBe(false);
    // 1 s, then 2 s, then what is left of the 4 s: never one request a second.
    expect(seen.requests).toBeLessThanOrEqual(3);
    expect(seen.maxInFlight).toBe(1);
  });

  it('checks the container after a slow answer, and stops when it has exited', async () => {
    const { server, seen } = slowServer(60_000);
    const url = await listen(server);
    let checks = 0;
    const exited = waitForHttp(url, {
      timeoutMs: 20_000,
      stillAlive: async () => {
        checks++;
        throw new Error('the container exited');
      },
    });
    await expect(exited).rejects.toThrow('the container exited');
    expect(checks).toBe(1);
    expect(seen.requests).toBe(1);
  });

  it('finds a server that starts listening after the first tries were refused', async () => {
    const { server, seen } = slowServer(0);
    const ready = waitForHttp(`http://127.0.0.1:${LATE_PORT}/`, { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    await listen(server, LATE_PORT);
    expect(await ready).toBe(true);
    expect(seen.requests).toBe(1);
  });

  it('an abort ends the request in flight and the wait', async () => {
    const { server, seen } = slowServer(60_000);
    const url = await listen(server);
    const shutdown = new AbortController();
    const waiting = waitForHttp(url, { timeoutMs: 60_000, signal: shutdown.signal });
    await expect.poll(() => seen.requests, { timeout: 5_000 }).toBe(1);
    shutdown.abort();
    expect(await waiting).toBe(false);
    await expect.poll(() => seen.closedUnanswered, { timeout: 5_000 }).toBe(1);
    expect(seen.requests).toBe(1);
  });
});
