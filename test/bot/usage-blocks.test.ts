// The usage report and digest as Slack renders them, within Slack's limits however many users and
// templates there are; and USAGE_CRON refused at start like RECLAIM_CRON. No Docker.
import { describe, expect, it } from 'vitest';
import { renderReply } from '../../bot/render.ts';
import { renderUsageDigest } from '../../bot/usage-blocks.ts';
import { ConfigError, loadConfig } from '../../core/config.ts';
import { logNotifier } from '../../core/notifier.ts';
import { createUsageDigestSchedule } from '../../core/schedule.ts';
import type { UsageLine, UsageReport } from '../../core/usage-report.ts';
import { silentLogger } from '../../lib/log.ts';
import { checkLimits } from '../support/slack-limits.ts';

function report(users: number, templates: number): UsageReport {
  const line = (key: string): UsageLine => ({
    key,
    hours: 12.5,
    launches: 3,
    reclaims: 1,
    idleHoursReclaimed: 2.25,
  });
  return {
    days: 7,
    from: 0,
    to: 7 * 86_400_000,
    total: { hours: 12.5 * users, launches: 3 * users, reclaims: users, idleHoursReclaimed: 2.25 * users },
    byUser: Array.from({ length: users }, (_, k) => line(k === 0 ? 'cli:<b>&' : `U${k}ABCDEFGH`)),
    byTemplate: Array.from({ length: templates }, (_, k) => line(`template-${k}-${'x'.repeat(30)}`)),
  };
}

describe('usage blocks', () => {
  it('stay within Slack’s limits for 1 to 2,000 users, escaping what is not a mention', () => {
    for (const [users, templates] of [
      [1, 1],
      [40, 5],
      [2_000, 300],
    ] as const) {
      // given a report of that size, as the command's reply and as the digest
      const r = report(users, templates);
      const reply = renderReply({
        kind: 'usage',
        ok: true,
        visibility: 'ephemeral',
        scope: 'all',
        report: r,
        summary: 'Usage',
      });
      const digest = renderUsageDigest(r);
      // then both are within the limits, and the terminal user is escaped text, the Slack user a mention
      expect(checkLimits(reply.blocks, 50)).toEqual([]);
      expect(checkLimits(digest.blocks, 50)).toEqual([]);
      const text = JSON.stringify(digest.blocks);
      expect(text).toContain('cli:&lt;b&gt;&amp;');
      if (users > 1) expect(text).toContain('<@U1ABCDEFGH>');
    }
    expect(JSON.stringify(renderUsageDigest(report(2_000, 300)).blocks)).toMatch(/…and \d+ more users/);
  });

  it('show no lines when there was no use', () => {
    const empty = { ...report(0, 0), total: { hours: 0, launches: 0, reclaims: 0, idleHoursReclaimed: 0 } };
    expect(renderUsageDigest(empty).blocks).toHaveLength(1);
  });
});

describe('USAGE_CRON', () => {
  it('is off when unset, and a bad one is refused at start naming the variable', () => {
    expect(loadConfig({}).usageCron).toBeUndefined();
    expect(loadConfig({ USAGE_CRON: '0 9 * * 1' }).usageCron).toBe('0 9 * * 1');
    expect(() => loadConfig({ USAGE_CRON: 'mondays' })).toThrow(/USAGE_CRON: expected a cron expression/);
    // five fields node-cron refuses: the schedule says so when it is made
    expect(() =>
      createUsageDigestSchedule({
        cron: '99 9 * * 1',
        report: () => report(0, 0),
        notifier: logNotifier(silentLogger()),
        log: silentLogger(),
      }),
    ).toThrow(ConfigError);
  });
});
