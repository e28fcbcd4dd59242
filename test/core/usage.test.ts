// Usage totals and reports without Docker: a synthetic audit trail written through the real
// audit() (so the daily totals move as they do in the bot), then usageReport over it.
import { describe, expect, it } from 'vitest';
import { replyToText } from '../../cli/text.ts';
import { prepare } from '../../commands/index.ts';
import { audit } from '../../core/audit.ts';
import { DAY_MS, rebuildUsage } from '../../core/usage.ts';
import { usageReport } from '../../core/usage-report.ts';
import { isUserError } from '../../lib/errors.ts';
import { Draft } from '../../store/draft.ts';
import { type AuditEntry, emptyDoc, type StoreDoc } from '../../store/schema.ts';

const HOUR = 3_600_000;
/** Midnight UTC, 2026-11-20. */
const DAY0 = Date.UTC(2026, 10, 20);

/** Launch as core/launch.ts does: the record exists when the entry is written. */
function launch(
  doc: StoreDoc,
  at: number,
  owner: string,
  name: string,
  template: string,
  expiresAt?: number,
) {
  doc.instances[name] = {
    name,
    owner,
    template,
    port: 8080,
    state: 'running',
    createdAt: at,
    lastActivityAt: at,
    expiresAt,
  };
  audit(doc, { at, actor: owner, action: 'launch', instance: name, template });
}

/** Stop or reclaim as core/records.ts does: the record is gone when the entry is written. */
function close(doc: StoreDoc, at: number, name: string, action: AuditEntry['action'], actor = 'U0ADMIN') {
  const template = doc.instances[name]?.template;
  delete doc.instances[name];
  audit(doc, { at, actor, action, instance: name, template, reason: 'test' });
}

function give(doc: StoreDoc, at: number, name: string, to: string) {
  const record = doc.instances[name];
  if (!record) throw new Error(`no ${name}`);
  const from = record.owner;
  record.owner = to;
  audit(doc, { at, actor: from, action: 'give', instance: name, reason: `from ${from} to ${to}` });
}

const usageIn = (doc: StoreDoc) => {
  if (!doc.usage) throw new Error('no usage totals');
  return doc.usage;
};

describe('usage totals from the audit trail', () => {
  it('counts only the part of an instance’s life inside the window', () => {
    // Given an instance that ran from 22:00 on day 0 to 02:00 on day 2 (28 hours)
    const doc = emptyDoc();
    launch(doc, DAY0 + 22 * HOUR, 'U1ALICE', 'team-a', 'demo');
    close(doc, DAY0 + 2 * DAY_MS + 2 * HOUR, 'team-a', 'stop');
    const now = DAY0 + 2 * DAY_MS + 12 * HOUR;
    // When the report covers only today (day 2), then three days
    const today = usageReport(usageIn(doc), now, 1);
    const three = usageReport(usageIn(doc), now, 3);
    // Then today holds the 2 hours after midnight and no launch; three days the whole 28 hours
    expect(today.total).toEqual({ hours: 2, launches: 0, reclaims: 0, idleHoursReclaimed: 0 });
    expect(three.total).toEqual({ hours: 28, launches: 1, reclaims: 0, idleHoursReclaimed: 0 });
    expect(three.byTemplate).toEqual([{ key: 'demo', ...three.total }]);
  });

  it('counts a running instance up to now, cut at the window’s start', () => {
    // Given an instance launched 30 hours ago and still running
    const doc = emptyDoc();
    const now = DAY0 + 3 * DAY_MS + 6 * HOUR;
    launch(doc, now - 30 * HOUR, 'U1ALICE', 'team-a', 'demo');
    // When a 1-day report is made: then only today's 6 hours count
    expect(usageReport(usageIn(doc), now, 1).total.hours).toBe(6);
    expect(usageReport(usageIn(doc), now, 2).total.hours).toBe(30);
  });

  it('splits a given instance between its owners, each for their part', () => {
    // Given alice's instance, given to bob after 3 hours and stopped 2 hours later
    const doc = emptyDoc();
    launch(doc, DAY0 + HOUR, 'U1ALICE', 'team-a', 'demo');
    give(doc, DAY0 + 4 * HOUR, 'team-a', 'U2BOB');
    close(doc, DAY0 + 6 * HOUR, 'team-a', 'stop', 'U2BOB');
    // When everyone's report and bob's are made
    const now = DAY0 + 12 * HOUR;
    const all = usageReport(usageIn(doc), now, 7);
    // Then alice has 3 hours and the launch, bob 2 hours; bob's own report shows only his
    expect(all.byUser).toEqual([
      { key: 'U1ALICE', hours: 3, launches: 1, reclaims: 0, idleHoursReclaimed: 0 },
      { key: 'U2BOB', hours: 2, launches: 0, reclaims: 0, idleHoursReclaimed: 0 },
    ]);
    expect(usageReport(usageIn(doc), now, 7, { user: 'U2BOB' }).total.hours).toBe(2);
  });

  it('counts idle hours reclaimed to the TTL, or to the window’s end without one', () => {
    // Given one instance with an 10-hour TTL reclaimed after 4 hours, and one without reclaimed at hour 5
    const doc = emptyDoc();
    launch(doc, DAY0, 'U1ALICE', 'ttl-one', 'demo', DAY0 + 10 * HOUR);
    launch(doc, DAY0, 'U1ALICE', 'open-one', 'gpu');
    close(doc, DAY0 + 4 * HOUR, 'ttl-one', 'reclaim', 'schedule');
    close(doc, DAY0 + 5 * HOUR, 'open-one', 'reclaim', 'schedule');
    // When the report is made at hour 8
    const report = usageReport(usageIn(doc), DAY0 + 8 * HOUR, 7);
    // Then the TTL one would have run 6 more hours, the other 3 more (to now)
    expect(report.byTemplate).toEqual([
      { key: 'gpu', hours: 5, launches: 1, reclaims: 1, idleHoursReclaimed: 3 },
      { key: 'demo', hours: 4, launches: 1, reclaims: 1, idleHoursReclaimed: 6 },
    ]);
    expect(report.total.reclaims).toBe(2);
  });

  it('keeps its figures after the audit trail has rotated, and drops days past the window', () => {
    // Given 40 days ago an instance ran 5 hours; then the trail loses every entry about it
    const doc = emptyDoc();
    const now = DAY0 + 60 * DAY_MS;
    launch(doc, now - 40 * DAY_MS, 'U1ALICE', 'team-a', 'demo');
    close(doc, now - 40 * DAY_MS + 5 * HOUR, 'team-a', 'stop');
    doc.audit = [];
    // When reports over 90 days and over 7 days are made
    // Then the 90-day one still has the 5 hours from the daily totals, the 7-day one nothing
    expect(usageReport(usageIn(doc), now, 90).total).toEqual({
      hours: 5,
      launches: 1,
      reclaims: 0,
      idleHoursReclaimed: 0,
    });
    expect(usageReport(usageIn(doc), now, 7).byUser).toEqual([]);
  });

  it('rebuilds the totals of an old store from its audit trail', () => {
    // Given a store written before the totals: a trail and a running instance it launched
    const doc = emptyDoc();
    launch(doc, DAY0, 'U1ALICE', 'team-a', 'demo');
    launch(doc, DAY0 + HOUR, 'U2BOB', 'team-b', 'demo');
    close(doc, DAY0 + 3 * HOUR, 'team-a', 'stop');
    const old: StoreDoc = { ...doc, usage: undefined };
    // When the totals are rebuilt, and when the next audit entry is written
    const rebuilt = rebuildUsage(old);
    audit(old, { at: DAY0 + 4 * HOUR, actor: 'U0ADMIN', action: 'build', template: 'demo' });
    // Then both give what the live totals give
    const now = DAY0 + 5 * HOUR;
    expect(usageReport(rebuilt, now, 7)).toEqual(usageReport(usageIn(doc), now, 7));
    expect(usageReport(usageIn(old), now, 7).byUser).toEqual([
      { key: 'U2BOB', hours: 4, launches: 1, reclaims: 0, idleHoursReclaimed: 0 },
      { key: 'U1ALICE', hours: 3, launches: 1, reclaims: 0, idleHoursReclaimed: 0 },
    ]);
  });

  it('takes "__proto__" as a user and a template like any other name', () => {
    // Given a user and a template both named __proto__
    const doc = emptyDoc();
    launch(doc, DAY0, '__proto__', 'team-a', '__proto__');
    close(doc, DAY0 + 2 * HOUR, 'team-a', 'reclaim', 'schedule');
    // When the report is made, whole and filtered by the name
    const now = DAY0 + 3 * HOUR;
    const whole = usageReport(usageIn(doc), now, 7);
    const filtered = usageReport(usageIn(doc), now, 7, { user: '__proto__', template: '__proto__' });
    // Then the name is a key with its figures, and Object.prototype gained nothing
    expect(whole.byUser).toEqual([
      { key: '__proto__', hours: 2, launches: 1, reclaims: 1, idleHoursReclaimed: 1 },
    ]);
    expect(filtered.total).toEqual(whole.total);
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('hours');
  });
});

describe('usage command text', () => {
  function refusal(text: string): string {
    try {
      prepare(text);
    } catch (err) {
      expect(isUserError(err)).toBe(true);
      return (err as Error).message;
    }
    throw new Error(`${text} was accepted`);
  }

  it('refuses --days outside 1-365 in one sentence', () => {
    for (const days of ['0', 'abc', '10000', '-1', '2.5']) {
      expect(refusal(`usage --days ${days}`)).toMatch(
        /^--days takes a whole number of days from 1 to 365, got ".*"\. Usage: usage \[--days N\] \[mine\|all\|<template>\]$/,
      );
    }
    expect(refusal('usage mine all')).toMatch(/^Too many arguments/);
  });

  it('takes 1 and 365 days', () => {
    expect(() => prepare('usage --days 1')).not.toThrow();
    expect(() => prepare('usage --days 365 all')).not.toThrow();
  });
});

describe('usage in a terminal', () => {
  it('prints a table per user and per template under the summary', () => {
    // given a report with one user and one template
    const doc = emptyDoc();
    launch(doc, DAY0, 'cli:alice', 'team-a', 'demo');
    close(doc, DAY0 + 90 * 60_000, 'team-a', 'stop');
    const report = usageReport(usageIn(doc), DAY0 + 2 * HOUR, 7);
    // when the CLI prints it
    const text = replyToText({
      kind: 'usage',
      ok: true,
      visibility: 'ephemeral',
      scope: 'all',
      report,
      summary: 'Usage:',
    });
    // then both tables carry the figures
    expect(text.split('\n')).toEqual([
      'Usage:',
      expect.stringMatching(/^USER +HOURS +LAUNCHES +RECLAIMED +IDLE HOURS RECLAIMED$/),
      expect.stringMatching(/^cli:alice +1\.5 +1 +0 +0$/),
      expect.stringMatching(/^TEMPLATE +HOURS/),
      expect.stringMatching(/^demo +1\.5 +1 +0 +0$/),
    ]);
  });
});

describe('usage totals in a store update', () => {
  it('leave the committed document as it was when the update is not committed', () => {
    // given a committed document with alice's running instance and a day's row
    const base = emptyDoc();
    launch(base, DAY0, 'U1ALICE', 'team-a', 'demo');
    const before = structuredClone(base.usage);
    // when an update stops it but is never committed (it threw, say)
    const draft = new Draft(base);
    close(draft.doc, DAY0 + HOUR, 'team-a', 'stop');
    // then the draft counts the hour, and the committed document is unchanged
    expect(usageReport(usageIn(draft.doc), DAY0 + 2 * HOUR, 1).total.hours).toBe(1);
    expect(base.usage).toEqual(before);
    expect(usageReport(usageIn(draft.commit()), DAY0 + 2 * HOUR, 1).total.hours).toBe(1);
  });
});
