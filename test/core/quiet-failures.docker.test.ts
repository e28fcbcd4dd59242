// Quiet failures: while Docker is down (or the store read-only), every reclaim pass fails, and the ops channel hears of it
// once when it starts and once when it ends (core/reclaim-summary.ts opsStep), not every pass.
import { mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderOpsSummary } from '../../bot/reclaim-messages.ts';
import type { Notifier, ReclaimReport } from '../../core/notifier.ts';
import { DockerEngine } from '../../engine/docker.ts';
import type { ContainerEngine } from '../../engine/types.ts';
import { type TestBed, testBed } from '../support/services.ts';

const SCOPE = 'test-quiet';
const PORTS = '24470-24471';

/** Records every ops summary. */
class RecordingNotifier implements Notifier {
  summaries: ReclaimReport[] = [];
  fail = false;
  async warnOwner() {
    return { delivered: true, detail: 'recorded' };
  }
  async opsSummary(r: ReclaimReport) {
    if (this.fail) throw new Error('chat down');
    this.summaries.push(r);
  }
}

/** A TCP port nothing listens on: an engine that is down. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The real engine, or one on a closed port while `down` is true. */
function switchableEngine(down: DockerEngine, up: DockerEngine, isDown: () => boolean): ContainerEngine {
  return new Proxy(up, {
    get(_target, prop) {
      const target = isDown() ? down : up;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

let engineDown = true;
const notifier = new RecordingNotifier();
let bed: TestBed;

beforeAll(async () => {
  const down = new DockerEngine({ dockerHost: `tcp://127.0.0.1:${await closedPort()}` });
  bed = await testBed({
    scope: SCOPE,
    ports: PORTS,
    engine: switchableEngine(down, new DockerEngine(), () => engineDown),
    notifier,
  });
}, 60_000);

afterAll(async () => {
  await bed?.services.stop();
  await bed?.cleanup();
});

const pass = () => bed.services.reclaimer.run({ trigger: 'schedule' });

describe('Docker down for several passes', () => {
  it('tells the ops channel once when it starts and once when it ends', async () => {
    // given Docker down: three passes fail
    const failed = [await pass(), await pass(), await pass()];
    expect(failed.map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);
    // then ops heard of the first only (each pass is still recorded with its failure)
    expect(notifier.summaries).toHaveLength(1);
    expect(notifier.summaries[0]?.summary).toMatch(/^Reclaim pass failed in \S+: Docker is not reachable/);
    expect(bed.services.store.read().reclaim.failures).toHaveLength(3);

    // when Docker answers again: two passes succeed
    engineDown = false;
    const good = [await pass(), await pass()];
    expect(good.map((r) => r.status)).toEqual(['done', 'done']);

    // then ops heard once more, that it works again and what had failed since when; not of the quiet pass
    expect(notifier.summaries).toHaveLength(2);
    const back = notifier.summaries[1];
    expect(back?.recovered?.reason).toMatch(/^Docker is not reachable/);
    expect(back?.summary).toMatch(/^Reclaim works again \(it failed from .* UTC on: Docker is not reachable/);
    expect(renderOpsSummary(back as ReclaimReport).text).toMatch(/^✅ Reclaim: Reclaim works again/);
    expect(good[1]?.recovered).toBeUndefined();
  });

  it('tells again when it starts again, and retries the message if the chat failed', async () => {
    // given Docker down again, and the chat failing the first message
    engineDown = true;
    notifier.fail = true;
    await pass();
    expect(notifier.summaries).toHaveLength(2);
    // when the chat is back and Docker still down
    notifier.fail = false;
    await pass();
    await pass();
    // then ops heard of it once: on the first pass they could be told
    expect(notifier.summaries).toHaveLength(3);
    expect(notifier.summaries[2]?.status).toBe('failed');
    // and once when Docker is back
    engineDown = false;
    await pass();
    expect(notifier.summaries).toHaveLength(4);
    expect(notifier.summaries[3]?.recovered).toBeDefined();
  });

  it('keeps a command dry run out of it', async () => {
    engineDown = true;
    const dry = await bed.services.reclaimer.run({ trigger: 'command', dryRun: true, by: 'UADMIN' });
    expect(dry.status).toBe('failed');
    expect(notifier.summaries).toHaveLength(4); // answered to its caller only
    await pass(); // the schedule's pass is the start of the outage for ops
    expect(notifier.summaries).toHaveLength(5);
    engineDown = false;
  });
});

describe('the store read-only for several passes', () => {
  it('tells the ops channel once when it starts and once when it ends', async () => {
    const before = notifier.summaries.length;
    // given a store whose writes fail: its temp file's path is taken by a folder
    const { store } = bed.services;
    const blocker = path.join(path.dirname(store.file), `.${path.basename(store.file)}.tmp`);
    mkdirSync(blocker);
    try {
      await expect(store.update(() => undefined)).rejects.toThrow(/read-only/);
      // when passes run meanwhile
      const failed = [await pass(), await pass(), await pass()];
      expect(failed.map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);
      // then ops heard of it once
      expect(notifier.summaries.length - before).toBe(1);
      expect(notifier.summaries.at(-1)?.summary).toMatch(
        /^Reclaim pass failed in \S+: The store .* read-only/,
      );
    } finally {
      rmSync(blocker, { recursive: true, force: true });
    }
    // when the store can be written again (it retries by itself) and a pass runs
    await store.update(() => undefined).catch(() => undefined);
    expect(store.writable).toBe(true);
    await pass();
    await pass();
    // then ops heard once more: it works again
    expect(notifier.summaries.length - before).toBe(2);
    expect(notifier.summaries.at(-1)?.summary).toMatch(
      /^Reclaim works again \(it failed from .* on: The store/,
    );
  });
});
