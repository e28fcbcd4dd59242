// How the "Slack" worker talks to the bot: signed slash commands with their own response_url,
// POSTed to `<url>/slack/events` and timed to the complete answer.
import http from 'node:http';
import { newTriggerId, type SignedRequest, slashCommand } from '../test/support/slack-requests.ts';
import type { SlackStandIn } from '../test/support/slack-stand-in.ts';

let responseSeq = 0;

/** A slash command `text` from `user`, answering to a fresh response_url of the stand-in. */
export function slashTo(
  slack: SlackStandIn,
  text: string,
  user: string,
): { request: SignedRequest; responseId: string } {
  const responseId = `r${++responseSeq}`;
  const request = slashCommand({
    text,
    userId: user,
    responseUrl: slack.responseUrl(responseId),
    triggerId: newTriggerId(),
  });
  return { request, responseId };
}

export interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** One POST to `<url>/slack/events` over `agent`; rejects on a connection error or timeout. */
export function post(
  url: string,
  request: SignedRequest,
  agent: http.Agent,
  timeoutMs: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = new URL('/slack/events', url);
    const t0 = performance.now();
    const req = http.request(
      target,
      {
        method: 'POST',
        agent,
        headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - t0,
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(request.body);
  });
}
