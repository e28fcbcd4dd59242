// The App Home view with the line a click in the tab produced: first, and within Slack's
// 100-block limit however many instances the user runs (pure rendering, no Slack, no Docker).
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../bot/blocks.ts';
import { renderHomeView } from '../../bot/home.ts';
import type { InstanceView, Reply, StatusView } from '../../commands/reply.ts';

const NOW = Date.parse('2026-01-01T12:00:00Z');

const instance = (n: number): InstanceView => ({
  name: `demo-${n}`,
  owner: 'UALICE',
  template: 'demo',
  port: 8080 + n,
  url: `http://127.0.0.1:${8080 + n}`,
  state: 'running',
  createdAt: NOW - 3_600_000,
  lastActivityAt: NOW - 60_000,
});

const status: StatusView = {
  engine: { reachable: true },
  store: { writable: true },
  instances: { running: 80, starting: 0 },
  ports: { total: 1000, free: 920, reserved: 0, inUse: 80, setAside: [] },
  reclaim: { nextPassAt: NOW + 120_000 },
  failures: [],
};

const notice: Reply = { kind: 'message', ok: true, visibility: 'ephemeral', summary: 'Stopped demo-0.' };

describe('App Home with a notice', () => {
  for (const count of [0, 3, 47, 80]) {
    it(`puts the notice first and stays within ${LIMITS.viewBlocks} blocks with ${count} instances`, () => {
      // given a user with `count` instances (47 filled the view exactly before the notice) who just
      // clicked Stop in the tab
      const instances = Array.from({ length: count }, (_, n) => instance(n));
      // when the view is rendered with the click's reply
      const view = renderHomeView({ userId: 'UALICE', instances, status, now: NOW, notice });
      // then the click's line comes first, and the view fits
      expect(JSON.stringify(view.blocks[0])).toContain('Stopped demo-0.');
      expect(view.blocks.length).toBeLessThanOrEqual(LIMITS.viewBlocks);
      if (count === 80) expect(JSON.stringify(view.blocks)).toMatch(/…and \d+ more instances/);
    });
  }
});
