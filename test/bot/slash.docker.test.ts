import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL } from '../../core/labels.ts';
import { type BotBed, eventually, shown, startBotBed, textOf } from '../support/bot.ts';
import { BASE_IMAGE, dockerSync, scopeContainers, waitForHttp200 } from '../support/docker.ts';
import { buildImage, leftovers } from '../support/services.ts';

/** Waits for another run of this file to finish (test/support/bot.ts), then builds the image. */
const BEFORE_ALL_MS = 300_000;

const SCOPE = 'test-bot-slash';
const FIRST = 24300;
const ALICE = 'UALICE';
const BOB = 'UBOB';
let b: BotBed;

const docker = dockerSync;
const containers = (instance?: string) => scopeContainers(SCOPE, { instance });
const snapshot = () => leftovers(b.bed.services, SCOPE);

/** Sends `text`, returns the one line the user is told: on the ack, or else the first response. */
async function answer(text: string, user = ALICE): Promise<{ line: string; body: unknown }> {
  const s = await b.slash(text, user);
  expect(s.ack.status).toBe(200);
  const ack = s.ack.json as { text?: string } | undefined;
  const refusedOnAck = ack?.text !== undefined && !ack.text.startsWith('⏳');
  const body = refusedOnAck ? ack : await b.waitForResponse(s.id);
  return { line: textOf(body), body };
}

beforeAll(async () => {
  b = await startBotBed({
    scope: SCOPE,
    ports: `${FIRST}-${FIRST + 9}`,
  });
  await buildImage(b.bed.services);
}, BEFORE_ALL_MS);

afterAll(async () => {
  await b?.close();
});

describe('signatures', () => {
  it('answers a forged signature with 401 and runs nothing', async () => {
    // given nothing running
    const before = snapshot();
    // when a launch arrives signed with the wrong secret
    const s = await b.slash('launch demo --name forged', ALICE, { sign: { badSignature: true } });
    // then 401, and after a while still no response_url post and no container
    expect(s.ack.status).toBe(401);
    await new Promise((r) => setTimeout(r, 500));
    expect(s.responses()).toEqual([]);
    expect(snapshot()).toEqual(before);
  });

  it('answers a timestamp older than 5 minutes with 401', async () => {
    const s = await b.slash('help', ALICE, { sign: { staleBySeconds: 301 } });
    expect(s.ack.status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect(s.responses()).toEqual([]);
  });
});

describe('quick commands', () => {
  it('help rides on the ack and names every command', async () => {
    const s = await b.slash('help', ALICE);
    expect(s.ack.status).toBe(200);
    expect(s.ack.ms).toBeLessThan(3000);
    const ack = s.ack.json as { response_type: string; text: string; blocks: unknown[] };
    expect(ack.response_type).toBe('ephemeral');
    expect(ack.text).toMatch(/SpreadServe Bot/);
    for (const name of ['help', 'templates', 'build', 'launch', 'list', 'stop', 'extend', 'status'])
      expect(shown(ack.blocks)).toContain(`/spreadserve ${name}`);
  });

  it('templates lists the demo template and says it is built', async () => {
    const { line, body } = await answer('templates');
    expect(line).toMatch(/1 template, 1 built/);
    expect(shown(body)).toContain('demo');
  });

  it('list with nothing running says so', async () => {
    const { line } = await answer('list');
    expect(line).toMatch(/No instances of yours are running/);
  });

  it('status is posted in the channel', async () => {
    const { line, body } = await answer('status');
    expect((body as { response_type: string }).response_type).toBe('in_channel');
    expect(line).toMatch(/All good: 0 running, 0\/10 ports used/);
  });
});

describe('launch', () => {
  it('acks at once with "Launching…", then posts a URL that answers 200; the container carries labels and SS_OWNER', async () => {
    // when alice types /spreadserve launch demo --name sl-alpha
    const s = await b.slash('launch demo --name sl-alpha', ALICE);

    // then the ack comes at once and says it is launching
    expect(s.ack.status).toBe(200);
    expect(s.ack.ms).toBeLessThan(3000);
    expect(textOf(s.ack.json)).toMatch(/^⏳ Launching demo --name sl-alpha…$/);
    // and the response_url gets the URL, which answers 200
    const done = await b.waitForResponse(s.id, (r) => /is up at/.test(textOf(r)), 30_000);
    expect(done.response_type).toBe('ephemeral');
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(textOf(done))?.[0];
    expect(url).toBe(`http://127.0.0.1:${FIRST}`);
    expect(await waitForHttp200(`${url}/`)).toContain('sl-alpha');
    // and the reply carries Stop and Extend buttons
    expect(shown(done.blocks)).toMatch(/"action_id":"stop"/);
    expect(shown(done.blocks)).toMatch(/"action_id":"extend"/);
    // and Docker runs the container with the labels and the owner in its environment
    const inspected = JSON.parse(docker('inspect', 'spreadserve-sl-alpha'))[0] as {
      Config: { Labels: Record<string, string>; Env: string[] };
    };
    expect(inspected.Config.Labels).toMatchObject({
      [LABEL.managed]: 'true',
      [LABEL.instance]: 'sl-alpha',
      [LABEL.owner]: ALICE,
      [LABEL.template]: 'demo',
      [LABEL.port]: String(FIRST),
    });
    expect(inspected.Config.Env).toContain(`SS_OWNER=${ALICE}`);
  });

  it('list shows it, with its URL', async () => {
    const { line, body } = await answer('list all', BOB);
    expect(line).toMatch(/1 instance:/);
    expect(shown(body)).toContain('sl-alpha');
    expect(shown(body)).toContain(`http://127.0.0.1:${FIRST}`);
  });

  it('acts once when Slack delivers the same command twice', async () => {
    // when the same launch (same trigger_id) arrives twice
    const first = await b.slash('launch demo --name sl-twice', BOB);
    const again = await b.slash('launch demo --name sl-twice', BOB, {
      triggerId: first.triggerId,
      responseId: first.id,
    });
    // then both are acknowledged, and one container runs
    expect([first.ack.status, again.ack.status]).toEqual([200, 200]);
    await b.waitForResponse(first.id, (r) => /is up at/.test(textOf(r)), 30_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(containers('sl-twice')).toHaveLength(1);
    expect(first.responses().filter((r) => /sl-twice/.test(textOf(r)))).toHaveLength(1);
  });

  it('stop by its owner removes it', async () => {
    const { line } = await answer('stop sl-twice', BOB);
    expect(line).toMatch(/Stopped sl-twice; port \d+ is free again/);
    await eventually(() => containers('sl-twice').length === 0, 5_000);
  });
});

describe('bad input: one line, nothing created', () => {
  const cases: [string, string, RegExp][] = [
    ['unknown command', 'frobnicate', /There is no command "frobnicate"; commands: help, /],
    ['unknown template', 'launch nosuch', /There is no template "nosuch"; known templates: demo/],
    ['bad name', 'launch demo --name A', /"A" is not a valid name: names are 2-40 characters/],
    ['shell in the text', 'x; rm -rf /', /There is no command "x;"/],
    ['shell in a name', 'launch demo --name x;rm', /"x;rm" is not a valid name/],
    [
      'shell after a name',
      'launch demo --name x; rm -rf /',
      /Too many arguments; usage: launch \[template\]/,
    ],
    [
      '3000-char text',
      `launch ${'a'.repeat(2993)}`,
      /That command is 3000 characters long; commands are at most 1000/,
    ],
    ['bad duration', 'launch demo --ttl forever', /--ttl "forever" is not a duration/],
    ['unknown flag', 'launch demo --color red', /launch has no --color flag; it takes --name, --ttl/],
    ['name taken', 'launch demo --name sl-alpha', /The name sl-alpha is taken; choose another with --name/],
  ];
  for (const [what, text, expected] of cases) {
    it(`${what}: ${text.slice(0, 40)}`, async () => {
      const before = snapshot();
      const { line } = await answer(text, BOB);
      expect(line).toMatch(expected);
      expect(line).not.toContain('\n');
      expect(line).not.toMatch(/at .*\.ts:\d+|Error:/); // no stack trace
      expect(snapshot()).toEqual(before);
    });
  }

  it('refuses a name whose container belongs to another bot on the host, and leaves that container alone', async () => {
    // given a container spreadserve-sl-foreign of another scope (another bot on the same host)
    const foreign = docker(
      'create',
      '--name',
      'spreadserve-sl-foreign',
      '--label',
      `${LABEL.managed}=true`,
      '--label',
      `${LABEL.scope}=${SCOPE}-other`,
      BASE_IMAGE,
      'true',
    );
    try {
      const before = snapshot();
      // when bob launches an instance of that name
      const { line } = await answer('launch demo --name sl-foreign', BOB);
      // then one line says the name exists, nothing of ours is left, and the other container is still there
      expect(line).toBe('⚠️ A container named spreadserve-sl-foreign already exists.');
      expect(snapshot()).toEqual(before);
      expect(docker('ps', '-aq', '--no-trunc', '--filter', 'name=^/spreadserve-sl-foreign$')).toBe(foreign);
    } finally {
      docker('rm', '-f', foreign);
    }
  });

  it("echoes the user's words escaped, so they cannot mention or link", async () => {
    const s = await b.slash('launch <!channel>', BOB);
    expect(textOf(s.ack.json)).toBe('⏳ Launching &lt;!channel&gt;…');
    const body = await b.waitForResponse(s.id);
    expect(textOf(body)).toBe('⚠️ There is no template "&lt;!channel&gt;"; known templates: demo.');
    expect(shown(body)).not.toContain('<!channel>');
  });
});
