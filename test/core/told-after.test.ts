// Told after, too (core/notifier.ts tellOwnerReclaimed): telling an owner their instance was
// reclaimed never fails the stop. A notifier without the message tells nothing; one that throws
// or hangs leaves an undelivered result and one failure in the pass's report.
import { describe, expect, it } from 'vitest';
import {
  type Notifier,
  type NotifyResult,
  type ReclaimedNotice,
  type ReclaimReport,
  tellOwnerReclaimed,
} from '../../core/notifier.ts';
import { UserError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';

const NOW = Date.parse('2026-01-01T12:00:00Z');

const notice: ReclaimedNotice = {
  instance: 'my-sheet',
  owner: 'UALICE',
  template: 'demo',
  port: 8082,
  url: 'http://127.0.0.1:8082',
  reason: 'idle',
  warnedAt: NOW - 900_000,
  reclaimedAt: NOW,
  evidence: {
    reason: 'idle',
    lastActivityAt: NOW - 7_800_000,
    txSinceActivity: 0,
    rxSinceActivity: 0,
    floorBytes: 16384,
    createdAt: NOW - 9_000_000,
    text: 'no use for 2h10m',
  },
};

function report(): ReclaimReport {
  return {
    status: 'done',
    dryRun: false,
    trigger: 'schedule',
    startedAt: NOW,
    durationMs: 0,
    baselineOnly: false,
    checked: 1,
    baselined: [],
    active: [],
    withdrawn: [],
    actions: [],
    cleaned: { closed: [], adopted: [], exited: [] },
    failures: [],
    summary: '',
  };
}

/** A notifier (the chat, stood in for) that only warns, plus `tellReclaimed` when given. */
function notifier(
  tellReclaimed?: (n: ReclaimedNotice) => Promise<NotifyResult>,
): Notifier & { told: ReclaimedNotice[] } {
  const told: ReclaimedNotice[] = [];
  return {
    told,
    warnOwner: async () => ({ delivered: true }),
    opsSummary: async () => undefined,
    ...(tellReclaimed && {
      tellReclaimed: (n: ReclaimedNotice) => {
        told.push(n);
        return tellReclaimed(n);
      },
    }),
  };
}

const unbounded = (call: Promise<NotifyResult>) => call;
const log = silentLogger();

describe('tellOwnerReclaimed', () => {
  it('hands the notice to the chat and returns what it said', async () => {
    const chat = notifier(async () => ({ delivered: true, detail: 'DM D1' }));
    const r = report();
    expect(await tellOwnerReclaimed(chat, notice, r, log, unbounded)).toEqual({
      delivered: true,
      detail: 'DM D1',
    });
    expect(chat.told).toEqual([notice]);
    expect(r.failures).toEqual([]);
  });

  it('tells nothing, and fails nothing, when the notifier has no after-message', async () => {
    const r = report();
    expect(await tellOwnerReclaimed(notifier(), notice, r, log, unbounded)).toBeUndefined();
    expect(r.failures).toEqual([]);
  });

  it('turns a failed DM into an undelivered result and one failure, never a throw', async () => {
    // given a chat that refuses in a sentence, and one that fails inside
    const refused = notifier(async () => {
      throw new UserError('timeout', 'the chat did not answer within 30s');
    });
    const broken = notifier(async () => {
      throw new Error('socket hang up');
    });
    const r = report();
    // when each is told
    const a = await tellOwnerReclaimed(refused, notice, r, log, unbounded);
    const b = await tellOwnerReclaimed(broken, notice, r, log, unbounded);
    // then the sentence is kept, the internal error gets a ref, and the pass hears of both
    expect(a).toEqual({ delivered: false, detail: 'the chat did not answer within 30s' });
    expect(b?.delivered).toBe(false);
    expect(b?.detail).toMatch(/^internal error \(ref [0-9a-f]{6}\)$/);
    expect(r.failures).toEqual([
      {
        instance: 'my-sheet',
        error: 'stopped, but could not tell UALICE: the chat did not answer within 30s',
      },
      { instance: 'my-sheet', error: `stopped, but could not tell UALICE: ${b?.detail}` },
    ]);
  });
});
