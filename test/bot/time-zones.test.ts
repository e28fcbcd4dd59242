// Owners' time zones (QUIET_HOURS) come from Slack's users.info and are cached six hours; a lookup
// that fails or is slow counts as the server's zone for half a minute (fails closed, never stalls a
// pass); a CLI owner is on the server's clock without asking.
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackTimeZones, ZONE_CACHE_MS, ZONE_FAILURE_CACHE_MS } from '../../bot/time-zones.ts';
import { serverTimeZone } from '../../core/time-zones.ts';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in.ts';

let slack: SlackStandIn;
beforeAll(async () => {
  slack = await startSlackStandIn({
    users: { UALICE: { tz: 'Asia/Tokyo' }, UBOB: { tz: 'America/Chicago' } },
  });
});
afterAll(async () => {
  await slack.close();
});

const client = () => new WebClient('xoxb-test', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
const asked = (user: string) => slack.calls('users.info').filter((c) => c.body.user === user).length;

describe('SlackTimeZones', () => {
  it('asks Slack once per owner within six hours, and again after', async () => {
    // given a directory on a clock the test moves
    let now = 1_000_000;
    const zones = new SlackTimeZones(client(), { now: () => now });
    // when alice's zone is asked for twice within six hours
    expect(await zones.zoneOf('UALICE')).toBe('Asia/Tokyo');
    now += ZONE_CACHE_MS - 1;
    expect(await zones.zoneOf('UALICE')).toBe('Asia/Tokyo');
    // then Slack was asked once; six hours on, again
    expect(asked('UALICE')).toBe(1);
    now += 1;
    await zones.zoneOf('UALICE');
    expect(asked('UALICE')).toBe(2);
  });

  it("uses the server's zone for a CLI owner without asking Slack", async () => {
    const zones = new SlackTimeZones(client());
    expect(await zones.zoneOf('cli:carol')).toBe(serverTimeZone());
    expect(asked('cli:carol')).toBe(0);
  });

  it("fails closed to the server's zone within the timeout, logs once, and asks again after a while", async () => {
    // given Slack answering users.info only after 2 s, and a 200 ms bound
    let now = 1_000_000;
    const warned: unknown[] = [];
    const zones = new SlackTimeZones(client(), {
      now: () => now,
      timeoutMs: 200,
      log: { warn: (o: unknown) => warned.push(o) },
    });
    slack.delayMethod('users.info', 2_000);
    try {
      // when bob's zone is asked for
      const t0 = Date.now();
      expect(await zones.zoneOf('UBOB')).toBe(serverTimeZone());
      // then it gave up within the bound, and the next lookup does not wait again
      expect(Date.now() - t0).toBeLessThan(1_500);
      expect(await zones.zoneOf('UBOB')).toBe(serverTimeZone());
      expect(warned).toHaveLength(1);
    } finally {
      slack.delayMethod('users.info', 0);
    }
    // and after half a minute Slack is asked again (the late answer may have been cached already)
    now += ZONE_FAILURE_CACHE_MS + ZONE_CACHE_MS;
    expect(await zones.zoneOf('UBOB')).toBe('America/Chicago');
  });

  it("uses the server's zone when Slack refuses the lookup", async () => {
    const zones = new SlackTimeZones(client(), { log: { warn: () => undefined } });
    slack.failMethod('users.info', 'user_not_found', { times: 1 });
    expect(await zones.zoneOf('UDAVE')).toBe(serverTimeZone());
  });
});
