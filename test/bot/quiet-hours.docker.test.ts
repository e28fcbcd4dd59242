// Quiet hours (issue 14 item 2): with QUIET_HOURS=20:00-08:00, an idle instance whose owner is in
// their quiet hours gets no warning DM until they end; then it does, and it is not reclaimed before
// IDLE_WARNING has run from that delivery. The owner's zone comes from Slack's users.info (the
// stand-in answers alice in Tokyo, bob in London); a CLI owner is on the server's clock. The real
// Bolt app over HTTP on the real Docker engine; only Slack is the stand-in. Time is a ManualClock
// the reclaim pass reads, so a night takes no night.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zoneOffsetMs } from '../../core/quiet-hours.ts';
import { serverTimeZone } from '../../core/time-zones.ts';
import { ManualClock } from '../../lib/clock.ts';
import { type BotBed, startBotBed } from '../support/bot.ts';
import { scopeContainers } from '../support/docker.ts';
import { buildImage } from '../support/services.ts';
import type { Body } from '../support/slack-stand-in.ts';

/** Waits for another run of this file to finish, then builds the image. */
const BEFORE_ALL_MS = 300_000;

const SCOPE = 'test-bot-quiet-hours';
const FIRST = 25180;
const LAST = 25199;
const ALICE = 'UALICE'; // Asia/Tokyo, UTC+9
const BOB = 'UBOB'; // Europe/London, UTC+0 in March
const CAROL = 'cli:carol'; // no Slack zone: the server's
const MIN = 60_000;
const GRACE = 15 * MIN; // IDLE_WARNING's default

// 09:55 UTC: 18:55 in Tokyo, 09:55 in London.
const clock = new ManualClock(Date.parse('2026-03-02T09:55:00Z'));
let b: BotBed;

const store = () => b.bot.services.store.read();
const pass = () => b.bot.services.reclaimer.run({ trigger: 'schedule' });
const at = (iso: string) => clock.set(Date.parse(iso));

/** The warning DMs posted to `user`. */
const warningsTo = (user: string): Body[] =>
  b.postsTo(`D${user}`).filter((dm) => !/was stopped/.test(String(dm.text)));

const warnedIn = (report: Awaited<ReturnType<typeof pass>>) =>
  report.actions.filter((a) => a.kind === 'warn').map((a) => a.instance);
const reclaimedIn = (report: Awaited<ReturnType<typeof pass>>) =>
  report.actions.filter((a) => a.kind === 'reclaim' && a.outcome === 'done').map((a) => a.instance);

/** `user` launches `name` with the slash command and waits until it is up. */
async function launchBySlack(user: string, name: string): Promise<void> {
  const { id, ack } = await b.slash(`launch demo --name ${name}`, user);
  expect(ack.status).toBe(200);
  await b.waitForResponse(id, (r) => /is up at/.test(JSON.stringify(r)), 60_000);
}

beforeAll(async () => {
  // startBotBed removes what an interrupted earlier run of this file left behind; its reclaim
  // schedule fires once a year: the test runs each pass itself, on its clock.
  b = await startBotBed({
    scope: SCOPE,
    ports: `${FIRST}-${LAST}`,
    env: { QUIET_HOURS: '20:00-08:00' },
    standIn: {
      users: {
        [ALICE]: { tz: 'Asia/Tokyo', tz_offset: 32_400 },
        [BOB]: { tz: 'Europe/London', tz_offset: 0 },
      },
    },
    clock,
  });
  await buildImage(b.bot.services);
}, BEFORE_ALL_MS);

afterAll(async () => {
  await b?.close();
});

describe('quiet hours in the owner time zone', () => {
  it('holds the warning of an owner in quiet hours, while one in daytime is warned', async () => {
    // given alice (Tokyo) and bob (London) each launch an instance at 09:55 UTC, then leave it idle
    await launchBySlack(ALICE, 'qh-alice');
    await launchBySlack(BOB, 'qh-bob');
    expect((await pass()).baselined).toEqual(expect.arrayContaining(['qh-alice', 'qh-bob']));

    // when a pass runs at 12:00 UTC, both idle past IDLE_TIMEOUT (2h): 21:00 in Tokyo, 12:00 in London
    at('2026-03-02T12:00:00Z');
    const report = await pass();

    // then bob is warned by DM, and alice is not: no DM, no warning recorded, none audited
    expect(warnedIn(report)).toEqual(['qh-bob']);
    expect(warningsTo(BOB)).toHaveLength(1);
    expect(warningsTo(ALICE)).toHaveLength(0);
    expect(store().instances['qh-alice']?.warning).toBeUndefined();
    expect(
      store()
        .audit.filter((e) => e.instance === 'qh-alice')
        .map((e) => e.action),
    ).toEqual(['launch']);
    // and the zones were asked of Slack
    expect(b.slack.calls('users.info').map((c) => c.body.user)).toEqual(expect.arrayContaining([ALICE, BOB]));
  });

  it('still holds it through the night, and delivers it at the first pass after quiet hours end', async () => {
    // when a pass runs at 22:55 UTC (07:55 in Tokyo): still quiet; bob's warned instance is reclaimed
    at('2026-03-02T22:55:00Z');
    const night = await pass();
    expect(warnedIn(night)).toEqual([]);
    expect(reclaimedIn(night)).toEqual(['qh-bob']);
    expect(warningsTo(ALICE)).toHaveLength(0);
    expect(store().instances['qh-alice']?.state).toBe('running');

    // when a pass runs at 23:00 UTC: 08:00 in Tokyo, quiet hours over
    at('2026-03-02T23:00:00Z');
    const morning = await pass();

    // then alice gets the warning DM now, its deadline IDLE_WARNING from now
    expect(warnedIn(morning)).toEqual(['qh-alice']);
    expect(warningsTo(ALICE)).toHaveLength(1);
    expect(store().instances['qh-alice']?.warning).toMatchObject({
      reason: 'idle',
      at: clock.now(),
      deadline: clock.now() + GRACE,
    });
  });

  it('does not reclaim it before the warning period has run from delivery, then does', async () => {
    // when a pass runs a minute before the deadline: still running
    at('2026-03-02T23:14:00Z');
    expect(reclaimedIn(await pass())).toEqual([]);
    expect(scopeContainers(SCOPE, { instance: 'qh-alice' })).toHaveLength(1);
    // when a pass runs after it: reclaimed
    at('2026-03-02T23:16:00Z');
    expect(reclaimedIn(await pass())).toEqual(['qh-alice']);
    expect(scopeContainers(SCOPE, { instance: 'qh-alice' })).toHaveLength(0);
    expect(
      store()
        .audit.filter((e) => e.instance === 'qh-alice')
        .map((e) => e.action),
    ).toEqual(['launch', 'warn', 'reclaim']);
  });

  it("reads a CLI owner's quiet hours on the server's clock, without asking Slack", async () => {
    // given the server zone's 18:55 on 5 March, when carol launches from the CLI
    const zone = serverTimeZone();
    const local = (iso: string) => Date.parse(iso) - zoneOffsetMs(zone, Date.parse(iso));
    clock.set(local('2026-03-05T18:55:00Z'));
    const carol = { id: CAROL, role: 'user' as const };
    await b.bot.services.instances.launch({ actor: carol, template: 'demo', name: 'qh-carol' });
    expect((await pass()).baselined).toContain('qh-carol');

    // when a pass runs at 21:00 server time, idle past IDLE_TIMEOUT: held
    clock.set(local('2026-03-05T21:00:00Z'));
    expect(warnedIn(await pass())).toEqual([]);
    expect(store().instances['qh-carol']?.warning).toBeUndefined();

    // when a pass runs at 08:00 server time the next morning: warned
    clock.set(local('2026-03-06T08:00:00Z'));
    expect(warnedIn(await pass())).toEqual(['qh-carol']);
    expect(store().instances['qh-carol']?.warning?.deadline).toBe(clock.now() + GRACE);

    // and Slack was never asked for carol's zone
    expect(b.slack.calls('users.info').map((c) => c.body.user)).not.toContain(CAROL);
  });
});
