// The one line a reclaim pass is summed up in (status, the ops summary).
import { describe, expect, it } from 'vitest';
import type { ReclaimReport } from '../../core/notifier.ts';
import { summarise } from '../../core/reclaim-summary.ts';

const pass = (over: Partial<ReclaimReport> = {}): ReclaimReport => ({
  status: 'done',
  dryRun: false,
  trigger: 'schedule',
  startedAt: 0,
  durationMs: 58,
  baselineOnly: false,
  checked: 2,
  baselined: [],
  active: [],
  withdrawn: [],
  actions: [],
  cleaned: { closed: [], adopted: [], exited: [] },
  failures: [],
  summary: '',
  ...over,
});

describe('a pass summary', () => {
  it('on the first pass after a start says it judged nothing', () => {
    expect(summarise(pass({ baselineOnly: true }))).toBe(
      'First pass since the bot started: sampled 2 instances in 58ms as a baseline and judged nothing.',
    );
  });

  it('on the first pass still says what reconcile closed and adopted (a Swarm node lost since the start)', () => {
    // given the node watch's pass, the first since the start, whose reconcile closed a lost instance
    const r = pass({ baselineOnly: true, cleaned: { closed: [], adopted: ['stray'], exited: ['lost-1'] } });

    // then ops read it
    expect(summarise(r)).toBe(
      'First pass since the bot started: sampled 2 instances in 58ms as a baseline and judged nothing; ' +
        'closed 1 whose container was gone or had exited, adopted 1 found running.',
    );
  });

  it('on a later pass lists them with what it did', () => {
    const r = pass({ cleaned: { closed: ['gone-1'], adopted: [], exited: [] } });
    expect(summarise(r)).toBe(
      'Checked 2 instances in 58ms: closed 1 whose container was gone or had exited.',
    );
  });
});
