// Engine faults on a disposable Docker engine (test/support/engine-sandbox.ts): the core services
// point at a dockerd of this file's own, which the tests freeze (SIGSTOP) and kill -9 mid-launch.
// Every command must answer within its bound with one clear sentence, and once the engine is back
// nothing may leak: no port reserved, no record left, no container of the scope left. The main
// engine is never touched (its base image is copied into the sandbox). Pool 24900-24902 and the
// sandbox subnet 10.232.41.0/24 belong to this file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../commands/index.ts';
import type { Reply } from '../../commands/reply.ts';
import { createServices } from '../../core/context.ts';
import { LABEL } from '../../core/labels.ts';
import { DockerEngine } from '../../engine/docker.ts';
import type { ContainerEngine } from '../../engine/types.ts';
import { UserError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import {
  EngineSandbox,
  SANDBOX_QUICK_MS as QUICK_MS,
  showEngineLogOnFailure,
} from '../support/engine-sandbox.ts';
import {
  alice,
  buildImage,
  realTemplates,
  type TestBed,
  tempDir,
  testBed,
  testConfig,
} from '../support/services.ts';

const SCOPE = 'faults-engine';
const PORTS = { first: 24900, count: 3 };
/** What one command may take on a frozen engine: a call or two past their bound, and the store. */
const COMMAND_BOUND_MS = 2 * QUICK_MS + 1000;

let sandbox: EngineSandbox;
showEngineLogOnFailure(() => sandbox);
let engine: DockerEngine;
let bed: TestBed;
/** Armed by a test: runs once, just before the next createAndStart reaches the engine. */
let beforeCreate: (() => void | Promise<void>) | undefined;

/** The real engine, with a hook a test arms to fault the sandbox at a chosen step of a launch. */
function faultable(real: DockerEngine): ContainerEngine {
  return new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === 'createAndStart') {
        return async (...args: Parameters<DockerEngine['createAndStart']>) => {
          const hook = beforeCreate;
          beforeCreate = undefined;
          await hook?.();
          return target.createAndStart(...args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function command(text: string): Promise<{ reply: Reply; ms: number }> {
  const t0 = Date.now();
  const reply = await dispatch(text, {
    actor: alice,
    services: bed.services,
    prefix: '',
    log: bed.services.log,
  });
  return { reply, ms: Date.now() - t0 };
}

/** The sandbox's containers of this scope. */
async function scopeContainers(): Promise<string[]> {
  const out = await sandbox.docker('ps', '-aq', '--filter', `label=${LABEL.scope}=${SCOPE}`);
  return out.split('\n').filter(Boolean);
}

/**
 * Polls (bounded) until the sandbox has held no container of this scope for `quietMs` (an engine
 * that was frozen may still carry out a create it had queued); returns how many are left.
 */
async function noContainersWithin(ms: number, quietMs = 0): Promise<number> {
  const deadline = Date.now() + ms;
  let left = (await scopeContainers()).length;
  let emptySince = left === 0 ? Date.now() : undefined;
  for (let i = 0; i < ms / 250 && Date.now() < deadline; i++) {
    if (emptySince !== undefined && Date.now() - emptySince >= quietMs) break;
    await sleep(250);
    left = (await scopeContainers()).length;
    if (left > 0) emptySince = undefined;
    else emptySince ??= Date.now();
  }
  return left;
}

/** The store holds no instance, and every pool port is free. */
function expectNothingHeld() {
  const doc = bed.services.store.read();
  expect(Object.keys(doc.instances)).toEqual([]);
  const counts = bed.services.pool.counts(doc);
  expect(counts).toMatchObject({ total: PORTS.count, free: PORTS.count, reserved: 0, inUse: 0 });
}

const POOL = `${PORTS.first}-${PORTS.first + PORTS.count - 1}`;

const sandboxEnv = () => ({
  DOCKER_HOST: sandbox.dockerHost,
  SPREADSERVE_BIND_IP: sandbox.bindIp,
  SPREADSERVE_PUBLIC_URL: `http://${sandbox.bindIp}`,
});

beforeAll(async () => {
  sandbox = await EngineSandbox.start({ tag: 'faults', subnet: 41 });
  engine = new DockerEngine({
    dockerHost: sandbox.dockerHost,
    timeouts: { quickMs: QUICK_MS, logsMs: QUICK_MS, imageMs: 10_000 },
  });
  bed = await testBed({ scope: SCOPE, ports: POOL, engine: faultable(engine), env: sandboxEnv() });
  await buildImage(bed.services);
}, 120_000);

afterAll(async () => {
  beforeCreate = undefined;
  await bed?.services.stop();
  await sandbox?.teardown();
}, 60_000);

describe('an engine frozen with SIGSTOP', () => {
  it('fails launch, list and status within their bounds, and leaks nothing once it is back', async () => {
    // given a launch whose create reaches the engine only once it is frozen
    beforeCreate = () => sandbox.freeze();
    try {
      // when the launch is made, then list and status while the engine stays frozen
      const launch = await command('launch demo --name frozen');
      const again = await command('launch demo --name frozen2');
      const list = await command('list');
      const status = await command('status');

      // then each answers within its bound with one sentence saying Docker did not answer
      const unanswered = `Docker did not answer within ${QUICK_MS / 1000}s.`;
      for (const { reply, ms } of [launch, again, list]) {
        expect(ms).toBeLessThan(COMMAND_BOUND_MS);
        expect(reply).toMatchObject({ ok: false, summary: unanswered, errorKind: 'engine-unreachable' });
      }
      expect(status.ms).toBeLessThan(COMMAND_BOUND_MS);
      expect(status.reply).toMatchObject({ ok: true, kind: 'status' });
      expect(status.reply.summary).toContain('Docker unreachable');
      expect(JSON.stringify(status.reply)).toContain(unanswered);
      // and the failed launch gave its port back at once
      expectNothingHeld();
    } finally {
      sandbox.thaw();
    }

    // when the engine is back: a create it carried out late is found and removed
    expect(await noContainersWithin(20_000, 3000)).toBe(0);
    await bed.services.reconcile({ atStart: false });
    expectNothingHeld();
    // and the name is free again: the same launch now works and stops cleanly
    const relaunch = await command('launch demo --name frozen');
    expect(relaunch.reply).toMatchObject({ ok: true });
    expect((await command('stop frozen')).reply).toMatchObject({ ok: true });
    expect(await noContainersWithin(5000)).toBe(0);
    expectNothingHeld();
  }, 120_000);
});

describe('an engine killed mid-launch and started again', () => {
  it('lets reconcile restore the truth, and every pool port is usable', async () => {
    // given a launch whose engine dies (kill -9) right after the container started
    let killing: Promise<void> | undefined;
    beforeCreate = undefined;
    const t0 = Date.now();
    const launch = dispatch('launch demo --name killed', {
      actor: alice,
      services: bed.services,
      prefix: '',
      log: bed.services.log,
      progress: (line) => {
        if (!killing && line.startsWith('Container started')) killing = sandbox.kill();
      },
    });
    const reply = await launch;
    expect(killing).toBeDefined();
    // the launch ends within its bound either way: failed (the engine is gone) or running
    expect(Date.now() - t0).toBeLessThan(30_000);
    if (!reply.ok) expect(reply.errorKind).toBe('engine-unreachable');

    // when the engine is started again (it kills what ran before; the start waits for the kill's
    // own cleanup, which may still run: the launch can fail first) and reconcile runs
    await sandbox.startDaemon();
    await bed.services.reconcile({ atStart: true });

    // then the store holds what Docker holds: nothing of this scope, and every port is free
    expect(await noContainersWithin(20_000)).toBe(0);
    await bed.services.reconcile({ atStart: false });
    expectNothingHeld();

    // and every pool port is usable: the pool fills with instances that answer
    const names = ['p1', 'p2', 'p3'];
    for (const name of names) {
      expect((await command(`launch demo --name ${name}`)).reply).toMatchObject({ ok: true });
    }
    const ports = names.map((n) => bed.services.store.read().instances[n]?.port).sort();
    expect(ports).toEqual([PORTS.first, PORTS.first + 1, PORTS.first + 2]);
    for (const name of names) expect((await command(`stop ${name}`)).reply).toMatchObject({ ok: true });
    expect(await noContainersWithin(5000)).toBe(0);
    expectNothingHeld();
    // and the sandbox still knows its running engine (the kill's end once forgot it, under load)
    await killing;
    expect(sandbox.pid).toBeGreaterThan(0);
  }, 120_000);
});

describe('stop() while a launch hangs on a frozen engine', () => {
  it('returns within its bound, says what was still running, and the launch still compensates', async () => {
    // given services of their own (own store) whose stop() waits at most 500 ms
    const lines: string[] = [];
    const log = createLogger('info', { write: (line: string) => void lines.push(line) });
    const services = await createServices(
      testConfig({ scope: SCOPE, ports: POOL, env: sandboxEnv() }, tempDir()),
      {
        engine: faultable(engine),
        log,
        templates: realTemplates(SCOPE),
        stopTimeoutMs: 500,
      },
    );
    beforeCreate = () => sandbox.freeze();
    try {
      // and a launch stuck in its create
      const launch = services.instances
        .launch({ actor: alice, template: 'demo', name: 'stopping' })
        .catch((err: unknown) => err);
      for (let i = 0; i < 100 && !services.instances.launching.has('stopping'); i++) await sleep(20);
      expect(services.instances.launching.has('stopping')).toBe(true);

      // when the process stops
      const t0 = Date.now();
      await services.stop();

      // then stop() returns at its bound and logs what it left running
      expect(Date.now() - t0).toBeLessThan(1500);
      const gaveUp = lines.map((l) => JSON.parse(l)).find((l) => /stopped waiting/.test(l.msg));
      expect(gaveUp).toMatchObject({ waitingFor: 'launches in flight', launching: ['stopping'] });
      // and the launch ends within its own bound, compensated: nothing held
      const err = await launch;
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).message).toBe(`Docker did not answer within ${QUICK_MS / 1000}s.`);
      expect(Object.keys(services.store.read().instances)).toEqual([]);
    } finally {
      sandbox.thaw();
    }
    expect(await noContainersWithin(20_000, 3000)).toBe(0);
  }, 120_000);
});
