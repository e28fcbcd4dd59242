import { WebClient } from '@slack/web-api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SlackNotifier } from '../../bot/notifier.ts';
import { replyToText } from '../../cli/text.ts';
import { HISTORY_SHOWN } from '../../commands/history.ts';
import { dispatch } from '../../commands/index.ts';
import { createServices, type Services } from '../../core/context.ts';
import { LABEL, managedFilter } from '../../core/labels.ts';
import { networkName } from '../../core/launch.ts';
import type { Notifier, ReclaimReport, ReclaimWarning } from '../../core/notifier.ts';
import type { Actor } from '../../core/policy.ts';
import { DockerEngine } from '../../engine/docker.ts';
import type { ContainerEngine } from '../../engine/types.ts';
import { ManualClock } from '../../lib/clock.ts';
import { mapSettled } from '../../lib/concurrency.ts';
import { createLogger, silentLogger } from '../../lib/log.ts';
import { type BotBed, startBotBed, textOf } from '../support/bot.ts';
import { dockerSync, httpGet, scopeContainers } from '../support/docker.ts';
import {
  admin,
  alice,
  bob,
  buildImage,
  realTemplates,
  type TestBed,
  testBed,
  testConfig,
} from '../support/services.ts';
import { type SlackStandIn, startSlackStandIn } from '../support/slack-stand-in.ts';

const SCOPE = 'test-reclaim';
const FIRST = 24400;
const LAST = 24449;
const MIN = 60_000;
const HOUR = 60 * MIN;
const IDLE = 2 * HOUR; // IDLE_TIMEOUT (default)
const GRACE = 15 * MIN; // IDLE_WARNING (default)
const FLOOR = 16 * 1024; // IDLE_BYTES_FLOOR (default)

/** Records what the pass tells people, as the local shell would print it. */
/** Records what the pass tells; or hands it to a real notifier (`through`), for the Slack test. */
class RecordingNotifier implements Notifier {
  warnings: ReclaimWarning[] = [];
  summaries: ReclaimReport[] = [];
  through: Notifier | undefined;
  async warnOwner(w: ReclaimWarning) {
    if (this.through) return this.through.warnOwner(w);
    this.warnings.push(w);
    return { delivered: true, detail: 'recorded' };
  }
  async opsSummary(r: ReclaimReport) {
    if (this.through) return this.through.opsSummary(r);
    this.summaries.push(r);
  }
  reset() {
    this.warnings = [];
    this.summaries = [];
    this.through = undefined;
  }
}

/** The core's log, one parsed object a line: where the ref of an internal error leads. */
const logged: Record<string, unknown>[] = [];
const log = createLogger('info', { write: (line: string) => void logged.push(JSON.parse(line)) });

/** The ref in a failure's text ("internal error (ref 1a2b3c)"), and the log entry under it. */
function refIn(text: string | undefined): { ref: string; entry: Record<string, unknown> | undefined } {
  const ref = /internal error \(ref ([0-9a-f]{6})\)/.exec(text ?? '')?.[1] ?? `none in "${text}"`;
  return { ref, entry: logged.find((l) => l.ref === ref) };
}

const templates = realTemplates(SCOPE);
const clock = new ManualClock();
const notifier = new RecordingNotifier();
let bed: TestBed;
let services: Services;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const docker = dockerSync;
const running = (name: string) => scopeContainers(SCOPE, { instance: name, running: true }).length === 1;

const pass = (opts: { dryRun?: boolean } = {}) =>
  services.reclaimer.run({ trigger: 'schedule', dryRun: opts.dryRun ?? false });

/** Real HTTP GETs to the instance's page (~1.2 KiB sent by the instance each). */
async function traffic(port: number, requests: number): Promise<void> {
  for (let i = 0; i < requests; i++) {
    const res = await httpGet(`http://127.0.0.1:${port}/`, 2_000);
    expect(res?.status).toBe(200);
  }
}

const actionsOf = (r: ReclaimReport, kind: 'warn' | 'reclaim') =>
  r.actions.filter((a) => a.kind === kind).map((a) => [a.instance, a.reason, a.outcome]);

async function stopAll(s: Services): Promise<void> {
  for (const name of Object.keys(s.store.read().instances))
    await s.instances.stop(admin, name).catch(() => undefined);
}

beforeAll(async () => {
  bed = await testBed({
    scope: SCOPE,
    ports: `${FIRST}-${LAST}`,
    templates,
    clock,
    notifier,
    log,
    env: { MAX_INSTANCES_PER_USER: '0' },
  });
  services = bed.services;
  await buildImage(services, 'demo');
  // The first pass after the bot starts only takes a baseline; get it out of the way.
  const first = await pass();
  expect(first.baselineOnly).toBe(true);
});

afterEach(async () => {
  await stopAll(services);
  notifier.reset();
});

afterAll(async () => {
  await bed?.cleanup();
});

describe('idle instances', () => {
  it('warns an idle instance once, reclaims it after IDLE_WARNING, and its port goes to the next launch', async () => {
    // given an instance nobody uses, sampled once (the baseline)
    const record = await services.instances.launch({ actor: alice, name: 'idle-one' });
    const baseline = await pass();
    expect(baseline.baselined).toEqual(['idle-one']);
    expect(baseline.actions).toEqual([]);

    // when IDLE_TIMEOUT goes by without traffic
    clock.advance(IDLE + MIN);
    const warned = await pass();

    // then its owner is warned once, with the evidence
    expect(actionsOf(warned, 'warn')).toEqual([['idle-one', 'idle', 'done']]);
    expect(notifier.warnings).toHaveLength(1);
    const [w = expect.unreachable('no warning')] = notifier.warnings;
    expect(w).toMatchObject({ instance: 'idle-one', owner: alice.id, reason: 'idle', port: record.port });
    expect(w.deadline).toBe(clock.now() + GRACE);
    expect(w.evidence.txSinceActivity).toBeLessThan(FLOOR);
    expect(w.evidence.lastActivityAt).toBe(record.lastActivityAt);
    expect(w.evidence.text).toMatch(
      /no use since .* \(2h1m ago\): it sent \d+ B and received [\d.]+ (B|KiB) since/,
    );
    expect(services.store.read().instances['idle-one']?.warning).toMatchObject({ reason: 'idle' });
    expect(notifier.summaries.map((s) => s.summary)).toEqual([
      expect.stringMatching(/warned 1 \(idle-one\)/),
    ]);

    // and a pass before the deadline neither warns again nor stops it
    clock.advance(5 * MIN);
    const pending = await pass();
    expect(pending.actions).toEqual([]);
    expect(notifier.warnings).toHaveLength(1);
    expect(running('idle-one')).toBe(true);

    // when it is still idle after IDLE_WARNING
    clock.advance(GRACE - 5 * MIN);
    const reclaimed = await pass();

    // then it is stopped, removed and its port freed
    expect(actionsOf(reclaimed, 'reclaim')).toEqual([['idle-one', 'idle', 'done']]);
    expect(reclaimed.summary).toMatch(/reclaimed 1 \(idle-one\)/);
    expect(running('idle-one')).toBe(false);
    expect(services.store.read().instances['idle-one']).toBeUndefined();
    expect(services.store.read().ports[record.port]).toBeUndefined();
    expect(await httpGet(`http://127.0.0.1:${record.port}/`, 500)).toBeNull();

    // and the next launch gets that port
    const next = await services.instances.launch({ actor: bob, name: 'next-one' });
    expect(next.port).toBe(record.port);

    // and the audit trail holds each step, with the schedule as actor and the evidence as reason
    const trail = services.store
      .read()
      .audit.filter((e) => e.instance === 'idle-one')
      .map((e) => [e.action, e.actor]);
    expect(trail).toEqual([
      ['launch', alice.id],
      ['warn', 'schedule'],
      ['reclaim', 'schedule'],
    ]);
    const reclaim = services.store
      .read()
      .audit.find((e) => e.instance === 'idle-one' && e.action === 'reclaim');
    expect(reclaim?.reason).toMatch(/^idle: no use since .* warned at /);
    expect(services.store.read().reclaim.lastPassSummary).toBe(reclaimed.summary);
  });

  it('keeps a busy instance, and reclaims one whose trickle of traffic stays below the floor', async () => {
    // given two instances: one used (24 page loads, ~29 KiB sent, between checks), one with a keep-alive-like trickle
    const busy = await services.instances.launch({ actor: alice, name: 'busy' });
    const trickle = await services.instances.launch({ actor: alice, name: 'trickle' });
    await pass();

    // when IDLE_TIMEOUT goes by, with that traffic in the last interval
    clock.advance(IDLE + MIN);
    await traffic(busy.port, 24);
    await traffic(trickle.port, 2);
    const first = await pass();

    // then the busy one counts as used, the trickle one is warned
    expect(first.active).toEqual(['busy']);
    expect(actionsOf(first, 'warn')).toEqual([['trickle', 'idle', 'done']]);
    expect(services.store.read().instances.busy?.lastActivityAt).toBe(clock.now());
    expect(notifier.warnings[0]?.evidence.txSinceActivity).toBeGreaterThan(2_000); // the trickle was seen
    expect(notifier.warnings[0]?.evidence.txSinceActivity).toBeLessThan(FLOOR);

    // and with the same traffic again after IDLE_WARNING, the trickle one is reclaimed, the busy one stays
    clock.advance(GRACE + MIN);
    await traffic(busy.port, 24);
    await traffic(trickle.port, 2);
    const second = await pass();
    expect(actionsOf(second, 'reclaim')).toEqual([['trickle', 'idle', 'done']]);
    expect(second.active).toEqual(['busy']);
    expect(running('busy')).toBe(true);
    expect(running('trickle')).toBe(false);
    expect(services.store.read().instances.busy?.warning).toBeUndefined();
  });

  it('re-arms after an extend, and use cancels a pending warning', async () => {
    const record = await services.instances.launch({ actor: alice, name: 'kept' });
    await pass();
    clock.advance(IDLE + MIN);
    expect(actionsOf(await pass(), 'warn')).toEqual([['kept', 'idle', 'done']]);

    // when the owner presses Keep 1h (extend)
    await services.instances.extend(alice, 'kept', HOUR);
    expect(services.store.read().instances.kept?.warning).toBeUndefined();

    // then the old deadline passes and nothing happens
    clock.advance(GRACE + MIN);
    const afterKeep = await pass();
    expect(afterKeep.actions).toEqual([]);
    expect(running('kept')).toBe(true);

    // and it is warned again only when idle IDLE_TIMEOUT after the extend: one warning per deadline
    clock.advance(IDLE - GRACE - 2 * MIN);
    expect((await pass()).actions).toEqual([]);
    clock.advance(2 * MIN);
    expect(actionsOf(await pass(), 'warn')).toEqual([['kept', 'idle', 'done']]);
    expect(notifier.warnings.map((w) => w.instance)).toEqual(['kept', 'kept']);

    // when it is used before the deadline
    clock.advance(5 * MIN);
    await traffic(record.port, 24);
    const used = await pass();

    // then the warning is withdrawn and the deadline passes harmlessly
    expect(used.withdrawn).toEqual(['kept']);
    expect(services.store.read().instances.kept?.warning).toBeUndefined();
    clock.advance(GRACE);
    expect((await pass()).actions).toEqual([]);
    expect(running('kept')).toBe(true);
  });
});

describe('time limits', () => {
  it('reclaims a busy instance past its TTL, after warning', async () => {
    const record = await services.instances.launch({ actor: alice, name: 'limited', ttlMs: HOUR });
    expect(record.expiresAt).toBe(clock.now() + HOUR);
    await pass();

    clock.advance(HOUR + MIN);
    await traffic(record.port, 24);
    const warned = await pass();
    expect(warned.active).toEqual(['limited']);
    expect(actionsOf(warned, 'warn')).toEqual([['limited', 'ttl', 'done']]);
    expect(notifier.warnings[0]?.evidence.text).toMatch(/time limit ran out/);

    clock.advance(GRACE + MIN);
    await traffic(record.port, 24);
    const reclaimed = await pass();
    expect(reclaimed.active).toEqual(['limited']);
    expect(actionsOf(reclaimed, 'reclaim')).toEqual([['limited', 'ttl', 'done']]);
    expect(running('limited')).toBe(false);
  });
});

describe('dry run', () => {
  it('stops nothing, sends nothing, and says what it would do', async () => {
    await services.instances.launch({ actor: alice, name: 'dry' });
    await pass();
    clock.advance(IDLE + MIN);

    const wouldWarn = await pass({ dryRun: true });
    expect(actionsOf(wouldWarn, 'warn')).toEqual([['dry', 'idle', 'dry-run']]);
    expect(wouldWarn.summary).toMatch(
      /^Dry run: checked 1 instance in .*: would warn 1 \(dry\); nothing was stopped/,
    );
    expect(notifier.warnings).toEqual([]);
    expect(services.store.read().instances.dry?.warning).toBeUndefined();
    expect(notifier.summaries).toHaveLength(1); // the schedule's dry run is posted, marked as one
    expect(notifier.summaries[0]?.dryRun).toBe(true);

    // a real pass warns; past the deadline a dry run says it would reclaim, and does not
    await pass();
    clock.advance(GRACE + MIN);
    const wouldReclaim = await services.reclaimer.run({ trigger: 'command', by: admin.id, dryRun: true });
    expect(actionsOf(wouldReclaim, 'reclaim')).toEqual([['dry', 'idle', 'dry-run']]);
    expect(running('dry')).toBe(true);
    expect(services.store.read().instances.dry?.warning).toBeDefined();
    expect(notifier.summaries).toHaveLength(2); // a command's dry run answers its caller only
  });
});

describe('one pass at a time', () => {
  it('skips a pass asked for while one runs, and says so', async () => {
    await services.instances.launch({ actor: alice, name: 'solo' });
    const [a, b] = await Promise.all([pass(), pass()]);
    expect(a.status).toBe('done');
    expect(b.status).toBe('skipped');
    expect(b.summary).toMatch(/^A reclaim pass started \S+ ago is still running; this one was skipped\.$/);
    expect(services.store.read().reclaim.lastPassSummary).toBe(a.summary);
    // and once it finished the next one runs
    expect(services.reclaimer.busy).toBe(false);
    expect((await pass()).status).toBe('done');
  });
});

describe('restarts and faults', () => {
  it('judges nothing on the first pass after a restart, then reclaims what is due', async () => {
    // given a warned instance whose deadline passed while the bot was down
    await services.instances.launch({ actor: alice, name: 'restarted' });
    await pass();
    clock.advance(IDLE + MIN);
    await pass();
    clock.advance(GRACE + MIN);
    await services.store.flushed();

    // when the bot starts again over the same store
    const restartedClock = new ManualClock(clock.now());
    const again = await createServices(bed.config, {
      engine: new DockerEngine(),
      log,
      templates,
      clock: restartedClock,
      notifier,
    });
    const first = await again.reclaimer.run({ trigger: 'schedule' });

    // then the first pass samples and judges nothing
    expect(first.baselineOnly).toBe(true);
    expect(first.actions).toEqual([]);
    expect(first.summary).toMatch(
      /^First pass since the bot started: sampled 1 instance .* judged nothing\.$/,
    );
    expect(running('restarted')).toBe(true);

    // and the next one reclaims it
    const second = await again.reclaimer.run({ trigger: 'schedule' });
    expect(actionsOf(second, 'reclaim')).toEqual([['restarted', 'idle', 'done']]);
    expect(running('restarted')).toBe(false);
    // (the first services' in-memory document is stale now: reopen before the next test)
    services = await createServices(bed.config, {
      engine: new DockerEngine(),
      log,
      templates,
      clock,
      notifier,
    });
    await services.reclaimer.run({ trigger: 'schedule' });
  });

  it('records a failed pass when Docker is unreachable', async () => {
    const dir = `${bed.dir}/unreachable`;
    const config = testConfig(
      { scope: SCOPE, ports: `${FIRST}-${LAST}`, env: { DOCKER_HOST: 'unix:///tmp/no-such-docker.sock' } },
      dir,
    );
    const recording = new RecordingNotifier();
    const down = await createServices(config, {
      engine: new DockerEngine({ dockerHost: config.dockerHost }),
      log: silentLogger(),
      templates,
      notifier: recording,
    });
    const report = await down.reclaimer.run({ trigger: 'schedule' });
    expect(report.status).toBe('failed');
    expect(report.summary).toMatch(/^Reclaim pass failed in \S+: Docker is not reachable/);
    expect(down.store.read().reclaim.failures.at(-1)?.error).toMatch(/Docker is not reachable/);
    expect(down.store.read().reclaim.lastPassSummary).toBe(report.summary);
    expect(recording.summaries).toHaveLength(1); // ops hear about it
    // a failed pass sampled nothing: the next good one is still a baseline
    expect(down.reclaimer.busy).toBe(false);
  });

  /** Services on their own store whose engine fails as `broken` says (Docker is not asked). */
  async function brokenServices(dir: string, broken: Partial<ContainerEngine>): Promise<Services> {
    const engine: ContainerEngine = Object.assign(Object.create(new DockerEngine()), broken);
    const config = testConfig({ scope: SCOPE, ports: `${FIRST}-${LAST}` }, `${bed.dir}/${dir}`);
    return createServices(config, { engine, log, templates, notifier: new RecordingNotifier() });
  }

  it('shows a failure that is no UserError as "internal error (ref …)", its detail in the log', async () => {
    // given an engine whose list fails with an internal error
    const down = await brokenServices('internal', {
      list: () => Promise.reject(new Error('socket hang up: /var/run/secret.sock')),
    });

    // when a pass runs
    const report = await down.reclaimer.run({ trigger: 'schedule' });

    // then the report, its summary and the store name a ref, and the log has the error under it
    const { ref, entry } = refIn(report.failures[0]?.error);
    expect(report.status).toBe('failed');
    expect(report.failures).toEqual([{ error: `internal error (ref ${ref})` }]);
    expect(report.summary).toMatch(/^Reclaim pass failed in \S+: internal error \(ref [0-9a-f]{6}\)$/);
    expect(down.store.read().reclaim.failures.map((f) => f.error)).toEqual([`internal error (ref ${ref})`]);
    expect(JSON.stringify(down.store.read().reclaim)).not.toContain('secret');
    expect(entry).toMatchObject({ level: 50, step: 'reclaim pass', err: { message: /secret\.sock/ } });
  });

  it('reports an exited container reconcile could not remove with a ref, its detail in the log', async () => {
    // given an exited container of this scope that cannot be removed
    const exited = {
      id: 'c0ffee',
      name: 'spreadserve-gone-wrong',
      image: 'spreadserve/demo:latest',
      labels: { ...managedFilter(SCOPE), [LABEL.instance]: 'gone-wrong' },
      state: 'exited' as const,
      status: 'Exited (1) 2 minutes ago',
      createdAt: clock.now(),
    };
    const down = await brokenServices('exited', {
      list: async () => [exited],
      remove: () => Promise.reject(new Error('driver failed: /var/lib/docker/secret')),
    });

    // when a pass runs
    const report = await down.reclaimer.run({ trigger: 'schedule' });

    // then the failure names a ref (and the container's missing labels), and the log has the error
    const { ref, entry } = refIn(report.failures[0]?.error);
    expect(report.status).toBe('done');
    expect(report.failures).toEqual([
      { error: `gone-wrong: could not remove its exited container (internal error (ref ${ref}))` },
      { error: 'gone-wrong: its container spreadserve-gone-wrong lacks the owner, template or port label' },
    ]);
    expect(down.store.read().reclaim.failures.map((f) => f.error)).toEqual(
      report.failures.map((f) => f.error),
    );
    expect(entry).toMatchObject({ instance: 'gone-wrong', container: 'c0ffee', err: { message: /secret/ } });
  });
});

describe('Slack notifier', () => {
  let standIn: SlackStandIn;
  beforeAll(async () => {
    standIn = await startSlackStandIn();
  });
  afterAll(async () => {
    await standIn?.close();
  });

  it('DMs the owner with Keep 1h / Keep 8h / Stop now, and posts one ops summary', async () => {
    const client = new WebClient('xoxb-test', { slackApiUrl: standIn.apiUrl, retryConfig: { retries: 0 } });
    notifier.through = new SlackNotifier(client, { opsChannel: 'COPS', log: silentLogger() });
    await services.instances.launch({ actor: alice, name: 'dm-me' });
    await pass();
    expect(standIn.calls('chat.postMessage')).toEqual([]); // a quiet pass posts nothing

    clock.advance(IDLE + MIN);
    await pass();

    const open = standIn.calls('conversations.open');
    expect(open.map((c) => c.body.users)).toEqual([alice.id]);
    const posts = standIn.calls('chat.postMessage');
    expect(posts.map((c) => c.body.channel)).toEqual([`D${alice.id}`, 'COPS']);
    const [dm = expect.unreachable('no DM'), summary = expect.unreachable('no ops summary')] = posts.map(
      (c) => c.body,
    );
    expect(String(dm.text)).toMatch(/dm-me looks idle/);
    const buttons = JSON.stringify(dm.blocks);
    for (const id of ['keep_1h', 'keep_8h', 'stop']) expect(buttons).toContain(`"action_id":"${id}"`);
    expect(buttons).toContain('"value":"dm-me"');
    const ops = JSON.stringify(summary.blocks);
    expect(ops).toContain('dm-me');
    expect(ops).toContain(`<@${alice.id}>`);

    // a failing DM is a failure the ops summary reports; the warning still stands
    standIn.reset();
    standIn.failMethod('chat.postMessage', 'channel_not_found', { times: 1 });
    await services.instances.launch({ actor: bob, name: 'dm-fails' });
    await pass();
    clock.advance(IDLE + MIN);
    const report = await pass();
    expect(standIn.calls('chat.postMessage').map((c) => c.body.channel)).toEqual([`D${bob.id}`, 'COPS']);
    // and what people read names a ref, not Slack's error; the log holds that error under the ref
    const { ref, entry } = refIn(report.failures[0]?.error);
    const said = `internal error (ref ${ref})`;
    expect(report.failures).toEqual([{ instance: 'dm-fails', error: `could not tell UBOB: ${said}` }]);
    expect(report.actions.find((a) => a.instance === 'dm-fails')?.notified).toEqual({
      delivered: false,
      detail: said,
    });
    expect(entry).toMatchObject({
      level: 50,
      instance: 'dm-fails',
      owner: bob.id,
      err: { message: expect.stringMatching(/channel_not_found/) },
    });
    const posted = JSON.stringify(standIn.calls('chat.postMessage').at(-1)?.body);
    expect(posted).toContain(said);
    expect(posted).not.toContain('channel_not_found');
    expect(JSON.stringify(services.store.read().reclaim.failures)).not.toContain('channel_not_found');
  });
});

describe('commands: logs, reclaim, history', () => {
  const as = (actor: Actor) => (text: string) => dispatch(text, { actor, services, prefix: '', log });

  it('logs shows the owner the last N lines, and refuses others and bad counts', async () => {
    const { port } = await services.instances.launch({ actor: alice, name: 'chatty' });
    await traffic(port, 3); // each request logs a line

    // Docker collects log lines asynchronously: ask again (bounded) until the last GET shows.
    let all = await as(alice)('logs chatty');
    for (let i = 0; i < 30 && (all.details ?? []).filter((l) => l.includes('GET /')).length < 4; i++) {
      await sleep(100);
      all = await as(alice)('logs chatty');
    }
    expect(all).toMatchObject({ ok: true, kind: 'message' });
    expect(all.details?.[0]).toMatch(/^dbaseweb: SpreadServe 0\.3\.1 on port 80/);
    expect(all.details?.filter((l) => l.includes('GET /'))).toHaveLength(4); // the health probe and 3 GETs
    expect(all.summary).toMatch(/^All \d+ log lines of chatty:$/);

    const one = await as(admin)('logs chatty --lines 1');
    expect(one.details).toHaveLength(1);
    expect(one.summary).toBe('The last 1 log line of chatty:');

    expect(await as(bob)('logs chatty')).toMatchObject({
      ok: false,
      errorKind: 'forbidden',
      summary: 'Only UALICE (its owner) or an admin may read the logs of chatty.',
    });
    for (const bad of ['0', '501', 'abc', '1.5', '-3']) {
      const reply = await as(alice)(`logs chatty --lines=${bad}`);
      expect(reply.errorKind).toBe('usage');
      expect(reply.summary).toBe(
        `--lines takes a whole number from 1 to 500, got "${bad}". Usage: logs <name> [--lines N]`,
      );
    }
    expect((await as(alice)('logs ghost')).errorKind).toBe('not-found');
  });

  it('reclaim is for admins, runs the pass and says what it stopped or would stop', async () => {
    await services.instances.launch({ actor: alice, name: 'via-command' });
    await pass();
    clock.advance(IDLE + MIN);

    expect(await as(alice)('reclaim')).toMatchObject({ ok: false, errorKind: 'forbidden' });
    const dry = await as(admin)('reclaim --dry-run');
    expect(dry).toMatchObject({ ok: true, kind: 'reclaim' });
    expect(dry.summary).toMatch(/^Dry run: .* would warn 1 \(via-command\)/);
    expect(replyToText(dry)).toMatch(/would warn via-command \(UALICE, idle\): no use since/);
    expect(notifier.warnings).toEqual([]);

    const real = await as(admin)('reclaim');
    expect(real.summary).toMatch(/warned 1 \(via-command\)/);
    clock.advance(GRACE + MIN);
    const reclaimed = await as(admin)('reclaim');
    expect(reclaimed.summary).toMatch(/reclaimed 1 \(via-command\)/);
    expect(replyToText(reclaimed)).toMatch(/reclaimed via-command \(UALICE, idle\)/);
    expect(running('via-command')).toBe(false);
    const audit = services.store
      .read()
      .audit.filter((e) => e.instance === 'via-command' && e.action === 'reclaim');
    expect(audit[0]).toMatchObject({
      actor: 'schedule',
      reason: expect.stringMatching(/\(pass run by UADMIN\)$/),
    });
  });

  it('history shows the audit trail newest first, bounded, for one instance or all', async () => {
    await services.instances.launch({ actor: alice, name: 'storied' });
    await services.instances.extend(alice, 'storied', HOUR);
    await services.instances.stop(alice, 'storied');

    const one = await as(bob)('history storied');
    expect(one.kind).toBe('history');
    if (one.kind !== 'history') return;
    expect(one.entries.map((e) => e.action)).toEqual(['stop', 'extend', 'launch']);
    expect(one.summary).toBe('3 audit entries of storied, newest first:');

    const all = await as(bob)('history');
    if (all.kind !== 'history') throw new Error(all.summary);
    expect(all.entries.length).toBeLessThanOrEqual(HISTORY_SHOWN);
    expect(all.total).toBe(services.store.read().audit.length);
    expect(all.entries[0]).toMatchObject({ action: 'stop', instance: 'storied' });
    expect(replyToText(all).split('\n')[1]).toMatch(/^WHEN\s+ACTION\s+INSTANCE\s+BY\s+WHY$/);

    expect((await as(bob)('history Bad_Name')).errorKind).toBe('usage');
    expect((await as(bob)('history a b')).summary).toMatch(/^Too many arguments; usage: history \[name\]/);
    expect((await as(bob)('history nothing-here')).summary).toBe(
      'The audit trail holds nothing of nothing-here yet.',
    );
  });
});

describe('from Slack, with IDLE_TIMEOUT=4s IDLE_WARNING=4s (the issue\'s "done when")', () => {
  let b: BotBed;
  afterAll(async () => {
    await b?.close();
  });

  it('an untouched instance is warned by DM, then reclaimed by `reclaim` passes; busy and kept ones stay', async () => {
    b = await startBotBed({
      scope: `${SCOPE}-bot`,
      ports: `${FIRST}-${LAST}`,
      env: { SPREADSERVE_ADMINS: 'UADMIN', IDLE_TIMEOUT: '4s', IDLE_WARNING: '4s', OPS_CHANNEL: 'COPS' },
    });
    await buildImage(b.bed.services);
    const slash = async (text: string, user: string, expected: RegExp) => {
      const s = await b.slash(text, user);
      return textOf(await b.waitForResponse(s.id, (r) => expected.test(textOf(r)), 30_000));
    };
    for (const name of ['untouched', 'busy', 'keeper'])
      await slash(`launch demo --name ${name}`, 'UALICE', /is up at/);
    const port = (name: string) => b.bed.services.store.read().instances[name]?.port;
    // a first pass takes the baseline (the bot just started)
    await slash('reclaim --dry-run', 'UADMIN', /Dry run/);

    // someone uses `busy` all along: page loads, a bounded loop
    let using = true;
    const use = (async () => {
      for (let i = 0; using && i < 2_000; i++) await httpGet(`http://127.0.0.1:${port('busy')}/`, 2_000);
    })();
    try {
      await sleep(5_000);
      const first = await slash('reclaim', 'UADMIN', /Checked/);
      expect(first).toMatch(/warned 2 \((untouched, keeper|keeper, untouched)\)/);

      // the owner got one DM per warned instance, with the buttons
      const dms = b.slack.calls('chat.postMessage').filter((c) => c.body.channel === 'DUALICE');
      expect(dms.map((c) => String(c.body.text)).sort()).toEqual([
        expect.stringMatching(/^⚠️ keeper looks idle and will be stopped at/),
        expect.stringMatching(/^⚠️ untouched looks idle and will be stopped at/),
      ]);
      expect(b.slack.calls('conversations.open')).toHaveLength(2);

      // the owner presses Keep 1h in the DM about `keeper`
      const answer = await b.click({
        userId: 'UALICE',
        actionId: 'keep_1h',
        value: 'keeper',
        responseId: 'keep',
      });
      expect(answer.status).toBe(200);
      expect(textOf(await b.waitForResponse('keep', () => true, 15_000))).toMatch(/keeper is kept until/);

      await sleep(5_000);
      const second = await slash('reclaim', 'UADMIN', /Checked/);
      expect(second).toMatch(/reclaimed 1 \(untouched\)/);
    } finally {
      using = false;
      await use;
    }
    const open = Object.keys(b.bed.services.store.read().instances).sort();
    expect(open).toEqual(['busy', 'keeper']);
    expect(await httpGet(`http://127.0.0.1:${port('busy')}/`)).toMatchObject({ status: 200 });

    // and the ops channel got one summary per pass that did something
    const ops = b.slack.calls('chat.postMessage').filter((c) => c.body.channel === 'COPS');
    expect(ops.map((c) => String(c.body.text))).toEqual([
      expect.stringMatching(/^♻️ Reclaim: Checked 3 instances .*warned 2/),
      expect.stringMatching(/^♻️ Reclaim: Checked 3 instances .*reclaimed 1 \(untouched\)/),
    ]);
    const trail = b.bed.services.store
      .read()
      .audit.filter((e) => e.instance === 'keeper')
      .map((e) => e.action);
    expect(trail).toEqual(['launch', 'warn', 'extend']);
  });
});

describe('many idle instances', () => {
  it('50 idle instances are not kept alive by bridge noise: rx grows, tx does not', async () => {
    const names = Array.from({ length: 50 }, (_, k) => `quiet-${k}`);
    let t = performance.now();
    const launched = await mapSettled(names, 4, (name) => services.instances.launch({ actor: admin, name }));
    const launchSeconds = (performance.now() - t) / 1000;
    expect(launched.filter((r) => r.status === 'rejected')).toEqual([]);
    const baseline = await pass();
    expect(baseline.baselined).toHaveLength(50);
    console.info(
      `50 instances launched in ${launchSeconds.toFixed(1)} s; baseline pass ${(baseline.durationMs / 1000).toFixed(2)} s`,
    );

    // broadcast noise on the scope's bridge, as other hosts make it: gratuitous ARP every container
    // receives (inter-container traffic off stops IP, not ARP broadcasts)
    const arping = 'arping -U -c 3 -I eth0 "$(hostname -i)"';
    docker(
      'run',
      '--rm',
      '--network',
      networkName(SCOPE),
      '--label',
      `${LABEL.scope}=${SCOPE}`,
      'spreadserve/base:busybox',
      'sh',
      '-c',
      arping,
    );
    clock.advance(IDLE + MIN);
    t = performance.now();
    const warned = await pass();
    const passSeconds = (performance.now() - t) / 1000;
    expect(warned.active).toEqual([]);
    expect(warned.actions.filter((a) => a.kind === 'warn')).toHaveLength(50);
    const rx = warned.actions.map((a) => a.evidence.rxSinceActivity);
    const tx = warned.actions.map((a) => a.evidence.txSinceActivity);
    expect(rx.filter((b) => b > 0)).toHaveLength(50); // noise arrived everywhere...
    expect(Math.max(...tx)).toBeLessThan(FLOOR); // ...and nothing was sent that looks like use

    clock.advance(GRACE + MIN);
    const reclaimed = await pass();
    expect(reclaimed.actions.filter((a) => a.kind === 'reclaim' && a.outcome === 'done')).toHaveLength(50);
    expect(Object.keys(services.store.read().ports)).toEqual([]);
    console.info(
      `50 instances: launched in ${launchSeconds.toFixed(1)} s; pass ${passSeconds.toFixed(2)} s (${await services.reclaimer.activity.describe()}); ` +
        `reclaim pass ${(reclaimed.durationMs / 1000).toFixed(2)} s; max rx ${Math.max(...rx)} B, max tx ${Math.max(...tx)} B`,
    );
  }, 240_000);
});
