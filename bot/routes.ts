// The HTTP routes beside Slack's: GET /healthz (200 when Docker answers and the store takes
// writes, else 503 saying which) and GET /metrics (Prometheus).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CustomRoute } from '@slack/bolt';
import type { Health, Probe } from '../core/health.ts';
import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from './metrics.ts';

/** How long /healthz waits for Docker before it says it does not answer. */
const HEALTH_TIMEOUT_MS = 2_000;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** 200 when the store is writable and the engine answers, else 503; the body says which. */
export async function healthAnswer(
  health: Health,
): Promise<{ ok: boolean; body: Probe & { status: string } }> {
  const { engine, store } = await health.probe(HEALTH_TIMEOUT_MS);
  const ok = store.writable && engine.reachable;
  return { ok, body: { status: ok ? 'ok' : 'degraded', store, engine } };
}

export function httpRoutes(deps: { health: Health; metrics: Metrics; log: Logger }): CustomRoute[] {
  const { health, metrics, log } = deps;
  return [
    {
      path: '/healthz',
      method: ['GET'],
      handler: (_req: IncomingMessage, res: ServerResponse) => {
        void healthAnswer(health).then(({ ok, body }) => sendJson(res, ok ? 200 : 503, body));
      },
    },
    {
      path: '/metrics',
      method: ['GET'],
      handler: (_req: IncomingMessage, res: ServerResponse) => {
        void metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': metrics.registry.contentType });
            res.end(text);
          },
          (err: unknown) => {
            log.error({ err: describeError(err) }, 'could not collect metrics');
            sendJson(res, 500, { error: 'metrics unavailable' });
          },
        );
      },
    },
  ];
}
