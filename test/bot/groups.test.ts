// User-group members come from Slack and are cached at most five minutes; failures are not cached.
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP_CACHE_MS, SlackGroupDirectory } from '../../bot/groups.ts';
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
    const groups = new SlackGroupDirectory(client, () => now);
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

  it('does not cache a failed lookup', async () => {
    const client = new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    const groups = new SlackGroupDirectory(client, () => 0);
    slack.failMethod('usergroups.users.list', 'ratelimited', { times: 1 });
    await expect(groups.membersOf('SOPS')).rejects.toThrow();
    expect(await groups.membersOf('SOPS')).toContain('UCAROL'); // the next call asks again
  });
});
