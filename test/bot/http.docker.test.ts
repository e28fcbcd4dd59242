// The bot's own HTTP routes next to POST /slack/events: GET /healthz (200, or 503 when Docker
// does not answer) and GET /metrics (Prometheus text); and the ack never waits for Docker.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BotBed, startBotBed, textOf } from '../support/bot.ts';

/** Waits for another run of this file to finish (test/support/bot.ts). */
const BEFORE_ALL_MS = 300_000;

const SCOPE = 'test-bot-http';
const FIRST = 24320;
const bots: BotBed[] = [];

async function get(url: string): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** A TCP server that accepts connections and never answers: a Docker engine that hangs. */
async function hangingServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let healthy: BotBed;

beforeAll(async () => {
  healthy = await startBotBed({ scope: SCOPE, ports: `${FIRST}-${FIRST + 4}` });
  bots.push(healthy);
}, BEFORE_ALL_MS);

afterAll(async () => {
  for (const b of bots) await b.close();
});

describe('GET /healthz', () => {
  it('answers 200 with JSON saying the store is writable and the engine answers', async () => {
    const res = await get(`${healthy.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/application\/json/);
    expect(JSON.parse(res.text)).toEqual({
      status: 'ok',
      store: { writable: true },
      engine: { reachable: true },
    });
  });

  it('answers 503 saying which, when DOCKER_HOST points at a missing socket', async () => {
    // given a bot whose DOCKER_HOST names a socket that does not exist
    const broken = await startBotBed({
      scope: SCOPE,
      ports: `${FIRST + 5}-${FIRST + 6}`,
      env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
    });
    bots.push(broken);
    // when its health is asked
    const res = await get(`${broken.url}/healthz`);
    // then 503, the engine unreachable with the reason, the store fine
    expect(res.status).toBe(503);
    const body = JSON.parse(res.text) as { status: string; store: unknown; engine: { error: string } };
    expect(body).toMatchObject({
      status: 'degraded',
      store: { writable: true },
      engine: { reachable: false },
    });
    expect(body.engine.error).toMatch(/not reachable at unix:\/\/\/nonexistent\/docker\.sock \(ENOENT\)/);
  });
});

describe('GET /metrics', () => {
  it('counts commands by name and outcome and times Docker calls', async () => {
    // given a list, an unknown command and a launch with an unknown flag
    const s = await healthy.slash('list', 'UALICE');
    await healthy.waitForResponse(s.id);
    await healthy.slash('frobnicate', 'UALICE');
    await healthy.slash('launch --color red', 'UALICE');

    // when the metrics are scraped
    const res = await get(`${healthy.url}/metrics`);

    // then Prometheus text with the counters, the Docker latency histogram and the pool gauge
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/text\/plain/);
    expect(res.text).toContain('# TYPE spreadserve_commands_total counter');
    expect(res.text).toContain('spreadserve_commands_total{command="list",outcome="ok"} 1');
    expect(res.text).toContain('spreadserve_commands_total{command="unknown",outcome="usage"} 1');
    expect(res.text).toContain('spreadserve_commands_total{command="launch",outcome="usage"} 1');
    expect(res.text).toContain('# TYPE spreadserve_docker_call_seconds histogram');
    expect(res.text).toMatch(/spreadserve_docker_call_seconds_count\{method="list",outcome="ok"\} [1-9]/);
    expect(res.text).toContain('spreadserve_ports{state="free"} 5');
    expect(res.text).toContain('spreadserve_instances 0');
  });
});

describe('ack first', () => {
  it('acknowledges launch, list and status at once while Docker hangs', async () => {
    // given a bot whose Docker engine accepts connections and never answers
    const engine = await hangingServer();
    try {
      const stuck = await startBotBed({
        scope: SCOPE,
        ports: `${FIRST + 7}-${FIRST + 8}`,
        env: { DOCKER_HOST: `tcp://127.0.0.1:${engine.port}` },
      });
      bots.push(stuck);
      // when commands that need Docker arrive
      const launch = await stuck.slash('launch demo', 'UALICE');
      const list = await stuck.slash('list', 'UALICE');
      const status = await stuck.slash('status', 'UALICE');
      // then each is acknowledged within Slack's 3 s all the same, launch saying what it does
      for (const s of [launch, list, status]) {
        expect(s.ack.status).toBe(200);
        expect(s.ack.ms).toBeLessThan(3000); // Slack's limit; Docker never answers at all
      }
      expect(textOf(launch.ack.json)).toBe('⏳ Launching demo…');
      // and /healthz says the engine does not answer, within its own bound
      const res = await get(`${stuck.url}/healthz`);
      expect(res.status).toBe(503);
      expect(res.text).toContain('Docker did not answer within 2s.');
    } finally {
      await engine.close();
    }
  });
});
