// The launch modal (issue 14 item 5) through the real Bolt app over HTTP on the real Docker
// engine; only Slack is the stand-in, which records views.open, the DM and views.publish. The
// App Home's Launch button and the global shortcut open the modal; a submission launches through
// the `launch` command, and the result arrives by DM and in the App Home; bad, forged and
// unauthorised submissions get one sentence and launch nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchModalIds } from '../../bot/launch-modal.ts';
import { NAME_HINT } from '../../core/labels.ts';
import { type BotBed, shown, startBotBed, textOf } from '../support/bot.ts';
import { httpGet, scopeContainers, waitForHttp200 } from '../support/docker.ts';
import { buildImage } from '../support/services.ts';
import { globalShortcut, newTriggerId, viewSubmission } from '../support/slack-requests.ts';
import type { Body } from '../support/slack-stand-in.ts';

/** Waits for another run of this file to finish (test/support/bot.ts), then builds the image. */
const BEFORE_ALL_MS = 300_000;

const SCOPE = 'test-bot-launch-modal';
const FIRST = 25220;
const LAST = 25239;
const ALICE = 'UALICE';
const ADMIN = 'UADMIN';
const MALLORY = 'UMALLORY'; // not in SPREADSERVE_USERS
let b: BotBed;

const containers = (instance: string) => scopeContainers(SCOPE, { instance });
const store = () => b.bed.services.store.read();

/** The modal's inputs as Slack sends them on submission. */
function values(template: string | null, name = '', ttl = '') {
  return {
    template: {
      template: { type: 'static_select', selected_option: template === null ? null : { value: template } },
    },
    name: { name: { type: 'plain_text_input', value: name || null } },
    ttl: { ttl: { type: 'plain_text_input', value: ttl || null } },
  };
}

/** `user` submits the modal; returns the ack (the HTTP answer). */
async function submit(user: string, v: ReturnType<typeof values>, metadata = '{"from":"home"}') {
  const answer = await b.post(
    viewSubmission({ userId: user, callbackId: launchModalIds.view, values: v, privateMetadata: metadata }),
  );
  expect(answer.status).toBe(200);
  expect(answer.ms).toBeLessThan(3000);
  return answer;
}

/** The DMs posted to `user` whose text matches. */
const dmsTo = (user: string, match: RegExp): Body[] =>
  b.slack
    .calls('chat.postMessage')
    .map((c) => c.body)
    .filter((m) => m.channel === `D${user}` && match.test(String(m.text)));

/** The App Home views published for `user`, in order. */
const homesOf = (user: string): Body[] =>
  b.slack
    .calls('views.publish')
    .map((c) => c.body)
    .filter((c) => c.user_id === user);

/** Checks a modal's open: one views.open with this trigger and the launch modal. */
async function modalOpenedFor(triggerId: string): Promise<Body> {
  const call = await b.slack.waitFor(
    (s) => s.calls('views.open').find((c) => c.body.trigger_id === triggerId),
    { timeoutMs: 3000, message: `no views.open for ${triggerId}` },
  );
  const view = call.body.view as Body;
  expect(view.type).toBe('modal');
  expect(view.callback_id).toBe(launchModalIds.view);
  expect(shown(view)).toContain('"value":"demo"');
  return view;
}

beforeAll(async () => {
  b = await startBotBed({
    scope: SCOPE,
    ports: `${FIRST}-${LAST}`,
    env: { SPREADSERVE_ADMINS: ADMIN, SPREADSERVE_USERS: ALICE },
  });
  await buildImage(b.bed.services);
}, BEFORE_ALL_MS);

afterAll(async () => {
  await b?.close();
});

describe('opening the launch modal', () => {
  it('App Home has a Launch button, and clicking it opens the modal', async () => {
    // given alice opens the App Home
    await b.event({ type: 'app_home_opened', user: ALICE });
    const home = await b.slack.waitFor(() => homesOf(ALICE)[0], { message: 'no App Home' });
    // then it has the Launch button
    expect(shown(home.view)).toContain(`"action_id":"${launchModalIds.homeButton}"`);
    // when she clicks it
    const triggerId = newTriggerId();
    const answer = await b.click({
      userId: ALICE,
      actionId: launchModalIds.homeButton,
      value: 'launch',
      source: 'home',
      blockId: 'home:launch',
      triggerId,
    });
    expect(answer.status).toBe(200);
    // then the modal opens with that trigger, from the home
    const view = await modalOpenedFor(triggerId);
    expect(view.private_metadata).toBe('{"from":"home"}');
  });

  it('the global shortcut opens the modal', async () => {
    const triggerId = newTriggerId();
    const answer = await b.post(
      globalShortcut({ userId: ALICE, callbackId: launchModalIds.shortcut, triggerId }),
    );
    expect(answer.status).toBe(200);
    expect(answer.ms).toBeLessThan(3000);
    const view = await modalOpenedFor(triggerId);
    expect(view.private_metadata).toBe('{"from":"shortcut"}');
  });
});

describe('submitting the launch modal', () => {
  it('launches the template under the name; the result arrives by DM and in the App Home', async () => {
    const homesBefore = homesOf(ALICE).length;
    // when alice submits demo, named lm-sheet, for 2h
    const answer = await submit(ALICE, values('demo', 'lm-sheet', '2h'));
    // then the modal closes (an empty ack)
    expect(answer.body).toBe('');
    // and the DM says it is up, with its URL
    const [dm] = await b.slack.waitFor(
      () => {
        const found = dmsTo(ALICE, /lm-sheet is up at/);
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 30_000, message: 'no DM saying lm-sheet is up' },
    );
    expect(String(dm?.text)).toMatch(/lm-sheet is up at http:\/\/127\.0\.0\.1:252[23]\d/);
    // and the instance runs as alice's, with the lifetime, and answers over HTTP
    const record = store().instances['lm-sheet'];
    expect(record).toMatchObject({ template: 'demo', owner: ALICE, state: 'running' });
    expect((record?.expiresAt ?? 0) - (record?.createdAt ?? 0)).toBe(2 * 3_600_000);
    expect(containers('lm-sheet')).toHaveLength(1);
    const at = `http://127.0.0.1:${record?.port}/`;
    await waitForHttp200(at);
    expect((await httpGet(at))?.status).toBe(200);
    // and the App Home is published again, the launch's line first, the instance listed
    const home = await b.slack.waitFor(() => homesOf(ALICE)[homesBefore], { message: 'no republished home' });
    const blocks = (home.view as { blocks: unknown[] }).blocks;
    expect(shown(blocks[0])).toContain('lm-sheet is up at');
    expect(shown(blocks)).toContain('*lm-sheet*');
    // and it is audited as alice's launch
    expect(
      store()
        .audit.filter((e) => e.instance === 'lm-sheet')
        .map((e) => [e.action, e.actor]),
    ).toEqual([['launch', ALICE]]);
  });

  it('answers a bad name in the modal with the name rule, and launches nothing', async () => {
    const before = store().audit.length;
    const answer = await submit(ALICE, values('demo', 'Bad Name!'));
    expect(answer.json).toEqual({
      response_action: 'errors',
      errors: { name: `"Bad Name!" is not a valid name: ${NAME_HINT}.` },
    });
    expect(store().audit.length).toBe(before);
    expect(Object.keys(store().instances)).toEqual(['lm-sheet']);
  });

  it('refuses forged templates and a forged form in one sentence, and launches nothing', async () => {
    const before = store().audit.length;
    for (const t of ['__proto__', 'no-such']) {
      const answer = await submit(ALICE, values(t, 'lm-forged'));
      expect(answer.json, t).toEqual({
        response_action: 'errors',
        errors: { template: `There is no template "${t}": choose one from the list; nothing was launched.` },
      });
    }
    for (const metadata of ['', '{"from":"home","owner":"UADMIN"}', '__proto__']) {
      const answer = await submit(ALICE, values('demo', 'lm-forged'), metadata);
      expect(answer.json, metadata).toEqual({
        response_action: 'errors',
        errors: { template: 'That launch form is not one this bot made: nothing was launched.' },
      });
    }
    expect(containers('lm-forged')).toHaveLength(0);
    expect(store().audit.length).toBe(before);
    expect(Object.keys(store().instances)).toEqual(['lm-sheet']);
  });

  it('refuses a user outside SPREADSERVE_USERS by DM, in one sentence, and launches nothing', async () => {
    const answer = await submit(MALLORY, values('demo', 'lm-mallory'));
    expect(answer.body).toBe('');
    const [dm] = await b.slack.waitFor(
      () => {
        const found = dmsTo(MALLORY, /./);
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 10_000, message: 'no DM to mallory' },
    );
    expect(String(dm?.text)).toMatch(/^⚠️ You are not allowed to launch[^\n]*SPREADSERVE_USERS\.$/);
    expect(containers('lm-mallory')).toHaveLength(0);
    expect(store().instances['lm-mallory']).toBeUndefined();
  });

  it('/spreadserve launch with no arguments still launches the default template', async () => {
    const s = await b.slash('launch', ALICE);
    const reply = await b.waitForResponse(s.id, (r) => /is up at|⚠️/.test(textOf(r)), 30_000);
    expect(textOf(reply)).toMatch(/is up at/);
    const mine = Object.values(store().instances).filter((i) => i.name !== 'lm-sheet');
    expect(mine.map((i) => [i.template, i.owner])).toEqual([['demo', ALICE]]);
  });
});
