// User-group members come from Slack and are cached at most five minutes; a lookup that fails or
// is slow counts as an empty group for half a minute (fails closed, never stalls a command).
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP_CACHE_MS, GROUP_FAILURE_CACHE_MS, SlackGroupDirectory } from '../../bot/groups.ts';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in.ts';

let slack: SlackStandIn;
beforeAll(async () => {
  slack = await startSlackStandIn({ groups: { SOPS: ['UCAROL'] } });
});
afterAll(async () => {
  await slack.close();
});

describe('SlackGroupDirectory', () => {
  it('asks Slack once per group within five minutes, and again after', async () => {
    let now = 1_000_000;
    const client = new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    const groups = new SlackGroupDirectory(client, { now: () => now });
    const lookups = () => slack.calls('usergroups.users.list').length;
    const before = lookups();

    expect(await groups.membersOf('SOPS')).toEqual(['UCAROL']);
    slack.setGroup('SOPS', ['UCAROL', 'UDAVE']);
    now += GROUP_CACHE_MS - 1;
    expect(await groups.membersOf('SOPS')).toEqual(['UCAROL']); // cached
    expect(lookups() - before).toBe(1);

    now += 1;
    expect(await groups.membersOf('SOPS')).toEqual(['UCAROL', 'UDAVE']); // five minutes on: asked again
    expect(lookups() - before).toBe(2);
  });

  it('counts a group Slack fails to list as empty, logs it once, and asks again after a while', async () => {
    let now = 1_000_000;
    const warned: unknown[] = [];
    const client = new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    const groups = new SlackGroupDirectory(client, {
      now: () => now,
      log: { warn: (o: unknown) => warned.push(o) },
    });
    slack.failMethod('usergroups.users.list', 'ratelimited', { times: 1 });
    expect(await groups.membersOf('SOPS')).toEqual([]); // fails closed
    expect(await groups.membersOf('SOPS')).toEqual([]); // not asked again at once
    expect(warned).toHaveLength(1);
    expect(groups.unavailable()).toEqual(['SOPS']);
    now += GROUP_FAILURE_CACHE_MS;
    expect(groups.unavailable()).toEqual([]);
    expect(await groups.membersOf('SOPS')).toContain('UCAROL'); // half a minute on: asked again
  });

  it('gives up on a slow Slack within its bound', async () => {
    const client = new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    const groups = new SlackGroupDirectory(client, { timeoutMs: 300 });
    slack.delayMethod('usergroups.users.list', 5_000);
    try {
      const t0 = performance.now();
      expect(await groups.membersOf('SOPS')).toEqual([]);
      expect(performance.now() - t0).toBeLessThan(1_000);
      expect(groups.unavailable()).toEqual(['SOPS']);
    } finally {
      slack.delayMethod('usergroups.users.list', 0);
    }
  });
});
