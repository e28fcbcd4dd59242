// The bot's own HTTP routes next to POST /slack/events: GET /healthz (200 `ok`, or 503 with short
// words only when Docker does not answer or the store is read-only) and GET /metrics (Prometheus text); and the ack never waits for Docker.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
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
  it('answers 200 `ok` and nothing more when the store is writable and the engine answers', async () => {
    const res = await get(`${healthy.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/text\/plain/);
    expect(res.text).toBe('ok\n');
  });

  it('answers 503 `docker unreachable`, without the address, when DOCKER_HOST points at a missing socket', async () => {
    // given a bot whose DOCKER_HOST names a socket that does not exist
    const broken = await startBotBed({
      scope: SCOPE,
      ports: `${FIRST + 5}-${FIRST + 6}`,
      env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
    });
    bots.push(broken);
    // when its health is asked
    const res = await get(`${broken.url}/healthz`);
    // then 503 with the short words only: no DOCKER_HOST, no path, no pid
    expect(res.status).toBe(503);
    expect(res.text).toBe('docker unreachable\n');
    // while `status` (for workspace members) still says why
    const s = await broken.slash('status', 'UALICE');
    expect(JSON.stringify(await broken.waitForResponse(s.id))).toContain('/nonexistent/docker.sock');
  });

  it('answers 503 `store read-only`, without the path or the reason, when the store fails its checks', async () => {
    // given a bot whose store file holds an instance filed under another name
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ss-http-store-'));
    const file = path.join(dir, 'store.json');
    const doc = {
      version: 1,
      instances: {
        'team-a': {
          name: 'team-b',
          owner: 'UALICE',
          template: 'demo',
          port: FIRST + 9,
          state: 'running',
          createdAt: 1,
          lastActivityAt: 1,
        },
      },
      ports: { [FIRST + 9]: { state: 'in-use', instance: 'team-a', since: 1 } },
      builds: [],
      audit: [],
      reclaim: { failures: [] },
    };
    writeFileSync(file, JSON.stringify(doc));
    const second = await startBotBed({
      scope: SCOPE,
      ports: String(FIRST + 9),
      env: { SPREADSERVE_DATA: file },
    });
    bots.push(second);
    // when its health is asked
    const res = await get(`${second.url}/healthz`);
    // then 503 saying the store is read-only, and nothing about where or why
    expect(res.status).toBe(503);
    expect(res.text).toBe('store read-only\n');
    // while the log says which record is wrong
    const logged = JSON.stringify(second.logs());
    expect(logged).toContain('instance \\"team-a\\" whose name is \\"team-b\\"');
    rmSync(dir, { recursive: true, force: true });
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
      expect(res.text).toBe('docker unreachable\n');
    } finally {
      await engine.close();
    }
  });
});
