// Told after, too (issue 14 item 3): when the reclaim pass stops an idle instance, its owner gets
// a DM saying what was stopped, why, with the evidence, and a Launch again button. The real Bolt
// app over HTTP on the real Docker engine; only Slack is the stand-in, which records the DM. Time
// is a ManualClock the reclaim pass reads, so "two hours idle" takes no two hours.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.ts';
import { type BotBed, startBotBed, textOf } from '../support/bot.ts';
import { httpGet, scopeContainers, waitForHttp200 } from '../support/docker.ts';
import { buildImage } from '../support/services.ts';
import type { Body } from '../support/slack-stand-in.ts';

/** Waits for another run of this file to finish, then builds the image. */
const BEFORE_ALL_MS = 300_000;

const SCOPE = 'test-bot-told-after';
const FIRST = 25140;
const LAST = 25159;
const ALICE = 'UALICE';
const BOB = 'UBOB';
const ADMIN = 'UADMIN';
const MIN = 60_000;
const IDLE = 2 * 60 * MIN; // IDLE_TIMEOUT's default
const GRACE = 15 * MIN; // IDLE_WARNING's default

const clock = new ManualClock(Date.now());
let b: BotBed;

const containers = (instance: string) => scopeContainers(SCOPE, { instance });
const store = () => b.bot.services.store.read();
const pass = () => b.bot.services.reclaimer.run({ trigger: 'schedule' });

/** What the bot answered at response_url `id` first that matches, within `timeoutMs`. */
const answered = (id: string, match: RegExp = /./, timeoutMs = 30_000) =>
  b.waitForResponse(id, (r) => match.test(textOf(r)), timeoutMs).then(textOf);

let clicks = 0;
/** `user` clicks a Launch again button carrying `value` in a DM; returns the bot's answer there. */
async function clickLaunchAgain(value: string, user: string, match?: RegExp): Promise<string> {
  const responseId = `ta${++clicks}`;
  const ack = await b.click({
    userId: user,
    actionId: 'launch_again',
    value,
    responseId,
    channelId: `D${user}`,
  });
  expect(ack.status).toBe(200);
  expect(ack.ms).toBeLessThan(3000);
  return answered(responseId, match);
}

/** The DMs posted to `user` whose fallback text matches. */
const dmsTo = (user: string, match: RegExp): Body[] =>
  b.postsTo(`D${user}`).filter((dm) => match.test(String(dm.text)));

beforeAll(async () => {
  // startBotBed removes what an interrupted earlier run of this file left behind; its reclaim
  // schedule fires once a year: the test runs each pass itself, on its clock.
  b = await startBotBed({
    scope: SCOPE,
    ports: `${FIRST}-${LAST}`,
    env: { SPREADSERVE_ADMINS: ADMIN },
    clock,
  });
  await buildImage(b.bot.services);
}, BEFORE_ALL_MS);

afterAll(async () => {
  await b?.close();
});

describe('the DM after a reclaim', () => {
  let value = '';

  it('tells the owner of a reclaimed idle instance what was stopped, why, and offers Launch again', async () => {
    // given alice's instance, launched by slash command, that nobody uses
    const launched = await b.slash('launch demo --name ta-sheet', ALICE);
    expect(launched.ack.status).toBe(200);
    await answered(launched.id, /is up at/);
    expect(containers('ta-sheet')).toHaveLength(1);
    expect((await pass()).baselined).toContain('ta-sheet');

    // when it stays idle past IDLE_TIMEOUT (warned), then past the warning's grace (reclaimed)
    clock.advance(IDLE + MIN);
    const warned = await pass();
    expect(warned.actions.map((a) => [a.kind, a.instance])).toEqual([['warn', 'ta-sheet']]);
    expect(dmsTo(ALICE, /was stopped/)).toHaveLength(0); // warned, not yet told after
    clock.advance(GRACE + MIN);
    const reclaimed = await pass();

    // then the pass stopped it and says alice was told by DM
    const action = reclaimed.actions.find((a) => a.kind === 'reclaim' && a.instance === 'ta-sheet');
    expect(action?.outcome).toBe('done');
    expect(action?.notified).toEqual({ delivered: true, detail: `DM D${ALICE}` });
    expect(containers('ta-sheet')).toHaveLength(0);
    expect(store().instances['ta-sheet']).toBeUndefined();

    // and the DM (after a conversations.open for alice) names it, the reason and the evidence
    expect(b.slack.calls('conversations.open').map((c) => c.body.users)).toContain(ALICE);
    const [dm] = dmsTo(ALICE, /^♻️ ta-sheet was stopped at .* \(idle\)/);
    expect(dm).toBeDefined();
    const shown = JSON.stringify(dm?.blocks);
    expect(shown).toContain('*ta-sheet* was stopped');
    expect(shown).toContain('it looked idle');
    expect(shown).toMatch(/no use since <!date\^\d+\^[^|]+\|[^>]+> \(2h\d*m? ago\)/);
    expect(shown).toMatch(/Since then it sent \d+(\.\d+)? (B|KiB) and received/);
    expect(shown).toMatch(/\*Lifetime:\* it ran for 2h\d+m/);
    // with one Launch again button carrying the template and the name
    const button =
      /"action_id":"launch_again","text":\{[^}]*"text":"Launch again"[^}]*\},"value":"((?:[^"\\]|\\.)*)"/.exec(
        shown,
      );
    expect(button).not.toBeNull();
    value = JSON.parse(`"${button?.[1]}"`) as string;
    expect(JSON.parse(value)).toEqual({ template: 'demo', name: 'ta-sheet', owner: ALICE });

    // and the reclaim is audited once, as before: the DM adds no entry
    const entries = store().audit.filter((e) => e.instance === 'ta-sheet');
    expect(entries.map((e) => e.action)).toEqual(['launch', 'warn', 'reclaim']);
  });

  it('refuses a click by another user who is no admin, in a sentence, and launches nothing', async () => {
    // when bob clicks alice's button (a signed request as Slack would send it)
    const line = await clickLaunchAgain(value, BOB);
    // then he is told who may, and nothing runs under that name
    expect(line).toBe('⚠️ Only UALICE (its owner) or an admin may launch again ta-sheet.');
    expect(containers('ta-sheet')).toHaveLength(0);
    expect(store().instances['ta-sheet']).toBeUndefined();
  });

  it('refuses a forged value in a sentence and creates nothing', async () => {
    const before = store().audit.length;
    // given values no DM of this bot carries: not JSON, __proto__ everywhere, an unknown template
    const forged = [
      '__proto__',
      '{"__proto__":{"owner":"UBOB"},"template":"demo","name":"ta-x1","owner":"UALICE"}',
      `{"template":"__proto__","name":"ta-x2","owner":"${ALICE}"}`,
      `{"template":"demo","name":"__proto__","owner":"${ALICE}"}`,
      `{"template":"demo","name":"ta-x3","owner":"__proto__"}`,
    ];
    // when alice clicks each
    for (const v of forged) {
      expect(await clickLaunchAgain(v, ALICE), v).toBe(
        '⚠️ That Launch again button is not one this bot made: nothing was launched.',
      );
    }
    // and one naming a template that does not exist
    const unknown = await clickLaunchAgain(
      JSON.stringify({ template: 'no-such', name: 'ta-x4', owner: ALICE }),
      ALICE,
    );
    // then each is one sentence, and nothing was launched or audited
    expect(unknown).toMatch(/^⚠️ There is no template "no-such"; known templates: .*\.$/);
    expect(unknown.split('\n')).toHaveLength(1);
    expect(scopeContainers(SCOPE, {})).toHaveLength(0);
    expect(Object.keys(store().instances)).toEqual([]);
    expect(
      store()
        .audit.slice(before)
        .filter((e) => e.action === 'launch'),
    ).toEqual([]);
  });

  it('launches the same template under the same name when the owner clicks, and it answers', async () => {
    // when alice clicks Launch again in her DM
    const line = await clickLaunchAgain(value, ALICE, /is up at|⚠️/);
    // then it is up again: the same name and template, hers, and its URL answers
    expect(line).toMatch(/ta-sheet is up at http:\/\/[^ ]+:251[45]\d/);
    const record = store().instances['ta-sheet'];
    expect(record).toMatchObject({ template: 'demo', owner: ALICE, state: 'running' });
    expect(containers('ta-sheet')).toHaveLength(1);
    const at = `http://127.0.0.1:${record?.port}/`;
    await waitForHttp200(at);
    expect((await httpGet(at))?.status).toBe(200);
    // and its launch is audited as alice's, like any launch
    const launches = store().audit.filter((e) => e.instance === 'ta-sheet' && e.action === 'launch');
    expect(launches.map((e) => e.actor)).toEqual([ALICE, ALICE]);
  });

  it('the same click again is refused by the launch itself: the name is taken', async () => {
    const line = await clickLaunchAgain(value, ALICE);
    expect(line).toMatch(/^⚠️ .*ta-sheet.*/);
    expect(containers('ta-sheet')).toHaveLength(1);
  });

  it('lets an admin launch it again, as the admin', async () => {
    // given ta-sheet stopped again by alice
    await b.bot.services.instances.stop({ id: ALICE, role: 'user' }, 'ta-sheet');
    // when an admin (SPREADSERVE_ADMINS) clicks alice's button
    const line = await clickLaunchAgain(value, ADMIN, /is up at|⚠️/);
    // then it runs again, launched (and so owned) by the admin who clicked
    expect(line).toMatch(/ta-sheet is up at/);
    expect(store().instances['ta-sheet']?.owner).toBe(ADMIN);
    expect(containers('ta-sheet')).toHaveLength(1);
  });
});
