// Socket Mode end to end (the manifest's default): the bot, given SLACK_APP_TOKEN, asks the Slack
// stand-in's apps.connections.open (SLACK_API_URL reaches the Socket Mode client) for a WebSocket
// URL, connects to a WebSocket server in this test, which says hello and then sends slash-command
// and button envelopes; the bot acks each envelope_id within 3 s over the socket and answers through
// the response_url.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BotBed, eventually, shown, startBotBed, textOf } from '../support/bot.ts';
import { scopeContainers } from '../support/docker.ts';
import { buildImage } from '../support/services.ts';
import { blockAction, slashCommand } from '../support/slack-requests.ts';
import { type SocketStandIn, startSocketStandIn } from '../support/slack-socket.ts';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in.ts';

/** Waits for another run of this file to finish (test/support/bot.ts), then builds the image. */
const BEFORE_ALL_MS = 300_000;

const SCOPE = 'test-bot-socket';
const FIRST = 24341;
const ALICE = 'UALICE';
const APP_TOKEN = 'xapp-1-A0SPREAD-test';
let socket: SocketStandIn;
let slack: SlackStandIn;
let b: BotBed;
let seq = 0;

/** `/spreadserve <text>` by `user` as a slash_commands envelope: its ack and response_url id. */
async function slash(text: string, user = ALICE) {
  const id = `sock${++seq}`;
  const { payload } = slashCommand({ text, userId: user, responseUrl: slack.responseUrl(id) });
  const ack = await socket.ack(socket.send('slash_commands', payload));
  expect(ack.ms).toBeLessThan(3000);
  return { id, ack };
}

/** A button click by `user` as an interactive envelope: its ack and response_url id. */
async function click(actionId: string, value: string, user = ALICE) {
  const id = `sock${++seq}`;
  const { payload } = blockAction({ userId: user, actionId, value, responseUrl: slack.responseUrl(id) });
  const ack = await socket.ack(socket.send('interactive', payload));
  expect(ack.ms).toBeLessThan(3000);
  return { id, ack };
}

beforeAll(async () => {
  socket = await startSocketStandIn();
  slack = await startSlackStandIn({ socketUrl: socket.url });
  b = await startBotBed({
    scope: SCOPE,
    ports: `${FIRST}-${FIRST + 1}`,
    env: { SLACK_APP_TOKEN: APP_TOKEN },
    slack,
  });
  await socket.connected();
  await buildImage(b.bed.services);
}, BEFORE_ALL_MS);

afterAll(async () => {
  await b?.close();
  await socket?.close();
  await slack?.close();
});

describe('Socket Mode', () => {
  it('opens its connection through SLACK_API_URL with the app token', () => {
    const opened = slack.calls('apps.connections.open');
    expect(opened).toHaveLength(1);
    expect(opened[0]?.token).toBe(APP_TOKEN);
    expect(socket.connections).toBe(1);
  });

  it('answers help in the ack itself', async () => {
    const { ack } = await slash('help');
    expect(shown(ack.payload)).toContain('launch');
  });

  it('acks a launch at once and answers through the response_url', async () => {
    const { id, ack } = await slash('launch demo --name sock-one');
    expect(textOf(ack.payload)).toMatch(/^⏳ /);
    const body = await slack.waitFor((s) => s.responses(id).find((r) => /is up at/.test(textOf(r))), {
      timeoutMs: 30_000,
      message: 'no "is up" answer',
    });
    expect(textOf(body)).toMatch(`sock-one is up at http://127.0.0.1:${FIRST}`);
    expect(scopeContainers(SCOPE, { instance: 'sock-one' })).toHaveLength(1);
  });

  it('acks a Stop button and answers through the response_url', async () => {
    const { id } = await click('stop', 'sock-one');
    const body = await slack.waitFor((s) => s.responses(id)[0], { timeoutMs: 15_000, message: 'no answer' });
    expect(textOf(body)).toMatch(/Stopped sock-one/);
    await eventually(() => scopeContainers(SCOPE, { instance: 'sock-one' }).length === 0, 5_000);
    expect(b.bed.services.store.read().instances['sock-one']).toBeUndefined();
  });

  it('acks every envelope it was sent, once', () => {
    const ids = socket.allAcks().map((a) => a.envelope_id);
    expect(ids).toHaveLength(3); // help, launch, stop
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('reconnects through apps.connections.open when Slack drops the connection, and answers again', async () => {
    socket.drop();
    await socket.opened(2); // the client waits ~5 s before it reconnects
    expect(slack.calls('apps.connections.open')).toHaveLength(2);
    const { ack } = await slash('help');
    expect(shown(ack.payload)).toContain('launch');
  });
});
