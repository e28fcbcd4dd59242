import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BotBed, eventually, shown, startBotBed, textOf } from '../support/bot.ts';
import { scopeContainers } from '../support/docker.ts';
import { buildImage } from '../support/services.ts';
import { blockAction, newTriggerId } from '../support/slack-requests.ts';

/** Waits for another run of this file to finish (test/support/bot.ts), then builds the image. */
const BEFORE_ALL_MS = 300_000;

const SCOPE = 'test-bot-buttons';
const FIRST = 24310;
const ALICE = 'UALICE';
const BOB = 'UBOB';
const CAROL = 'UCAROL'; // in the ops user group, so an admin
const OPS = 'SOPS';
let b: BotBed;

const containers = (instance: string) => scopeContainers(SCOPE, { instance });

/** Alice launches `name` by slash command and waits until it is up. */
async function launched(name: string, user = ALICE): Promise<void> {
  const s = await b.slash(`launch demo --name ${name}`, user);
  await b.waitForResponse(s.id, (r) => /is up at/.test(textOf(r)), 30_000);
  expect(containers(name)).toHaveLength(1);
}

let clicks = 0;
/** `user` clicks `action` on `instance` in an ephemeral message; returns what the bot answered there. */
async function click(action: string, instance: string, user: string): Promise<string> {
  const responseId = `click${++clicks}`;
  const answer = await b.click({ userId: user, actionId: action, value: instance, responseId });
  expect(answer.status).toBe(200);
  expect(answer.ms).toBeLessThan(3000);
  return textOf(await b.waitForResponse(responseId, () => true, 15_000));
}

beforeAll(async () => {
  b = await startBotBed({
    scope: SCOPE,
    ports: `${FIRST}-${FIRST + 9}`,
    env: { SPREADSERVE_ADMINS: `UADMIN,${OPS}` },
    standIn: { groups: { [OPS]: [CAROL] } },
  });
  await buildImage(b.bed.services);
}, BEFORE_ALL_MS);

afterAll(async () => {
  await b?.close();
});

describe('Stop button', () => {
  it('refuses a non-owner in one line and leaves the instance running', async () => {
    // given alice's instance
    await launched('bt-alpha');
    // when bob clicks its Stop button
    const line = await click('stop', 'bt-alpha', BOB);
    // then he is told who may stop it, and it still runs
    expect(line).toMatch(/^⚠️ Only UALICE \(its owner\) or an admin may stop bt-alpha\.$/);
    expect(containers('bt-alpha')).toHaveLength(1);
    expect(b.bed.services.store.read().instances['bt-alpha']).toBeDefined();
  });

  it('stops it when its owner clicks', async () => {
    const line = await click('stop', 'bt-alpha', ALICE);
    expect(line).toMatch(/Stopped bt-alpha; port 24310 is free again/);
    await eventually(() => containers('bt-alpha').length === 0, 5_000);
    expect(b.bed.services.store.read().instances['bt-alpha']).toBeUndefined();
  });

  it("lets an admin through a user group stop someone else's", async () => {
    // given alice's instance, and carol who is only in the SOPS group named in SPREADSERVE_ADMINS
    await launched('bt-beta');
    // when carol clicks Stop
    const line = await click('stop', 'bt-beta', CAROL);
    // then it is stopped, and the group's members were asked of Slack
    expect(line).toMatch(/Stopped bt-beta/);
    await eventually(() => containers('bt-beta').length === 0, 5_000);
    expect(b.slack.calls('usergroups.users.list').map((c) => c.body.usergroup)).toContain(OPS);
  });
});

describe('Extend button', () => {
  it('keeps the instance for 2h when its owner clicks, and refuses others', async () => {
    await launched('bt-gamma');
    expect(await click('extend', 'bt-gamma', BOB)).toMatch(
      /Only UALICE \(its owner\) or an admin may extend bt-gamma/,
    );
    expect(await click('extend', 'bt-gamma', ALICE)).toMatch(/bt-gamma is kept until .* UTC/);
    const record = b.bed.services.store.read().instances['bt-gamma'];
    expect(record?.keepUntil).toBeGreaterThan(Date.now() + 110 * 60_000);
  });
});

describe('App Home', () => {
  it("publishes the user's instances with their buttons when the tab opens", async () => {
    // given alice runs bt-gamma (and bob runs bt-delta)
    await launched('bt-delta', BOB);
    const before = b.slack.calls('views.publish').length;

    // when alice opens the App Home tab
    const answer = await b.event({ type: 'app_home_opened', user: ALICE });
    expect(answer.status).toBe(200);

    // then a home view for alice is published: bt-gamma with Stop and Extend, not bob's bt-delta
    const call = await b.slack.waitFor((s) => s.calls('views.publish')[before], {
      message: 'no views.publish',
    });
    expect(call.token).toBe('xoxb-test');
    expect(call.body.user_id).toBe(ALICE);
    const view = call.body.view as { type: string; blocks: unknown[] };
    expect(view.type).toBe('home');
    const blocks = shown(view.blocks);
    expect(blocks).toContain('*Your instances* (1)');
    expect(blocks).toContain('bt-gamma');
    expect(blocks).not.toContain('bt-delta');
    expect(blocks).toMatch(/"action_id":"stop","text":\{[^}]*"text":"Stop"[^}]*\},"value":"bt-gamma"/);
    expect(blocks).toMatch(/"action_id":"extend","text":\{[^}]*"text":"Extend"[^}]*\},"value":"bt-gamma"/);
  });

  it('a Stop click in App Home stops it and republishes the home view', async () => {
    const before = b.slack.calls('views.publish').length;
    const answer = await b.click({ userId: ALICE, actionId: 'stop', value: 'bt-gamma', source: 'home' });
    expect(answer.status).toBe(200);
    const call = await b.slack.waitFor((s) => s.calls('views.publish')[before], {
      timeoutMs: 15_000,
      message: 'no views.publish after the click',
    });
    const blocks = shown((call.body.view as { blocks: unknown[] }).blocks);
    expect(blocks).toContain('Stopped bt-gamma');
    expect(blocks).toContain('*Your instances* (0)');
    expect(containers('bt-gamma')).toHaveLength(0);
  });
});

describe('the same button twice', () => {
  const audited = (instance: string, action: string) =>
    b.bed.services.store.read().audit.filter((e) => e.instance === instance && e.action === action);
  const settle = () => new Promise((r) => setTimeout(r, 500));

  it('one Extend clicked twice (the same trigger_id) extends once and answers once', async () => {
    await launched('bt-eps');
    const triggerId = newTriggerId();
    const clickOnce = (responseId: string) =>
      b.click({ userId: ALICE, actionId: 'extend', value: 'bt-eps', triggerId, responseId });
    const [first, second] = await Promise.all([clickOnce('dup-a'), clickOnce('dup-b')]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(Math.max(first.ms, second.ms)).toBeLessThan(3000);
    await b.slack.waitFor((s) => s.responses('dup-a').length + s.responses('dup-b').length > 0, {
      timeoutMs: 15_000,
    });
    await settle();
    expect(audited('bt-eps', 'extend')).toHaveLength(1);
    expect(b.slack.responses('dup-a').length + b.slack.responses('dup-b').length).toBe(1);
  });

  it('a Slack retry of a button (X-Slack-Retry-Num) acts once', async () => {
    const request = blockAction({
      userId: ALICE,
      actionId: 'extend',
      value: 'bt-eps',
      responseUrl: b.slack.responseUrl('retried'),
    });
    const first = await b.post(request);
    const retry = await b.post({
      ...request,
      headers: { ...request.headers, 'X-Slack-Retry-Num': '1', 'X-Slack-Retry-Reason': 'http_timeout' },
    });
    expect([first.status, retry.status]).toEqual([200, 200]);
    await b.waitForResponse('retried', () => true, 15_000);
    await settle();
    expect(audited('bt-eps', 'extend')).toHaveLength(2); // the click above, and this one once
    expect(b.slack.responses('retried')).toHaveLength(1);
  });

  it('Stop clicked twice at once (two trigger_ids) stops once; the other click is told it is gone', async () => {
    const [one, two] = await Promise.all([
      b.click({ userId: ALICE, actionId: 'stop', value: 'bt-eps', responseId: 'stop-a' }),
      b.click({ userId: ALICE, actionId: 'stop', value: 'bt-eps', responseId: 'stop-b' }),
    ]);
    expect([one.status, two.status]).toEqual([200, 200]);
    const answers = [
      textOf(await b.waitForResponse('stop-a', () => true, 15_000)),
      textOf(await b.waitForResponse('stop-b', () => true, 15_000)),
    ];
    expect(answers.filter((t) => /Stopped bt-eps/.test(t))).toHaveLength(1);
    expect(answers.find((t) => !/Stopped bt-eps/.test(t))).toMatch(/^⚠️ .*bt-eps/);
    expect(audited('bt-eps', 'stop')).toHaveLength(1);
    expect(containers('bt-eps')).toHaveLength(0);
  });
});
