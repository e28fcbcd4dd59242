import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type BotBed, startBotBed, textOf } from '../support/bot.ts';
import { scopeContainers } from '../support/docker.ts';
import { buildImage, leftovers } from '../support/services.ts';

/** Waits for another run of this file to finish (test/support/bot.ts), then builds the image. */
const BEFORE_ALL_MS = 300_000;

const SCOPE = 'test-bot-faults';
const PORT = 24330; // a pool of one port
const ALICE = 'UALICE';
const CAROL = 'UCAROL'; // a user through the SUSERS group
const MALLORY = 'UMALLORY'; // in no list
let b: BotBed;

const _containers = () => scopeContainers(SCOPE);
const snapshot = () => leftovers(b.bed.services, SCOPE);

/** The response_url answer to `text` typed by `user`, after an immediate ack. */
async function answer(text: string, user: string): Promise<string> {
  const s = await b.slash(text, user);
  expect(s.ack.status).toBe(200);
  expect(s.ack.ms).toBeLessThan(3000);
  const body = await b.waitForResponse(s.id, () => true, 30_000);
  return textOf(body);
}

beforeAll(async () => {
  b = await startBotBed({
    scope: SCOPE,
    ports: String(PORT),
    env: {
      SPREADSERVE_ADMINS: 'SADMINS',
      SPREADSERVE_USERS: `${ALICE},SUSERS`,
      MAX_INSTANCES_PER_USER: '1',
    },
    standIn: { groups: { SADMINS: ['UADMIN'], SUSERS: [CAROL] } },
  });
  await buildImage(b.bed.services);
}, BEFORE_ALL_MS);

afterAll(async () => {
  await b?.close();
});

describe('an internal error', () => {
  it('is answered "Something went wrong (ref …)" and logged in full with that ref', async () => {
    // given the launch failing with an error that is no UserError (its text must not reach alice)
    const spy = vi
      .spyOn(b.bed.services.instances, 'launch')
      .mockRejectedValueOnce(new Error('fatal_error at unix:///var/run/secret.sock'));
    const before = snapshot();

    // when alice launches
    const line = await answer('launch demo --name ft-oops', ALICE).finally(() => spy.mockRestore());

    // then she gets an apology with a ref, no internal text, and nothing was created
    const ref = /^❌ Something went wrong \(ref ([0-9a-f]{6})\); the details are in the bot's log\.$/.exec(
      line,
    )?.[1];
    expect(ref, line).toBeDefined();
    expect(line).not.toContain('fatal_error');
    expect(snapshot()).toEqual(before);
    // and the log has an error line with that ref and the cause
    const entry = b.logs().find((l) => l.ref === ref);
    expect(entry).toMatchObject({ level: 50, command: 'launch' });
    expect(JSON.stringify(entry)).toContain('fatal_error');
    // and no secret reached the log
    const all = JSON.stringify(b.logs());
    expect(all).not.toContain('xoxb-test');
    expect(all).not.toContain('test-signing-secret');
  });

  it('on a button is answered the same way, not as a refusal', async () => {
    // given extend failing with an internal error
    const spy = vi
      .spyOn(b.bed.services.instances, 'extendCapped')
      .mockRejectedValueOnce(new Error('fatal_error in the store'));
    // when alice clicks Extend
    const click = await b.click({
      userId: ALICE,
      actionId: 'extend',
      value: 'nosuch',
      responseId: 'btn-oops',
    });
    expect(click.status).toBe(200);
    const body = await b.waitForResponse('btn-oops').finally(() => spy.mockRestore());
    expect(textOf(body)).toMatch(/^❌ Something went wrong \(ref [0-9a-f]{6}\)/);
  });
});

describe('refusals: one line, nothing created', () => {
  it('refuses someone not in SPREADSERVE_USERS', async () => {
    const before = snapshot();
    const line = await answer('launch demo', MALLORY);
    expect(line).toBe(
      '⚠️ You are not allowed to launch instances; ask an admin to add you to SPREADSERVE_USERS.',
    );
    expect(snapshot()).toEqual(before);
  });

  it('lets a member of a group in SPREADSERVE_USERS launch, taking the only port', async () => {
    const line = await answer('launch demo --name ft-one', CAROL);
    expect(line).toMatch(`ft-one is up at http://127.0.0.1:${PORT}`);
  });

  it('says when the pool is exhausted', async () => {
    const before = snapshot();
    const line = await answer('launch demo --name ft-two', ALICE);
    expect(line).toBe(
      '⚠️ All 1 ports of the pool are in use; stop an instance (see `list all`) or widen SPREADSERVE_PORTS.',
    );
    expect(line).not.toContain('\n');
    expect(snapshot()).toEqual(before);
  });

  it('says when the quota is reached', async () => {
    const before = snapshot();
    const line = await answer('launch demo --name ft-three', CAROL);
    expect(line).toBe('⚠️ You already run 1 of your 1 instances; stop one first.');
    expect(snapshot()).toEqual(before);
  });
});

describe('an unwritable store', () => {
  it('refuses changes saying why, and still serves list and status', async () => {
    // given the store's temp file path taken by a folder, so the next write fails
    const file = b.bed.services.store.file;
    mkdirSync(path.join(path.dirname(file), `.${path.basename(file)}.tmp`));
    const before = snapshot();

    // when carol extends her instance
    const line = await answer('extend ft-one', CAROL);

    // then she is told the store is read-only and why, and nothing changed
    expect(line).toMatch(/^❌ The store \S+ is read-only because writing it failed \(EISDIR\); fix or move/);
    expect(snapshot()).toEqual(before);
    // and list and status still answer
    expect(await answer('list', CAROL)).toMatch(/1 instance of yours:/);
    expect(await answer('status', CAROL)).toMatch(/Degraded: 1 running, 1\/1 ports used, store read-only/);
  });
});
