// The bot's health and the port pool in Slack: the whole picture for the `status` reply, and
// the short form App Home shows under the user's instances.
import type { types } from '@slack/bolt';
import type { StatusView } from '../commands/reply.ts';
import { bar, clip, clipWithNote, oneLine, relativeTime } from '../lib/format.ts';
import { andMore, context, escapeMrkdwn, type KnownBlock, LIMITS, mrkdwn, section } from './blocks.ts';

const MAX_SET_ASIDE_SHOWN = 20;
const MAX_FAILURES_SHOWN = 5;
const MAX_FAILURE_TEXT = 400;
const POOL_BAR_CELLS = 20;

/** The `status` reply: engine, store, instances and ports, then the pool, reclaim and failures. */
export function statusBlocks(s: StatusView, now: number): KnownBlock[] {
  const fields: types.MrkdwnElement[] = [
    mrkdwn(
      `*Engine*\n${s.engine.reachable ? '✅ reachable' : `❌ unreachable${errorSuffix(s.engine.error)}`}`,
      LIMITS.fieldText,
    ),
    mrkdwn(
      `*Store*\n${s.store.writable ? '✅ writable' : `⚠️ read-only${errorSuffix(s.store.error)}`}`,
      LIMITS.fieldText,
    ),
    mrkdwn(
      `*Instances*\n${s.instances.running} running · ${s.instances.starting} starting`,
      LIMITS.fieldText,
    ),
    mrkdwn(`*Ports*\n${s.ports.free} free of ${s.ports.total}`, LIMITS.fieldText),
  ];
  return [
    { type: 'section', fields },
    section(portPoolText(s)),
    section(reclaimText(s, now)),
    section(failuresText(s, now)),
  ];
}

/** App Home's glance at the pool: the bar, health in one line, and when reclaim runs next. */
export function poolBlocks(s: StatusView, now: number): KnownBlock[] {
  const health = [
    s.engine.reachable ? '✅ engine reachable' : '❌ engine unreachable',
    s.store.writable ? '✅ store writable' : '⚠️ store read-only',
    `${s.instances.running} running · ${s.instances.starting} starting`,
  ].join(' · ');
  const next =
    s.reclaim.nextPassAt !== undefined ? `next reclaim ${relativeTime(now, s.reclaim.nextPassAt)}` : '';
  return [
    section(
      clipWithNote(['*Pool*', poolBar(s.ports.total, s.ports.free), health].join('\n'), LIMITS.sectionText),
    ),
    ...(next ? [context(next)] : []),
  ];
}

/** `▓▓▓▓▓▓░░░░░░░░░░░░░░ 31% used (310/1000)`: used is everything not free. */
export function poolBar(total: number, free: number, cells = POOL_BAR_CELLS): string {
  if (total <= 0) return 'no ports configured';
  const used = Math.min(total, Math.max(0, total - free));
  const ratio = used / total;
  // Like the bar, the percentage never rounds a little use to 0 nor nearly all to 100.
  const pct =
    used > 0 && ratio < 0.01
      ? '&lt;1'
      : used < total && ratio > 0.99
        ? '&gt;99'
        : String(Math.round(ratio * 100));
  return `\`${bar(used, total, { cells, visible: true })}\` ${pct}% used (${used}/${total})`;
}

function errorSuffix(error: string | undefined): string {
  return error ? `: ${escapeMrkdwn(oneLine(error))}` : '';
}

/** "ssmgr (manager, ready, 2 instances at 10.0.0.11), ..." */
export const nodesText = (nodes: NonNullable<StatusView['nodes']>): string =>
  nodes
    .map(
      (n) =>
        `${escapeMrkdwn(n.name)} (${n.role}, ${n.available ? 'ready' : 'not taking instances'}, ${n.instances} instance${n.instances === 1 ? '' : 's'} at ${escapeMrkdwn(n.address)})`,
    )
    .join(', ');

function portPoolText(s: StatusView): string {
  const p = s.ports;
  const lines = [
    '*Port pool*',
    poolBar(p.total, p.free),
    `in use ${p.inUse} · reserved ${p.reserved} · set aside ${p.setAside.length} · free ${p.free}`,
  ];
  if (s.nodes) lines.push(`Swarm nodes (each has the whole pool): ${nodesText(s.nodes)}`);
  for (const warning of s.hostLimits ?? []) lines.push(`⚠️ ${escapeMrkdwn(warning)}`);
  if (p.setAside.length > 0) {
    const shown = p.setAside.slice(0, MAX_SET_ASIDE_SHOWN).join(', ');
    const more = p.setAside.length - MAX_SET_ASIDE_SHOWN;
    lines.push(
      `Set aside (held by another process): ${shown}${more > 0 ? ` ${andMore(more, 'ports')}` : ''}`,
    );
  }
  return clipWithNote(lines.join('\n'), LIMITS.sectionText);
}

function reclaimText(s: StatusView, now: number): string {
  const r = s.reclaim;
  const last = r.lastPassAt !== undefined ? `last pass ${relativeTime(now, r.lastPassAt)}` : 'no pass yet';
  const next = r.nextPassAt !== undefined ? `next ${relativeTime(now, r.nextPassAt)}` : 'none scheduled';
  const lines = ['*Reclaim*', `${last} · ${next}`];
  if (r.sampler) lines.push(`activity: ${escapeMrkdwn(r.sampler)}`);
  if (r.lastSummary) lines.push(`> ${escapeMrkdwn(oneLine(r.lastSummary))}`);
  return clipWithNote(lines.join('\n'), LIMITS.sectionText);
}

function failuresText(s: StatusView, now: number): string {
  if (s.failures.length === 0) return '*Recent failures*\nnone';
  const recent = [...s.failures].sort((a, b) => b.at - a.at);
  const lines = recent.slice(0, MAX_FAILURES_SHOWN).map((f) => {
    const what = f.instance ? ` \`${escapeMrkdwn(f.instance)}\`` : '';
    return `• ${relativeTime(now, f.at)}${what}: ${escapeMrkdwn(clip(oneLine(f.error), MAX_FAILURE_TEXT))}`;
  });
  const more = recent.length - MAX_FAILURES_SHOWN;
  if (more > 0) lines.push(andMore(more, 'failures'));
  return clipWithNote(['*Recent failures*', ...lines].join('\n'), LIMITS.sectionText);
}
