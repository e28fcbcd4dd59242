// The reclaim policy: what one pass does about one running instance, given its record (whose
// lastSample is the previous sample, if any), the counters just read, the settings and the time.
// Pure: it changes none of its inputs; the pass (reclaim.ts) applies what it returns inside its
// store update, so a concurrent extend is seen.
//
//  - A first sample is only a baseline: idleness needs one measured interval.
//  - Use is SENDING more than IDLE_BYTES_FLOOR between two samples. Received bytes are not a
//    signal: they grow with broadcast noise on the bridge. A counter that went back means the
//    container restarted, and then all it counts was sent since.
//  - Past its time limit (TTL / MAX_LIFETIME): warn, then reclaim IDLE_WARNING later whatever the
//    traffic. Idle for IDLE_TIMEOUT (and past any keepUntil): warn, then reclaim if still idle
//    IDLE_WARNING later.
//  - Use cancels a pending idle warning; a warning whose cause is no longer due (its time limit
//    moved, it was kept) is withdrawn. An extend / Keep clears any warning itself (Instances.extend).
//  - The first pass after the bot starts only samples: it decides nothing.
//  - Quiet hours (quiet-hours.ts): an idle warning due inside the owner's quiet hours is held (no
//    warning, nothing recorded) until a pass after they end, and its deadline counts from then. A
//    time limit that runs out inside them is warned one warning period before they start instead,
//    with the deadline it would have had; a time-limit warning is never held.
import type { NetworkSample } from '../engine/types.ts';
import { formatDuration } from '../lib/duration.ts';
import { formatBytes, formatUtc } from '../lib/format.ts';
import type { InstanceRecord } from '../store/schema.ts';
import type { Config } from './config.ts';
import type { ReclaimEvidence, ReclaimReason, ReclaimStep } from './notifier.ts';
import { type OwnerQuiet, quietSpanAt } from './quiet-hours.ts';
import { type EffectivePolicy, POLICY_FIELDS, type PolicyField, policySource } from './templates.ts';

/** The settings of the instance's template (its own, else the global ones: templates.ts policyFor);
 * without `own`, every one is said to be the default. */
export type ReclaimSettings = Pick<Config['reclaim'], 'idleTimeoutMs' | 'idleWarningMs' | 'idleBytesFloor'> &
  Partial<Pick<EffectivePolicy, 'template' | 'own' | 'maxLifetimeMs'>>;

/** The counters as a record keeps them between passes. */
export type ActivitySample = NonNullable<InstanceRecord['lastSample']>;

export interface PolicyInput {
  record: Readonly<InstanceRecord>;
  /** The counters just read; undefined when none can be (a Swarm node with no engine endpoint):
   * then only its time limit is judged. */
  sample: Readonly<NetworkSample> | undefined;
  settings: Readonly<ReclaimSettings>;
  now: number;
  /** False on the first pass after the bot starts: it only samples. */
  judge: boolean;
  /** The owner's quiet hours in their time zone; absent: none (QUIET_HOURS unset). */
  quiet?: OwnerQuiet;
}

/** Something to do about an instance: warn its owner, or stop it (warned, and the deadline passed). */
export type Due = ReclaimStep & { reason: ReclaimReason; evidence: ReclaimEvidence };

/** What is due for an instance now. */
export type Decision = { kind: 'none' } | Due;

/** The policy's answer for one instance: what its sample showed, its next state, and what is due. */
export interface Verdict {
  /** baseline: its first sample; used: it sent more than the floor since the last one; idle: it did
   * not; unmeasured: no counters could be read (time limits only). */
  activity: 'baseline' | 'idle' | 'used' | 'unmeasured';
  /** The record's next lastSample: these counters, and the sums since its last activity. */
  lastSample: ActivitySample | undefined;
  /** The record's next lastActivityAt: `now` when used, else unchanged. */
  lastActivityAt: number;
  /** Its pending warning is cancelled (before a new one, when `decision` warns again). */
  withdraw: boolean;
  decision: Decision;
  /** An idle warning was due but held: the owner's quiet hours last until then. */
  heldUntil?: number;
}

const NOTHING: Decision = { kind: 'none' };

export function reclaimPolicy(input: PolicyInput): Verdict {
  const { record, sample, settings, now } = input;
  if (sample === undefined) {
    // No counters: nothing learnt about its traffic; its time limit still holds.
    const seen = {
      activity: 'unmeasured',
      lastSample: record.lastSample,
      lastActivityAt: record.lastActivityAt,
    } as const;
    if (!input.judge) return { ...seen, withdraw: false, decision: NOTHING };
    const judged = judge(record, false, settings, now, input.quiet);
    return { ...seen, withdraw: judged.withdraw, decision: judged.decision };
  }
  const prev = record.lastSample;
  const sent = prev ? counterDelta(prev.txBytes, sample.txBytes) : 0;
  const received = prev ? counterDelta(prev.rxBytes, sample.rxBytes) : 0;
  const activity = !prev ? 'baseline' : sent > settings.idleBytesFloor ? 'used' : 'idle';
  const used = activity === 'used';
  // Sums go on from the previous sample unless an activity (launch, extend) came after it.
  const carry = prev !== undefined && prev.at >= record.lastActivityAt;
  const lastSample: ActivitySample = {
    at: now,
    txBytes: sample.txBytes,
    rxBytes: sample.rxBytes,
    txSinceActivity: used ? 0 : (carry ? (prev.txSinceActivity ?? 0) : 0) + sent,
    rxSinceActivity: used ? 0 : (carry ? (prev.rxSinceActivity ?? 0) : 0) + received,
  };
  const lastActivityAt = used ? now : record.lastActivityAt;
  const usedWhileWarned = used && record.warning?.reason === 'idle';
  const seen = { activity, lastSample, lastActivityAt } as const;
  if (!input.judge) return { ...seen, withdraw: usedWhileWarned, decision: NOTHING };
  const current: InstanceRecord = {
    ...record,
    lastSample,
    lastActivityAt,
    warning: usedWhileWarned ? undefined : record.warning,
  };
  const judged = judge(current, prev !== undefined, settings, now, input.quiet);
  const withdraw = usedWhileWarned || judged.withdraw;
  const due = judged.decision;
  // An idle warning not yet given waits out the owner's quiet hours (a pending one still reclaims).
  const span =
    due.kind === 'warn' && due.reason === 'idle' && input.quiet ? quietSpanAt(now, input.quiet) : undefined;
  if (span) return { ...seen, withdraw, decision: NOTHING, heldUntil: span.end };
  return { ...seen, withdraw, decision: due };
}

/** What is due for a record as it stands after this sample. */
function judge(
  record: InstanceRecord,
  measured: boolean,
  settings: ReclaimSettings,
  now: number,
  quiet: OwnerQuiet | undefined,
): { withdraw: boolean; decision: Decision } {
  const expiresAt = record.expiresAt;
  if (expiresAt !== undefined && now >= ttlWarningAt(expiresAt, settings.idleWarningMs, quiet)) {
    // Warned early (quiet hours), the deadline is the one a warning at the limit would have had.
    const deadline = Math.max(now, expiresAt) + settings.idleWarningMs;
    return { withdraw: false, decision: warnOrReclaim(record, 'ttl', settings, now, deadline) };
  }
  // Its time limit moved (an extend normally clears the warning itself): nothing of it is due.
  const ttlMoved = record.warning?.reason === 'ttl';
  if (!measured) return { withdraw: ttlMoved, decision: NOTHING };
  const idleDue = Math.max(record.lastActivityAt + settings.idleTimeoutMs, record.keepUntil ?? 0);
  if (now < idleDue) return { withdraw: record.warning !== undefined, decision: NOTHING };
  const unwarned = ttlMoved ? { ...record, warning: undefined } : record;
  const deadline = now + settings.idleWarningMs;
  return { withdraw: ttlMoved, decision: warnOrReclaim(unwarned, 'idle', settings, now, deadline) };
}

/** When a time limit's warning is due: at the limit, or one warning period before the quiet hours
 * it runs out in start. */
function ttlWarningAt(expiresAt: number, warningMs: number, quiet: OwnerQuiet | undefined): number {
  const span = quiet ? quietSpanAt(expiresAt, quiet) : undefined;
  return span ? Math.min(expiresAt, span.start - warningMs) : expiresAt;
}

/** Warns when no warning of this reason is pending; reclaims once that warning's deadline passed. */
function warnOrReclaim(
  record: InstanceRecord,
  reason: ReclaimReason,
  settings: ReclaimSettings,
  now: number,
  deadline: number,
): Decision {
  const evidence = evidenceOf(record, reason, settings, now);
  const warning = record.warning;
  if (warning?.reason !== reason) return { kind: 'warn', reason, evidence, warnedAt: now, deadline };
  return now >= warning.deadline ? { kind: 'reclaim', reason, evidence, warnedAt: warning.at } : NOTHING;
}

function evidenceOf(
  record: InstanceRecord,
  reason: ReclaimReason,
  settings: ReclaimSettings,
  now: number,
): ReclaimEvidence {
  const floorBytes = settings.idleBytesFloor;
  const policy = policyText(reason, settings);
  const tx = record.lastSample?.txSinceActivity ?? 0;
  const rx = record.lastSample?.rxSinceActivity ?? 0;
  const bytes = (n: number) => formatBytes(n, 'binary');
  const text =
    reason === 'ttl'
      ? `its time limit ${now >= (record.expiresAt ?? now) ? 'ran' : 'runs'} out at ${formatUtc(record.expiresAt ?? now, 'second')} ` +
        `(launched ${formatUtc(record.createdAt, 'second')}); traffic does not extend it`
      : `no use since ${formatUtc(record.lastActivityAt, 'second')} (${formatDuration(now - record.lastActivityAt)} ago): ` +
        `it sent ${bytes(tx)} and received ${bytes(rx)} since, ` +
        `and use means sending more than ${bytes(floorBytes)} between two checks`;
  return {
    reason,
    lastActivityAt: record.lastActivityAt,
    txSinceActivity: tx,
    rxSinceActivity: rx,
    floorBytes,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    text: `${text}; policy: ${policy}`,
    policy,
  };
}

/** The settings that judged it, each with where it came from: "idle timeout 30m (template gpu), ...". */
function policyText(reason: ReclaimReason, settings: ReclaimSettings): string {
  const from = { template: settings.template ?? '', own: settings.own ?? new Set<PolicyField>() };
  const say = (field: PolicyField, value: string) =>
    `${POLICY_FIELDS[field].words} ${value} (${policySource(from, field)})`;
  const parts =
    reason === 'idle'
      ? [
          say('idleTimeoutMs', formatDuration(settings.idleTimeoutMs)),
          say('idleBytesFloor', formatBytes(settings.idleBytesFloor, 'binary')),
        ]
      : settings.maxLifetimeMs !== undefined
        ? [say('maxLifetimeMs', formatDuration(settings.maxLifetimeMs))]
        : [];
  return [...parts, say('idleWarningMs', formatDuration(settings.idleWarningMs))].join(', ');
}

/** Bytes since the previous sample; a counter that went back means the container restarted,
 * and then everything it counts was sent since. */
function counterDelta(before: number, after: number): number {
  return after >= before ? after - before : after;
}
