// Usage (issue 14 item 4) through the real core: the real Bolt app over HTTP on the real Docker
// engine, only Slack stood in for. Alice launches and stops, bob's instance with an 8h TTL is
// reclaimed idle on a ManualClock (as the reclaim tests drive it), then `usage` answers each of
// them, admins and non-admins, and the weekly digest (USAGE_CRON, here every second) reaches the
// ops channel through the bot's notifier.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.ts';
import { type BotBed, startBotBed, textOf } from '../support/bot.ts';
import { scopeContainers } from '../support/docker.ts';
import { buildImage } from '../support/services.ts';

/** Waits for another run of this file to finish, then builds the image. */
const BEFORE_ALL_MS = 300_000;

const SCOPE = 'test-bot-usage';
const FIRST = 25200;
const LAST = 25219;
const ALICE = 'UALICE';
const BOB = 'UBOB';
const ADMIN = 'UADMIN';
const OPS = 'COPSUSAGE';
const MIN = 60_000;
const HOUR = 60 * MIN;
const IDLE = 2 * HOUR; // IDLE_TIMEOUT's default
const GRACE = 15 * MIN; // IDLE_WARNING's default

const clock = new ManualClock(Date.UTC(2026, 10, 24, 6));
let b: BotBed;

const pass = () => b.bot.services.reclaimer.run({ trigger: 'schedule' });

/** The response_url id of the last command typed. */
let lastId = '';
/** `user` types `/spreadserve <text>`; returns the bot's first answer at its response_url. */
async function typed(user: string, text: string, match: RegExp = /./): Promise<string> {
  const { id, ack } = await b.slash(text, user);
  lastId = id;
  expect(ack.status).toBe(200);
  const inAck = textOf(ack.json);
  if (match.test(inAck) && inAck !== '') return inAck;
  return b.waitForResponse(id, (r) => match.test(textOf(r)), 30_000).then(textOf);
}

beforeAll(async () => {
  // startBotBed removes what an interrupted earlier run of this file left behind; its reclaim
  // schedule fires once a year: the test runs each pass itself, on its clock.
  b = await startBotBed({
    scope: SCOPE,
    ports: `${FIRST}-${LAST}`,
    env: {
      HTTP_BIND: '127.0.0.1',
      // The digest every second, so the test sees it without waiting for Monday.
      USAGE_CRON: '* * * * * *',
      OPS_CHANNEL: OPS,
      SPREADSERVE_ADMINS: ADMIN,
    },
    clock,
  });
  await buildImage(b.bot.services);
}, BEFORE_ALL_MS);

afterAll(async () => {
  await b?.close();
});

describe('usage', () => {
  it('counts launches, stops and an idle reclaim through the real core', async () => {
    // given alice's instance stopped after an hour, and bob's (8h TTL) reclaimed idle
    await typed(ALICE, 'launch demo --name us-alice', /is up at/);
    await typed(BOB, 'launch demo --name us-bob --ttl 8h', /is up at/);
    clock.advance(HOUR);
    await typed(ALICE, 'stop us-alice', /stopped|Stopped/);
    await pass(); // the baseline sample
    clock.advance(IDLE + MIN);
    expect((await pass()).actions.map((a) => [a.kind, a.instance])).toEqual([['warn', 'us-bob']]);
    clock.advance(GRACE + MIN);
    expect((await pass()).actions.map((a) => [a.kind, a.instance, a.outcome])).toEqual([
      ['reclaim', 'us-bob', 'done'],
    ]);
    expect(scopeContainers(SCOPE, {})).toHaveLength(0);

    // when each asks for their own usage (the default: mine, 7 days)
    // then alice ran 1 hour; bob 3h17m (1.0 + 2h01m + 16m), reclaimed with 4h43m of his TTL left
    expect(await typed(ALICE, 'usage')).toMatch(
      /Usage \(yours\) over the last 7 days: 1 instance-hour · 1 launch · 0 reclaimed · 0 idle hours reclaimed\./,
    );
    expect(await typed(BOB, 'usage mine')).toMatch(
      /3\.28 instance-hours · 1 launch · 1 reclaimed · 4\.72 idle hours reclaimed\./,
    );
  });

  it('shows everyone’s to an admin only, and a template’s', async () => {
    // when the admin asks for all, and for the demo template
    const all = await typed(ADMIN, 'usage all');
    const allId = lastId;
    const demo = await typed(ADMIN, 'usage --days 30 demo');
    // then both count the two instances; the reply's blocks name each user
    expect(all).toMatch(/everyone’s\) over the last 7 days: 4\.28 instance-hours · 2 launches · 1 reclaimed/);
    expect(demo).toMatch(/demo’s\) over the last 30 days: 4\.28 instance-hours · 2 launches/);
    const blocks = JSON.stringify(b.slack.responses(allId));
    expect(blocks).toContain('<@UALICE>');
    expect(blocks).toContain('<@UBOB>');
    // and a non-admin is refused everyone's in one sentence, but sees their own part of demo
    expect(await typed(ALICE, 'usage all')).toMatch(
      /Only admins see everyone’s usage; `usage` shows yours\.$/,
    );
    expect(await typed(ALICE, 'usage demo')).toMatch(/your demo\) over the last 7 days: 1 instance-hour ·/);
  });

  it('answers bad input in one sentence', async () => {
    for (const days of ['0', 'abc', '10000']) {
      expect(await typed(ALICE, `usage --days ${days}`)).toMatch(
        new RegExp(`--days takes a whole number of days from 1 to 365, got "${days}"\\. Usage: usage`),
      );
    }
    expect(await typed(ALICE, 'usage nosuch')).toMatch(
      /There is no template "nosuch"; `templates` lists them, or use "mine" or "all"\.$/,
    );
  });

  it('posts the weekly digest to the ops channel when USAGE_CRON fires', async () => {
    // when the digest schedule fires (every second here) after the use above
    const digest = await b.slack.waitFor(
      () => b.postsTo(OPS).find((post) => /4\.28 instance-hours · 2 launches/.test(String(post.text))),
      { timeoutMs: 10_000, message: 'no usage digest in the ops channel' },
    );
    // then it is everyone's last 7 days, with a line per user
    expect(String(digest.text)).toMatch(/^📊 Usage over the last 7 days: 4\.28 instance-hours/);
    expect(JSON.stringify(digest.blocks)).toContain('<@UBOB>');
  });
});
