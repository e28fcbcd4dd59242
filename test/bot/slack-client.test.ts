// The bot's Slack calls are bounded: each Web API request has a timeout and the retries a short
// budget (bot/app.ts webClientOptions), and response_url posts, which Bolt makes with the client's
// fetch and no deadline of its own, get one from boundedFetch.
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundedFetch, SLACK_CALL_TIMEOUT_MS, SLACK_RETRIES, webClientOptions } from '../../bot/app.ts';
import { loadConfig } from '../../core/config.ts';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in.ts';

let slack: SlackStandIn;
beforeAll(async () => {
  slack = await startSlackStandIn();
});
afterAll(async () => {
  await slack.close();
});

const config = () => loadConfig({ SLACK_API_URL: slack.apiUrl });

describe('webClientOptions', () => {
  it('bounds every request and retries briefly, not for 30 minutes', () => {
    const options = webClientOptions(config());
    expect(options.timeout).toBe(SLACK_CALL_TIMEOUT_MS);
    expect(SLACK_CALL_TIMEOUT_MS).toBeLessThanOrEqual(10_000);
    expect(options.retryConfig).toEqual(SLACK_RETRIES);
    expect(SLACK_RETRIES.retries).toBeLessThanOrEqual(2);
    expect(SLACK_RETRIES.maxRetryTime).toBeLessThanOrEqual(30_000);
    expect(options.slackApiUrl).toBe(slack.apiUrl);
  });

  it('gives up on a Slack that does not answer: each try times out, the retries stop', async () => {
    // (the same options with a shorter timeout and retry gap, so the test takes under a second)
    const client = new WebClient(
      'xoxb-test',
      webClientOptions(config(), { timeout: 200, retryConfig: { ...SLACK_RETRIES, minTimeout: 50 } }),
    );
    slack.delayMethod('chat.postMessage', 10_000);
    try {
      const before = slack.calls('chat.postMessage').length;
      const t0 = performance.now();
      await expect(client.chat.postMessage({ channel: 'COPS', text: 'hi' })).rejects.toThrow();
      // Bounded: three 200 ms tries and short gaps, not the default 30 minutes (generous for a
      // loaded machine, where a try can time out before the stand-in has even seen it).
      expect(performance.now() - t0).toBeLessThan(8_000);
      const tries = slack.calls('chat.postMessage').length - before;
      expect(tries).toBeLessThanOrEqual(1 + (SLACK_RETRIES.retries ?? 0));
      expect(tries).toBeGreaterThanOrEqual(1);
    } finally {
      slack.delayMethod('chat.postMessage', 0);
    }
  });
});

describe('boundedFetch', () => {
  it('gives up on a response_url that does not answer', async () => {
    slack.delayMethod('respond', 10_000);
    try {
      const t0 = performance.now();
      const post = boundedFetch(200)(slack.responseUrl('slow'), { method: 'POST', body: '{}' });
      await expect(post).rejects.toThrow(/timeout|aborted/i);
      expect(performance.now() - t0).toBeLessThan(5_000);
    } finally {
      slack.delayMethod('respond', 0);
    }
  });

  it('keeps the caller’s own signal', async () => {
    const caller = new AbortController();
    const post = boundedFetch(10_000)(slack.responseUrl('cancelled'), {
      method: 'POST',
      signal: caller.signal,
    });
    caller.abort();
    await expect(post).rejects.toThrow();
  });
});
