// The HTTP routes beside Slack's: GET /healthz (200 `ok` when Docker answers and the store takes
// writes, else 503 with short words saying which) and GET /metrics (Prometheus). /healthz needs
// no sign-in, so it says nothing more: the reasons (paths, pids, DOCKER_HOST) go to `status`,
// which workspace members run, and to the log.
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

/** The words /healthz may say: `ok`, or which dependency fails. */
export type HealthWord = 'ok' | 'docker unreachable' | 'store read-only';

/** 200 `ok` when the store is writable and the engine answers, else 503 and the failing parts. */
export async function healthAnswer(health: Health): Promise<{ ok: boolean; words: string; probe: Probe }> {
  const probe = await health.probe(HEALTH_TIMEOUT_MS);
  const failing: HealthWord[] = [];
  if (!probe.engine.reachable) failing.push('docker unreachable');
  if (!probe.store.writable) failing.push('store read-only');
  return { ok: failing.length === 0, words: failing.length === 0 ? 'ok' : failing.join(', '), probe };
}

export function httpRoutes(deps: { health: Health; metrics: Metrics; log: Logger }): CustomRoute[] {
  const { health, metrics, log } = deps;
  let lastWords = 'ok';
  return [
    {
      path: '/healthz',
      method: ['GET'],
      handler: (_req: IncomingMessage, res: ServerResponse) => {
        void healthAnswer(health).then(({ ok, words, probe }) => {
          // The reasons go to the log once per change, not on every poll.
          if (words !== lastWords) (ok ? log.info : log.warn).call(log, { probe }, `/healthz: ${words}`);
          lastWords = words;
          res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(`${words}\n`);
        });
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
