// What every command returns: platform-neutral data. bot/render.ts turns it into Block Kit,
// cli/ into text or JSON. The first line a user sees is always `summary`.

import type { StatusReport } from '../core/health.ts';
import type { ReclaimReport } from '../core/notifier.ts';
import type { UsageReport } from '../core/usage-report.ts';
import { formatDuration } from '../lib/duration.ts';
import type { UserErrorKind } from '../lib/errors.ts';
import { formatBytes, formatUtc } from '../lib/format.ts';

export interface InstanceView {
  name: string;
  owner: string;
  template: string;
  port: number;
  /** On Swarm: the node it runs on (its port is that node's). */
  node?: string;
  url: string;
  /** starting: launch in progress; running: answered its health path; exited/missing: seen by Docker so. */
  state: 'starting' | 'running' | 'exited' | 'missing';
  createdAt: number;
  lastActivityAt: number;
  /** TTL deadline, when set. */
  expiresAt?: number;
  /** A pending reclaim warning. */
  warning?: { reason: 'idle' | 'ttl'; deadline: number };
}

export interface TemplateView {
  name: string;
  description: string;
  image: string;
  strategy: 'dockerfile' | 'commit';
  /** The Docker host it needs: its image runs on a Linux or a Windows engine only. */
  platform: 'linux' | 'windows';
  built: boolean;
  sizeBytes?: number;
  imageCreatedAt?: number;
  lastBuild?: { by: string; at: number; outcome: string; durationMs: number };
  /** The limits and options every instance of it gets (the template's own, else the defaults). */
  limits: TemplateLimitsView;
  /** The reclaim and quota settings of its instances (the template's own, else the global ones). */
  policy: TemplatePolicyView;
  /** Made by `save` (the saved templates file): from which instance and template, by whom, when. */
  saved?: { instance?: string; template?: string; by?: string; at?: number };
}

export interface TemplatePolicyView {
  idleTimeoutMs: number;
  idleWarningMs: number;
  bytesFloor: number;
  /** No lifetime cap when absent. */
  maxLifetimeMs?: number;
  /** 0: no limit. The template's own counts its instances; the default (MAX_INSTANCES_PER_USER) all of them. */
  maxPerUser: number;
  /** The settings the template sets itself, by their templates-file names; the others are the defaults. */
  own: string[];
}

/** "idle timeout 30m (template) · warning 15m (default) · floor 16 KiB (default) · ...". */
export function policyText(p: TemplatePolicyView): string {
  const from = (field: string) => (p.own.includes(field) ? 'template' : 'default');
  const perUser =
    p.maxPerUser === 0
      ? 'no per-user limit'
      : `${p.maxPerUser} per user${p.own.includes('maxPerUser') ? '' : ', all templates'}`;
  const lifetime = p.maxLifetimeMs === undefined ? 'none' : formatDuration(p.maxLifetimeMs);
  return [
    `idle timeout ${formatDuration(p.idleTimeoutMs)} (${from('idleTimeout')})`,
    `warning ${formatDuration(p.idleWarningMs)} (${from('idleWarning')})`,
    `floor ${formatBytes(p.bytesFloor, 'binary')} (${from('bytesFloor')})`,
    `max lifetime ${lifetime} (${from('maxLifetime')})`,
    `${perUser} (${from('maxPerUser')})`,
  ].join(' · ');
}

export interface TemplateLimitsView {
  memoryBytes: number;
  cpus: number;
  /** Linux only (a Windows engine takes no processes limit). */
  pids?: number;
  readOnly: boolean;
  user?: string;
  /** Windows only: process or Hyper-V isolation, when the template sets one. */
  isolation?: 'process' | 'hyperv';
}

/** "512 MiB memory (no swap) · 1 CPU · 256 processes", then "read-only root", "user 1000:1000";
 * on Windows "2 GiB memory · 1 CPU · process isolation". */
export function limitsText(l: TemplateLimitsView): string {
  return [
    `${formatBytes(l.memoryBytes, 'binary')} memory${l.pids !== undefined ? ' (no swap)' : ''}`,
    `${l.cpus} CPU${l.cpus === 1 ? '' : 's'}`,
    l.pids !== undefined ? `${l.pids} processes` : undefined,
    l.readOnly ? 'read-only root' : undefined,
    l.isolation !== undefined ? `${l.isolation === 'hyperv' ? 'Hyper-V' : 'process'} isolation` : undefined,
    l.user !== undefined ? `user ${l.user}` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** "saved from team-a (template demo) by U123 at 2026-11-29 21:01 UTC": a saved template's origin. */
export function savedText(s: NonNullable<TemplateView['saved']>): string {
  const from = s.instance ? ` from ${s.instance}${s.template ? ` (template ${s.template})` : ''}` : '';
  const by = s.by ? ` by ${s.by}` : '';
  const at = s.at !== undefined ? ` at ${formatUtc(s.at, 'minute')}` : '';
  return `saved${from}${by}${at}`;
}

/** What `status` shows: core/health.ts's report. */
export type StatusView = StatusReport;

export interface BuildView {
  template: string;
  tag: string;
  imageId: string;
  sizeBytes: number;
  durationMs: number;
  strategy: 'dockerfile' | 'commit';
}

/** One audit trail entry, as `history` shows it. */
export interface HistoryEntry {
  at: number;
  /** A user id, `cli:<user>` or `schedule`. */
  actor: string;
  action: string;
  instance?: string;
  template?: string;
  reason?: string;
}

export interface HelpEntry {
  name: string;
  usage: string;
  summary: string;
  who: string;
}

interface ReplyBase {
  /** false when the command was refused or failed (CLI exit 1, 2 for usage). */
  ok: boolean;
  /** One line saying what happened. */
  summary: string;
  /** Extra lines under the summary, e.g. an installer's last log lines. */
  details?: string[];
  /** Only the caller sees it (ephemeral), or everyone in the channel (status). */
  visibility: 'ephemeral' | 'in_channel';
  /** Set on failures: what kind of error it was. */
  errorKind?: UserErrorKind | 'internal';
}

export type Reply = ReplyBase &
  (
    | { kind: 'message' }
    | { kind: 'help'; commands: HelpEntry[] }
    | { kind: 'instance'; instance: InstanceView }
    | { kind: 'instances'; scope: 'mine' | 'all'; instances: InstanceView[]; now: number }
    | { kind: 'templates'; templates: TemplateView[] }
    | { kind: 'status'; status: StatusView; now: number }
    | { kind: 'build'; build: BuildView }
    | { kind: 'reclaim'; report: ReclaimReport }
    /** Newest first; `total` counts the matching entries, shown or not. */
    | { kind: 'history'; entries: HistoryEntry[]; total: number; instance?: string; now: number }
    /** `usage`: scope is "mine", "all" or a template's name. */
    | { kind: 'usage'; scope: string; report: UsageReport }
  );

/**
 * A reclaim pass's failure already told on its instance's action line (a failed stop, an owner
 * not told): both renderers list the other failures on their own.
 */
export function failureShownWithAction(r: ReclaimReport, instance: string | undefined): boolean {
  return r.actions.some(
    (a) => a.instance === instance && (a.error !== undefined || a.notified?.delivered === false),
  );
}
