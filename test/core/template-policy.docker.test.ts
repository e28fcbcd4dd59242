// Per-template policies against the real engine: each instance is judged, capped and counted by
// its template's own idleTimeout, idleWarning, maxLifetime, maxPerUser and bytesFloor, the global
// settings filling in the rest. Time is a ManualClock, as in reclaim.docker.test.ts: passes are
// run by hand and the clock advanced between them; traffic is real HTTP to real containers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderWarningDM } from '../../bot/reclaim-messages.ts';
import { replyToText } from '../../cli/text.ts';
import { dispatch } from '../../commands/index.ts';
import type { Services } from '../../core/context.ts';
import type { Notifier, ReclaimReport, ReclaimWarning } from '../../core/notifier.ts';
import type { Actor } from '../../core/policy.ts';
import { parseTemplates, type Template } from '../../core/templates.ts';
import { ManualClock } from '../../lib/clock.ts';
import { UserError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { httpGet, scopeContainers } from '../support/docker.ts';
import {
  admin,
  alice,
  bob,
  buildImage,
  leftovers,
  realTemplates,
  type TestBed,
  testBed,
} from '../support/services.ts';

const SCOPE = 'test-template-policy';
const FIRST = 25120;
const LAST = 25139;
const MIN = 60_000;
const HOUR = 60 * MIN;
const KIB = 1024;

/** Records the warnings the pass gives owners. */
class RecordingNotifier implements Notifier {
  warnings: ReclaimWarning[] = [];
  async warnOwner(w: ReclaimWarning) {
    this.warnings.push(w);
    return { delivered: true, detail: 'recorded' };
  }
  async opsSummary(_r: ReclaimReport) {}
}

// The policies as a templates file sets them (parsed from YAML, as the bot reads them); each
// template runs the real demo image, built once for this file.
const OWN = parseTemplates(
  [
    'templates:',
    '  gpu:',
    '    image: spreadserve/gpu:1',
    '    idleTimeout: 30m',
    '    idleWarning: 5m',
    '    maxLifetime: 4h',
    '    maxPerUser: 1',
    '  floored:',
    '    image: spreadserve/floored:1',
    '    bytesFloor: 65536',
  ].join('\n'),
  '/',
);
const ownPolicy = (name: string) => OWN.get(name)?.policy ?? expect.unreachable(`no template ${name}`);
const templates = realTemplates(SCOPE, {
  gpu: { policy: ownPolicy('gpu') },
  floored: { policy: ownPolicy('floored') },
});

// The global settings: the defaults, with a one-day MAX_LIFETIME and two instances per user.
const IDLE = 2 * HOUR;
const GRACE = 15 * MIN;
const clock = new ManualClock();
const notifier = new RecordingNotifier();
const log = silentLogger();
let bed: TestBed;
let services: Services;

const pass = () => services.reclaimer.run({ trigger: 'schedule', dryRun: false });
const warned = (r: ReclaimReport) => r.actions.filter((a) => a.kind === 'warn').map((a) => a.instance);
const reclaimed = (r: ReclaimReport) => r.actions.filter((a) => a.kind === 'reclaim').map((a) => a.instance);
const running = (name: string) => scopeContainers(SCOPE, { instance: name, running: true }).length === 1;
const as = (actor: Actor) => (text: string) => dispatch(text, { actor, services, prefix: '', log });

/** Real HTTP GETs to the instance's page (~1.2 KiB sent by the instance each). */
async function traffic(port: number, requests: number): Promise<void> {
  for (let i = 0; i < requests; i++) {
    const res = await httpGet(`http://127.0.0.1:${port}/`, 2_000);
    expect(res?.status).toBe(200);
  }
}

/** The UserError a call refuses with. */
async function refusal(call: Promise<unknown>): Promise<UserError> {
  const err = await call.then(
    () => expect.unreachable('expected a refusal'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

beforeAll(async () => {
  bed = await testBed({
    scope: SCOPE,
    ports: `${FIRST}-${LAST}`,
    templates,
    clock,
    notifier,
    log,
    env: { MAX_INSTANCES_PER_USER: '2', MAX_LIFETIME: '1d' },
  });
  services = bed.services;
  await buildImage(services, 'demo');
  // The first pass after the bot starts only takes a baseline; get it out of the way.
  expect((await pass()).baselineOnly).toBe(true);
}, 300_000);

afterEach(async () => {
  for (const name of Object.keys(services.store.read().instances))
    await services.instances.stop(admin, name).catch(() => undefined);
  notifier.warnings = [];
});

afterAll(async () => {
  await bed?.cleanup();
});

describe('idle timeouts and warnings per template', () => {
  it("judges two templates' instances differently in the same pass: one warned, one not", async () => {
    // given an idle instance of demo (the global 2h) and one of gpu (its own 30m, warned 5m ahead)
    await services.instances.launch({ actor: alice, name: 'plain-one', template: 'demo' });
    await services.instances.launch({ actor: alice, name: 'gpu-one', template: 'gpu' });
    expect((await pass()).baselined.sort()).toEqual(['gpu-one', 'plain-one']);

    // when 31 minutes go by without traffic
    clock.advance(31 * MIN);
    const first = await pass();

    // then only the gpu one is warned, with its own warning time
    expect(warned(first)).toEqual(['gpu-one']);
    const [w = expect.unreachable('no warning')] = notifier.warnings;
    expect(w.deadline).toBe(clock.now() + 5 * MIN);
    // and the warning says which policy applied, in the evidence and in the owner's DM
    expect(w.evidence.policy).toBe(
      'idle timeout 30m (template gpu), floor 16 KiB (default), warning 5m (template gpu)',
    );
    const dm = JSON.stringify(renderWarningDM(w).blocks);
    expect(dm).toContain('*Policy:* idle timeout 30m (template gpu), floor 16 KiB (default)');
    // and the audit trail keeps it
    const audited = services.store.read().audit.find((e) => e.action === 'warn' && e.instance === 'gpu-one');
    expect(audited?.reason).toContain('policy: idle timeout 30m (template gpu)');

    // when its 5 minutes pass, still idle
    clock.advance(5 * MIN);
    const second = await pass();

    // then the gpu one is reclaimed and the demo one, idle as long, still runs unwarned
    expect(reclaimed(second)).toEqual(['gpu-one']);
    expect(warned(second)).toEqual([]);
    expect(running('gpu-one')).toBe(false);
    expect(running('plain-one')).toBe(true);

    // and the demo one is warned only at the global IDLE_TIMEOUT, by the default policy
    clock.advance(IDLE - 36 * MIN + MIN);
    const third = await pass();
    expect(warned(third)).toEqual(['plain-one']);
    const dflt = notifier.warnings.find((x) => x.instance === 'plain-one');
    expect(dflt?.deadline).toBe(clock.now() + GRACE);
    expect(dflt?.evidence.policy).toBe(
      'idle timeout 2h (default), floor 16 KiB (default), warning 15m (default)',
    );
  });

  it("counts use against the template's own bytes floor", async () => {
    // given an instance of demo (floor 16 KiB) and one of floored (its own 64 KiB), sampled
    const plain = await services.instances.launch({ actor: bob, name: 'plain-b', template: 'demo' });
    const floored = await services.instances.launch({ actor: bob, name: 'floor-b', template: 'floored' });
    await pass();

    // when IDLE_TIMEOUT goes by and each sends ~29 KiB (24 page loads) in the last interval
    clock.advance(IDLE + MIN);
    await traffic(plain.port, 24);
    await traffic(floored.port, 24);
    const judged = await pass();

    // then the same traffic is use for demo, and too little for floored, which is warned
    expect(judged.active).toEqual(['plain-b']);
    expect(warned(judged)).toEqual(['floor-b']);
    const [w = expect.unreachable('no warning')] = notifier.warnings;
    expect(w.evidence.txSinceActivity).toBeGreaterThan(16 * KIB);
    expect(w.evidence.floorBytes).toBe(64 * KIB);
    expect(w.evidence.policy).toContain('floor 64 KiB (template floored)');
  });

  it('judges an instance whose template left the file by the global settings', async () => {
    // given a gpu instance whose template is then taken out of the templates file
    await services.instances.launch({ actor: alice, name: 'orphan', template: 'gpu' });
    await pass();
    // (the services' live template set: the templates file's and the saved ones, merged at start)
    const live = services.templates as Map<string, Template>;
    const gpu = live.get('gpu') ?? expect.unreachable('no gpu template');
    live.delete('gpu');
    try {
      // when 31 minutes go by: past gpu's 30m, short of the global 2h
      clock.advance(31 * MIN);
      expect(warned(await pass())).toEqual([]);
      // then it is warned only at IDLE_TIMEOUT, by the default policy
      clock.advance(IDLE - 31 * MIN + MIN);
      expect(warned(await pass())).toEqual(['orphan']);
      expect(notifier.warnings[0]?.evidence.policy).toContain('idle timeout 2h (default)');
    } finally {
      live.set('gpu', gpu);
    }
  });
});

describe('maxPerUser per template', () => {
  it('refuses a second gpu instance naming the template and its limit; another template still launches', async () => {
    // given alice runs one gpu instance (gpu allows 1 per user)
    await services.instances.launch({ actor: alice, name: 'gpu-a', template: 'gpu' });
    const before = leftovers(services, SCOPE);

    // when she launches another gpu one
    const err = await refusal(services.instances.launch({ actor: alice, name: 'gpu-b', template: 'gpu' }));

    // then it is refused in one sentence naming the template and its limit, and nothing is left behind
    expect(err.kind).toBe('quota');
    expect(err.message).toBe(
      'You already run 1 instance of template gpu; template gpu allows 1 per user (maxPerUser). ' +
        'Stop one first, or launch another template.',
    );
    expect(leftovers(services, SCOPE)).toEqual(before);
    // and the same sentence reaches her through the command
    const reply = await as(alice)('launch gpu --name gpu-c');
    expect(reply.ok).toBe(false);
    expect(reply.summary).toContain('template gpu allows 1 per user (maxPerUser)');

    // and a demo instance still launches, as bob's gpu one does (the limit is per user)
    await services.instances.launch({ actor: alice, name: 'demo-a', template: 'demo' });
    await services.instances.launch({ actor: bob, name: 'gpu-bob', template: 'gpu' });
    expect(running('demo-a') && running('gpu-bob')).toBe(true);
    // and an admin is not held to it
    await services.instances.launch({ actor: admin, name: 'gpu-admin-1', template: 'gpu' });
    await services.instances.launch({ actor: admin, name: 'gpu-admin-2', template: 'gpu' });
  });

  it('leaves templates without their own limit to MAX_INSTANCES_PER_USER, counting all instances', async () => {
    // given bob runs a gpu instance and a demo one (2, the global limit)
    await services.instances.launch({ actor: bob, name: 'gpu-q', template: 'gpu' });
    await services.instances.launch({ actor: bob, name: 'demo-q', template: 'demo' });

    // when he launches another demo one, then the global sentence refuses it
    const err = await refusal(services.instances.launch({ actor: bob, name: 'demo-r', template: 'demo' }));
    expect(err.message).toBe('You already run 2 of your 2 instances; stop one first.');
  });
});

describe('maxLifetime per template', () => {
  it("caps a user's launch time limit and extends at the template's maxLifetime, as MAX_LIFETIME does", async () => {
    // given the global MAX_LIFETIME is 1d and gpu's own is 4h
    // when alice launches gpu with --ttl 10h, and demo with --ttl 10h
    const reply = await as(alice)('launch gpu --name life-gpu --ttl 10h');
    const plain = await services.instances.launch({ actor: alice, name: 'life-demo', ttlMs: 10 * HOUR });

    // then the gpu one's time limit is 4h, and the reply names the limit; demo keeps its 10h
    const gpu = services.instances.get('life-gpu');
    expect((gpu.expiresAt ?? 0) - gpu.createdAt).toBe(4 * HOUR);
    expect(reply.summary).toMatch(/its time limit is 4h \(the most maxLifetime of template gpu allows\)$/);
    expect((plain.expiresAt ?? 0) - plain.createdAt).toBe(10 * HOUR);

    // when 3h later she extends it by 8h, it reaches the 4h mark only, and says which limit
    clock.advance(3 * HOUR);
    const extended = await services.instances.extendCapped(alice, 'life-gpu', 8 * HOUR);
    expect(extended.cap).toBe('maxLifetime of template gpu');
    expect(extended.record.keepUntil).toBe(gpu.createdAt + 4 * HOUR);

    // and past 4h she cannot keep it at all; an admin can, and is told he went past it
    clock.advance(HOUR + MIN);
    const late = await refusal(services.instances.extend(alice, 'life-gpu', HOUR));
    expect(late.message).toBe(
      'life-gpu has lived its maxLifetime of template gpu (4h); only an admin can keep it longer.',
    );
    const byAdmin = await services.instances.extendCapped(admin, 'life-gpu', HOUR);
    expect(byAdmin.cap).toBe('maxLifetime of template gpu');
    expect(byAdmin.record.keepUntil).toBe(clock.now() + HOUR);
  });

  it("gives a launch without --ttl the template's maxLifetime as its time limit", async () => {
    const gpu = await services.instances.launch({ actor: bob, name: 'no-ttl-gpu', template: 'gpu' });
    const plain = await services.instances.launch({ actor: bob, name: 'no-ttl-demo', template: 'demo' });
    expect((gpu.expiresAt ?? 0) - gpu.createdAt).toBe(4 * HOUR);
    expect((plain.expiresAt ?? 0) - plain.createdAt).toBe(24 * HOUR);
  });
});

describe('the templates command', () => {
  it("shows each template's effective policy and which settings are its own", async () => {
    // when anyone asks for the templates
    const reply = await as(bob)('templates');
    if (reply.kind !== 'templates') expect.unreachable(`got a ${reply.kind} reply`);

    // then each carries its effective policy
    const policy = (name: string) => reply.templates.find((t) => t.name === name)?.policy;
    expect(policy('gpu')).toEqual({
      idleTimeoutMs: 30 * MIN,
      idleWarningMs: 5 * MIN,
      bytesFloor: 16 * KIB,
      maxLifetimeMs: 4 * HOUR,
      maxPerUser: 1,
      own: ['idleTimeout', 'idleWarning', 'maxLifetime', 'maxPerUser'],
    });
    expect(policy('demo')).toEqual({
      idleTimeoutMs: IDLE,
      idleWarningMs: GRACE,
      bytesFloor: 16 * KIB,
      maxLifetimeMs: 24 * HOUR,
      maxPerUser: 2,
      own: [],
    });
    // and the terminal shows it, setting by setting
    const text = replyToText(reply, clock.now());
    expect(text).toContain(
      'idle timeout 30m (template) · warning 5m (template) · floor 16 KiB (default) · max lifetime 4h (template) · 1 per user (template)',
    );
    expect(text).toContain('floor 64 KiB (template)');
  });
});
