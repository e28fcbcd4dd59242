// A slow or failing Slack stalls no command: the user-group lookup in the path of every role
// check fails closed within seconds (bot/groups.ts), and the bot's Web API calls are bounded
// (bot/app.ts webClientOptions: a timeout and a short retry budget; test/bot/slack-client.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP_LOOKUP_TIMEOUT_MS } from '../../bot/groups.ts';
import { type BotBed, startBotBed, textOf } from '../support/bot.ts';

/** Waits for another run of this file to finish (test/support/bot.ts). */
const BEFORE_ALL_MS = 300_000;

const SCOPE = 'test-bot-slow';
const PORT = 24340;
const ALICE = 'UALICE'; // a user by id
const CAROL = 'UCAROL'; // a user only through the SUSERS group
const FAILED = 'user-group lookup failed: its members count as none for now';
let b: BotBed;

/** The response_url answer to `text` typed by `user`, and how long it took from the slash command. */
async function answer(text: string, user: string): Promise<{ line: string; ms: number }> {
  const t0 = performance.now();
  const s = await b.slash(text, user);
  expect(s.ack.status).toBe(200);
  expect(s.ack.ms).toBeLessThan(3000);
  const body = await b.waitForResponse(s.id, () => true, 30_000);
  return { line: textOf(body), ms: performance.now() - t0 };
}

beforeAll(async () => {
  b = await startBotBed({
    scope: SCOPE,
    ports: String(PORT),
    env: { SPREADSERVE_ADMINS: 'SADMINS', SPREADSERVE_USERS: `${ALICE},SUSERS` },
    standIn: { groups: { SADMINS: ['UADMIN'], SUSERS: [CAROL] } },
  });
}, BEFORE_ALL_MS);

afterAll(async () => {
  await b?.close();
});

describe('a slow Slack', () => {
  it('answers a command within seconds while the group lookup hangs, as the role without the group', async () => {
    // given Slack taking 20 s to list any user group (no group asked for since the bot started)
    b.slack.delayMethod('usergroups.users.list', 20_000);
    try {
      // when alice (a user by id; admins come from the SADMINS group) asks for her instances
      const first = await answer('list', ALICE);
      // then she is answered as a user within the lookup's bound, and the log says why, once
      expect(first.line).toMatch(/instances/i);
      expect(first.ms).toBeLessThan(GROUP_LOOKUP_TIMEOUT_MS + 2_000);
      expect(
        b
          .logs()
          .filter((l) => l.msg === FAILED)
          .map((l) => l.group),
      ).toEqual(['SADMINS']);
      // and she is no admin meanwhile: `reclaim` is refused in one sentence, without waiting again
      const refused = await answer('reclaim --dry-run', ALICE);
      expect(refused.line).toMatch(
        /^⚠️ Only admins may .* Slack did not list the user group SADMINS just now, so its members count as none for 30s; try again then\.$/,
      );
      expect(refused.ms).toBeLessThan(1_500);
      expect(b.logs().filter((l) => l.msg === FAILED)).toHaveLength(1);
    } finally {
      b.slack.delayMethod('usergroups.users.list', 0);
    }
  });
});

describe('a failing Slack', () => {
  it('refuses a user who is one only through a group Slack cannot list, in one sentence', async () => {
    // given Slack failing the SUSERS lookup (not asked for yet)
    b.slack.failMethod('usergroups.users.list', 'fatal_error', { times: 1 });
    // when carol, a user only through SUSERS, launches
    const { line, ms } = await answer('launch demo --name slow-one', CAROL);
    // then she is refused as someone not in the list would be, nothing of Slack's error shown
    expect(line).toMatch(/^⚠️ You are not allowed to launch instances/);
    expect(line).toMatch(/Slack did not list the user groups SADMINS, SUSERS just now/);
    expect(line).not.toContain('fatal_error');
    expect(ms).toBeLessThan(GROUP_LOOKUP_TIMEOUT_MS + 2_000);
    expect(
      b
        .logs()
        .filter((l) => l.msg === FAILED)
        .map((l) => l.group),
    ).toEqual(['SADMINS', 'SUSERS']);
  });
});
