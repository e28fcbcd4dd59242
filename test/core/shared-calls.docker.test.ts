// Concurrent commands that need the same engine answer share one call in flight (issue 12, acks
// at the floor): thirty `list all` typed at once cost the real engine a handful of list calls, not
// thirty, and every one of them still gets the right answer; nothing is kept once the call
// answered, so the next command sees what changed.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../commands/index.ts';
import type { Reply } from '../../commands/reply.ts';
import { createServices, dockerConnection, type Services } from '../../core/context.ts';
import { DockerEngine } from '../../engine/docker.ts';
import type { ContainerEngine } from '../../engine/types.ts';
import { silentLogger } from '../../lib/log.ts';
import { admin, buildImage, prepareScope } from '../support/services.ts';

const SCOPE = 'test-shared-calls';
const FIRST = 25060;
const PORTS = `${FIRST}-${FIRST + 19}`;
const NAMES = ['shared-a', 'shared-b', 'shared-c'];
/** Commands fired at once. */
const CONCURRENT = 30;
/** At most this many engine calls for CONCURRENT commands: one, and room for a call that answered
 * just as others arrived (each arrival after an answer starts a fresh call, by design). */
const MAX_CALLS = 3;

/** Engine calls made through the core, by method. */
const calls = new Map<string, number>();
const callsOf = (method: string) => calls.get(method) ?? 0;
/** When set, the next engine list waits for it before it goes to the engine (one call only). */
let holdNextList: Promise<void> | undefined;

/** Counts every engine call on its way through (the `instrument` hook the Slack bot times calls with). */
function counting(engine: ContainerEngine): ContainerEngine {
  return new Proxy(engine, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        calls.set(String(prop), callsOf(String(prop)) + 1);
        const hold = prop === 'list' ? holdNextList : undefined;
        if (hold) {
          holdNextList = undefined;
          await hold;
        }
        return value.apply(target, args);
      };
    },
  });
}

let services: Services;
let cleanup: () => Promise<void>;

const run = (input: string): Promise<Reply> =>
  dispatch(input, { actor: admin, services, prefix: '', log: services.log });

/** The names a `list` reply shows, sorted, with each one's state. */
function listed(reply: Reply): string[] {
  if (reply.kind !== 'instances') throw new Error(`expected an instances reply, got: ${reply.summary}`);
  return reply.instances.map((i) => `${i.name}:${i.state}`).sort();
}

beforeAll(async () => {
  const bed = await prepareScope({ scope: SCOPE, ports: PORTS });
  services = await createServices(bed.config, {
    engine: new DockerEngine(dockerConnection(bed.config)),
    instrument: counting,
    log: silentLogger(),
    templates: bed.templates,
  });
  cleanup = async () => {
    await services.stop();
    await bed.cleanup();
    rmSync(bed.dir, { recursive: true, force: true });
  };
  await buildImage(services);
  for (const name of NAMES) await services.instances.launch({ actor: admin, template: 'demo', name });
}, 180_000);

afterAll(async () => {
  await cleanup?.();
});

describe('commands that need the same engine answer share one call', () => {
  it(`answers ${CONCURRENT} concurrent \`list all\` correctly from at most ${MAX_CALLS} engine lists`, async () => {
    // given three running instances and the engine's list calls counted from here
    const before = callsOf('list');

    // when thirty `list all` run at once
    const replies = await Promise.all(Array.from({ length: CONCURRENT }, () => run('list all')));

    // then every reply lists all three, running
    const expected = NAMES.map((n) => `${n}:running`).sort();
    for (const reply of replies) {
      expect(reply.ok).toBe(true);
      expect(listed(reply)).toEqual(expected);
    }
    // and the engine was asked far fewer times than there were commands
    const made = callsOf('list') - before;
    expect(made).toBeGreaterThanOrEqual(1);
    expect(made).toBeLessThanOrEqual(MAX_CALLS);
  });

  it(`answers ${CONCURRENT} concurrent \`status\` from at most ${MAX_CALLS} engine pings`, async () => {
    // given the pings counted from here
    const before = callsOf('ping');

    // when thirty `status` run at once
    const replies = await Promise.all(Array.from({ length: CONCURRENT }, () => run('status')));

    // then each says the engine is reachable and counts three instances running
    for (const reply of replies) {
      if (reply.kind !== 'status') throw new Error(`expected a status reply, got: ${reply.summary}`);
      expect(reply.status.engine.reachable).toBe(true);
      expect(reply.status.instances.running).toBe(NAMES.length);
    }
    // and the engine was pinged far fewer times than there were commands
    const made = callsOf('ping') - before;
    expect(made).toBeGreaterThanOrEqual(1);
    expect(made).toBeLessThanOrEqual(MAX_CALLS);
  });

  it('keeps nothing after the call answered: a list after a stop makes a fresh call and shows the change', async () => {
    // given a round of concurrent lists that has answered
    await Promise.all(Array.from({ length: 5 }, () => run('list all')));

    // when an instance is stopped and `list all` runs again
    expect((await run(`stop ${NAMES[0]}`)).ok).toBe(true);
    const before = callsOf('list');
    const after = await run('list all');

    // then that list asked the engine itself and no longer shows the stopped instance
    expect(callsOf('list') - before).toBe(1);
    expect(listed(after)).toEqual(NAMES.slice(1).map((n) => `${n}:running`));
  });

  it('never joins a list that began before a change the caller already saw', async () => {
    // given a `list all` whose engine call is held in flight
    let release = () => {};
    holdNextList = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before = callsOf('list');
    const early = run('list all');

    // when an instance is launched meanwhile, and then another `list all` runs
    await services.instances.launch({ actor: admin, template: 'demo', name: 'shared-late' });
    const late = run('list all');
    release();

    // then the later list made its own engine call and shows the new instance running
    const lateReply = await late;
    await early;
    expect(callsOf('list') - before).toBe(2);
    expect(listed(lateReply)).toContain('shared-late:running');
  });
});
