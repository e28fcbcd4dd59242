// The reclaim policy (core/reclaim-policy.ts), without Docker: one record, the counters just read,
// the default settings and a fixed `now`. Every input is frozen, so a policy that changed one
// would throw here.
import { describe, expect, it } from 'vitest';
import {
  type ActivitySample,
  type PolicyInput,
  type ReclaimSettings,
  reclaimPolicy,
} from '../../core/reclaim-policy.ts';
import { parseTemplates, policyFor } from '../../core/templates.ts';
import type { InstanceRecord } from '../../store/schema.ts';

const NOW = Date.parse('2026-03-02T12:00:00Z');
const SEC = 1_000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const KIB = 1024;
const IDLE = 2 * HOUR; // IDLE_TIMEOUT (default)
const GRACE = 15 * MIN; // IDLE_WARNING (default)
const FLOOR = 16 * KIB; // IDLE_BYTES_FLOOR (default)
const SETTINGS = { idleTimeoutMs: IDLE, idleWarningMs: GRACE, idleBytesFloor: FLOOR };

/** The counters as the previous pass left them, five minutes ago. */
const previous = (over: Partial<ActivitySample> = {}): ActivitySample => ({
  at: NOW - 5 * MIN,
  txBytes: 100_000,
  rxBytes: 500_000,
  txSinceActivity: 3_000,
  rxSinceActivity: 40_000,
  ...over,
});

/** A running instance launched 5 h ago, last used 3 h ago (idle past IDLE_TIMEOUT), sampled before. */
const record = (over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  name: 'demo-1',
  owner: 'UALICE',
  template: 'demo',
  port: 24000,
  state: 'running',
  containerId: 'c0ffee',
  createdAt: NOW - 5 * HOUR,
  lastActivityAt: NOW - 3 * HOUR,
  lastSample: previous(),
  ...over,
});

const pending = (reason: 'idle' | 'ttl', at: number) => ({ reason, at, deadline: at + GRACE });

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** One decision for `r`, whose counters went up by `sent` and `received` bytes since its last sample. */
function decide(
  r: InstanceRecord,
  traffic: { sent?: number; received?: number } = {},
  judge = true,
  settings: ReclaimSettings = SETTINGS,
) {
  const base = r.lastSample ?? { txBytes: 0, rxBytes: 0 };
  const input: PolicyInput = {
    record: r,
    sample: {
      txBytes: base.txBytes + (traffic.sent ?? 0),
      rxBytes: base.rxBytes + (traffic.received ?? 0),
      cpuNs: 0,
    },
    settings,
    now: NOW,
    judge,
  };
  return reclaimPolicy(deepFreeze(input));
}

describe('a first sample', () => {
  it('is only a baseline: nothing is judged idle, however long ago the last use', () => {
    // given an instance never sampled, unused for 3 h
    const r = record({ lastSample: undefined });

    // when its counters are read for the first time, large as they may be
    const v = reclaimPolicy(
      deepFreeze({
        record: r,
        sample: { txBytes: 9e9, rxBytes: 7e9, cpuNs: 1 },
        settings: SETTINGS,
        now: NOW,
        judge: true,
      }),
    );

    // then they are the baseline, and nothing is due
    expect(v).toEqual({
      activity: 'baseline',
      lastSample: { at: NOW, txBytes: 9e9, rxBytes: 7e9, txSinceActivity: 0, rxSinceActivity: 0 },
      lastActivityAt: r.lastActivityAt,
      withdraw: false,
      decision: { kind: 'none' },
    });
  });

  it('still sees a time limit that ran out: that needs no measured interval', () => {
    const v = decide(record({ lastSample: undefined, expiresAt: NOW - MIN }));
    expect(v.activity).toBe('baseline');
    expect(v.decision).toMatchObject({ kind: 'warn', reason: 'ttl' });
  });
});

describe('idle instances', () => {
  it('warns one idle for IDLE_TIMEOUT, with the evidence and a deadline IDLE_WARNING away', () => {
    // given an instance last used exactly IDLE_TIMEOUT ago
    const r = record({ lastActivityAt: NOW - IDLE });

    // when it sent less than the floor since the last sample
    const v = decide(r, { sent: 1_200, received: 900 });

    // then its owner is warned now, to be stopped IDLE_WARNING later
    expect(v.activity).toBe('idle');
    expect(v.withdraw).toBe(false);
    expect(v.decision).toEqual({
      kind: 'warn',
      reason: 'idle',
      warnedAt: NOW,
      deadline: NOW + GRACE,
      evidence: {
        reason: 'idle',
        lastActivityAt: NOW - IDLE,
        txSinceActivity: 4_200,
        rxSinceActivity: 40_900,
        floorBytes: FLOOR,
        createdAt: r.createdAt,
        expiresAt: undefined,
        text:
          'no use since 2026-03-02 10:00:00 UTC (2h ago): it sent 4.1 KiB and received 40 KiB since, ' +
          'and use means sending more than 16 KiB between two checks; ' +
          'policy: idle timeout 2h (default), floor 16 KiB (default), warning 15m (default)',
        policy: 'idle timeout 2h (default), floor 16 KiB (default), warning 15m (default)',
      },
    });
  });

  it('does not warn one idle for a second less than IDLE_TIMEOUT', () => {
    const v = decide(record({ lastActivityAt: NOW - IDLE + SEC }));
    expect(v.decision).toEqual({ kind: 'none' });
    expect(v.withdraw).toBe(false);
  });

  it('does not warn again while its idle warning is pending', () => {
    const v = decide(record({ warning: pending('idle', NOW - 5 * MIN) }));
    expect(v.decision).toEqual({ kind: 'none' });
    expect(v.withdraw).toBe(false);
  });

  it('reclaims one still idle when its warning deadline comes, naming when it was warned', () => {
    // given an idle instance warned IDLE_WARNING ago
    const warnedAt = NOW - GRACE;

    // when it is still idle at the deadline
    const v = decide(record({ warning: pending('idle', warnedAt) }), { sent: 500 });

    // then it is reclaimed
    expect(v.decision).toMatchObject({ kind: 'reclaim', reason: 'idle', warnedAt });
    expect(v.decision).not.toHaveProperty('deadline');
    expect(v.withdraw).toBe(false);
  });

  it('cancels a pending idle warning when the instance is used, and restarts its idle time', () => {
    // given an instance warned as idle, its deadline passed
    const r = record({ warning: pending('idle', NOW - GRACE - MIN) });

    // when it sent more than the floor since the last sample
    const v = decide(r, { sent: FLOOR + 1, received: 2_000 });

    // then it counts as used now, the warning is withdrawn, and nothing is due
    expect(v.activity).toBe('used');
    expect(v.lastActivityAt).toBe(NOW);
    expect(v.lastSample).toEqual({
      at: NOW,
      txBytes: 100_000 + FLOOR + 1,
      rxBytes: 502_000,
      txSinceActivity: 0,
      rxSinceActivity: 0,
    });
    expect(v.withdraw).toBe(true);
    expect(v.decision).toEqual({ kind: 'none' });
  });

  it('withdraws a pending warning once the instance is no longer idle long enough (it was kept)', () => {
    const v = decide(record({ lastActivityAt: NOW - 10 * MIN, warning: pending('idle', NOW - 5 * MIN) }));
    expect(v.withdraw).toBe(true);
    expect(v.decision).toEqual({ kind: 'none' });
  });
});

describe('keepUntil', () => {
  it('defers the idle warning until it passes, and withdraws one pending', () => {
    // given an instance idle past IDLE_TIMEOUT, kept until an hour from now, warned before the keep
    const kept = record({ keepUntil: NOW + HOUR, warning: pending('idle', NOW - 20 * MIN) });

    // then nothing is due yet, and the stale warning goes
    expect(decide(kept)).toMatchObject({ withdraw: true, decision: { kind: 'none' } });
    // and once the keep has passed it is warned like any idle one
    expect(decide(record({ keepUntil: NOW })).decision).toMatchObject({ kind: 'warn', reason: 'idle' });
    expect(decide(record({ keepUntil: NOW + SEC })).decision).toEqual({ kind: 'none' });
  });
});

describe('time limits (TTL / MAX_LIFETIME)', () => {
  it('warns once its time limit ran out, however busy it is', () => {
    // given a busy instance whose time limit ran out a minute ago
    const r = record({ lastActivityAt: NOW - MIN, expiresAt: NOW - MIN });

    // when it sent far more than the floor
    const v = decide(r, { sent: 50 * FLOOR });

    // then it counts as used, and is warned all the same
    expect(v.activity).toBe('used');
    expect(v.decision).toMatchObject({
      kind: 'warn',
      reason: 'ttl',
      warnedAt: NOW,
      deadline: NOW + GRACE,
      evidence: {
        reason: 'ttl',
        expiresAt: NOW - MIN,
        text:
          'its time limit ran out at 2026-03-02 11:59:00 UTC (launched 2026-03-02 07:00:00 UTC); traffic does not extend it; ' +
          'policy: warning 15m (default)',
        policy: 'warning 15m (default)',
      },
    });
  });

  it('reclaims it at the warning deadline, however busy it is, and a pending idle warning becomes a TTL one', () => {
    const busyPastDeadline = record({ expiresAt: NOW - GRACE, warning: pending('ttl', NOW - GRACE) });
    const v = decide(busyPastDeadline, { sent: 50 * FLOOR });
    expect(v.activity).toBe('used');
    expect(v.withdraw).toBe(false);
    expect(v.decision).toMatchObject({ kind: 'reclaim', reason: 'ttl', warnedAt: NOW - GRACE });

    // before the deadline nothing more is due
    const early = decide(record({ expiresAt: NOW - MIN, warning: pending('ttl', NOW - MIN) }));
    expect(early.decision).toEqual({ kind: 'none' });

    // an idle warning pending when the time limit runs out is replaced by a TTL warning
    const idleWarned = decide(record({ expiresAt: NOW, warning: pending('idle', NOW - 20 * MIN) }));
    expect(idleWarned.withdraw).toBe(false);
    expect(idleWarned.decision).toMatchObject({ kind: 'warn', reason: 'ttl', deadline: NOW + GRACE });
  });

  it('withdraws its TTL warning when the time limit moved, and then judges idleness as usual', () => {
    // given a TTL warning whose time limit moved an hour ahead, on an instance idle past IDLE_TIMEOUT
    const moved = record({ expiresAt: NOW + HOUR, warning: pending('ttl', NOW - 5 * MIN) });

    // then that warning is withdrawn and the idle warning is due
    const v = decide(moved);
    expect(v.withdraw).toBe(true);
    expect(v.decision).toMatchObject({ kind: 'warn', reason: 'idle' });

    // and on one not measured yet (no sample before this one) the warning goes all the same
    expect(decide(record({ ...moved, lastSample: undefined })).withdraw).toBe(true);
    // and on a recently used one nothing is due
    const used = decide(record({ ...moved, lastActivityAt: NOW - MIN }));
    expect(used).toMatchObject({ withdraw: true, decision: { kind: 'none' } });
  });
});

describe('bytes sent between two samples', () => {
  it('count as use only above IDLE_BYTES_FLOOR; received bytes never do', () => {
    const r = record({ lastActivityAt: NOW - 10 * MIN });
    expect(decide(r, { sent: FLOOR - 1 }).activity).toBe('idle');
    expect(decide(r, { sent: FLOOR }).activity).toBe('idle');
    expect(decide(r, { sent: FLOOR + 1 }).activity).toBe('used');
    expect(decide(r, { received: 1_000 * FLOOR }).activity).toBe('idle');
  });

  it('are summed since the last activity, and the sum starts again after an activity that followed the sample', () => {
    // given a sample taken after its last activity: the sums go on
    const after = decide(record(), { sent: 1_000, received: 10 });
    expect(after.lastSample).toMatchObject({ txSinceActivity: 4_000, rxSinceActivity: 40_010 });

    // given an extend (activity) after the last sample: the sums start from this interval
    const extended = decide(record({ lastActivityAt: NOW - MIN }), { sent: 1_000, received: 10 });
    expect(extended.lastSample).toMatchObject({ txSinceActivity: 1_000, rxSinceActivity: 10 });
  });

  it('after a restart (the counter went back) are what the new counter says', () => {
    // given counters that went back: the container restarted since the last sample
    const r = record({ lastSample: previous({ txBytes: 5_000_000, rxBytes: 9_000_000 }) });
    const restarted = (txBytes: number) =>
      reclaimPolicy(
        deepFreeze({
          record: r,
          sample: { txBytes, rxBytes: 700, cpuNs: 0 },
          settings: SETTINGS,
          now: NOW,
          judge: true,
        }),
      );

    // then what it sent since the restart is all it sent: a little is still idle...
    const quiet = restarted(500);
    expect(quiet.activity).toBe('idle');
    expect(quiet.lastSample).toMatchObject({ txBytes: 500, txSinceActivity: 3_500, rxSinceActivity: 40_700 });
    expect(quiet.decision).toMatchObject({ kind: 'warn', reason: 'idle' });
    // ...and more than the floor is use
    expect(restarted(FLOOR + 1).activity).toBe('used');
  });
});

describe('the first pass after the bot starts', () => {
  it('records the sample but decides nothing, not even what is overdue', () => {
    const overdue = record({ expiresAt: NOW - HOUR, warning: pending('ttl', NOW - HOUR) });
    const v = decide(overdue, { sent: 10 }, false);
    expect(v.decision).toEqual({ kind: 'none' });
    expect(v.withdraw).toBe(false);
    expect(v.lastSample?.at).toBe(NOW);

    const idleOverdue = decide(record({ warning: pending('idle', NOW - HOUR) }), {}, false);
    expect(idleOverdue).toMatchObject({ withdraw: false, decision: { kind: 'none' } });
  });

  it('still cancels an idle warning when the instance was used', () => {
    const v = decide(record({ warning: pending('idle', NOW - HOUR) }), { sent: FLOOR + 1 }, false);
    expect(v).toMatchObject({
      activity: 'used',
      withdraw: true,
      lastActivityAt: NOW,
      decision: { kind: 'none' },
    });
  });
});

describe('an instance whose counters cannot be read (a Swarm node with no engine endpoint)', () => {
  const unmeasured = (r: InstanceRecord, judge = true) =>
    reclaimPolicy(deepFreeze({ record: r, sample: undefined, settings: SETTINGS, now: NOW, judge }));

  it('is never judged idle, however long since its last use, and keeps its last sample', () => {
    // given an instance idle for 3 h (past IDLE_TIMEOUT) on a node the bot cannot sample
    const r = record();

    // when a pass has no counters for it
    const v = unmeasured(r);

    // then nothing is due and nothing it knew changes
    expect(v).toEqual({
      activity: 'unmeasured',
      lastSample: r.lastSample,
      lastActivityAt: r.lastActivityAt,
      withdraw: false,
      decision: { kind: 'none' },
    });
  });

  it('is still warned, then reclaimed, when its time limit runs out', () => {
    // given one whose time limit ran out a minute ago
    const r = record({ expiresAt: NOW - MIN });

    // when a pass has no counters for it, then it is warned for the time limit
    expect(unmeasured(r).decision).toMatchObject({ kind: 'warn', reason: 'ttl', deadline: NOW + GRACE });

    // and once that warning's deadline passed, it is reclaimed
    const warned = record({ expiresAt: NOW - HOUR, warning: pending('ttl', NOW - GRACE) });
    expect(unmeasured(warned).decision).toMatchObject({ kind: 'reclaim', reason: 'ttl' });
  });

  it('decides nothing on the first pass after a start, as any instance', () => {
    expect(unmeasured(record({ expiresAt: NOW - MIN }), false).decision).toEqual({ kind: 'none' });
  });
});

describe('per-template settings (templates.ts policyFor)', () => {
  // Two templates from a real templates file: gpu sets its own idle timeout, warning and floor;
  // demo sets none and lives by the global settings.
  const templates = parseTemplates(
    [
      'templates:',
      '  demo: { image: spreadserve/demo:1 }',
      '  gpu: { image: spreadserve/gpu:1, idleTimeout: 30m, idleWarning: 5m, bytesFloor: 1048576 }',
    ].join('\n'),
    '/srv',
  );
  const defaults = {
    maxInstancesPerUser: 3,
    reclaim: { idleTimeoutMs: IDLE, idleWarningMs: GRACE, idleBytesFloor: FLOOR, maxLifetimeMs: undefined },
  };
  const gpu = policyFor(templates, 'gpu', defaults);
  const demo = policyFor(templates, 'demo', defaults);

  it('judges two instances idle as long differently: the gpu one is warned, the demo one not', () => {
    // given two instances idle for 45 minutes, one of each template
    const idle45 = (template: string) => record({ template, lastActivityAt: NOW - 45 * MIN });

    // when both are judged in the same pass, each by its template's settings
    const onGpu = decide(idle45('gpu'), { sent: 100 }, true, gpu);
    const onDemo = decide(idle45('demo'), { sent: 100 }, true, demo);

    // then the gpu one (idle timeout 30m) is warned, with its own 5m warning; the demo one (2h) is not
    expect(onGpu.decision).toMatchObject({ kind: 'warn', reason: 'idle', deadline: NOW + 5 * MIN });
    expect(onDemo.decision).toEqual({ kind: 'none' });
    // and the warning says which policy applied, setting by setting
    expect(onGpu.decision.kind === 'warn' && onGpu.decision.evidence.policy).toBe(
      'idle timeout 30m (template gpu), floor 1 MiB (template gpu), warning 5m (template gpu)',
    );
  });

  it("counts use against the template's own bytes floor", () => {
    // given the same 100 KiB sent by an instance of each template
    const sent = 100 * KIB;
    // then it is use under the default 16 KiB floor, and idle under gpu's 1 MiB
    expect(decide(record({ template: 'demo' }), { sent }, true, demo).activity).toBe('used');
    expect(decide(record({ template: 'gpu' }), { sent }, true, gpu).activity).toBe('idle');
  });

  it('judges an instance whose template left the file by the defaults, and says so', () => {
    // given an instance of a template no longer in the templates file
    const gone = policyFor(templates, 'retired', defaults);
    expect(gone).toMatchObject({ idleTimeoutMs: IDLE, idleWarningMs: GRACE, idleBytesFloor: FLOOR });

    // when it is idle past IDLE_TIMEOUT
    const v = decide(record({ template: 'retired', lastActivityAt: NOW - IDLE }), {}, true, gone);

    // then it is warned by the global settings, named as the defaults
    expect(v.decision).toMatchObject({
      kind: 'warn',
      deadline: NOW + GRACE,
      evidence: { policy: 'idle timeout 2h (default), floor 16 KiB (default), warning 15m (default)' },
    });
  });

  it("names the template's own lifetime cap in a time-limit warning", () => {
    const capped = { ...gpu, maxLifetimeMs: 8 * HOUR, own: new Set([...gpu.own, 'maxLifetimeMs' as const]) };
    const v = decide(record({ template: 'gpu', expiresAt: NOW - MIN }), {}, true, capped);
    expect(v.decision).toMatchObject({
      kind: 'warn',
      reason: 'ttl',
      evidence: { policy: 'max lifetime 8h (template gpu), warning 5m (template gpu)' },
    });
  });
});
