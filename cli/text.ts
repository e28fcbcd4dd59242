// Reply -> plain text for the terminal (CLI and local shell).
import {
  failureShownWithAction,
  type InstanceView,
  limitsText,
  policyText,
  type Reply,
  savedText,
} from '../commands/reply.ts';
import type { ReclaimAction, ReclaimReport, ReclaimWarning } from '../core/notifier.ts';
import { clip, elapsed, formatBytes, formatUtc, oneLine, stripControls } from '../lib/format.ts';
import { usageTextLines } from './usage-text.ts';

const MAX_HISTORY_REASON = 200;

/** Rows as columns two spaces apart, each as wide as its widest cell. */
function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, col) => {
      widths[col] = Math.max(widths[col] ?? 0, cell.length);
    });
  }
  return rows.map((r) =>
    r
      .map((cell, col) => cell.padEnd(widths[col] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

function instanceRows(instances: readonly InstanceView[], now: number): string[] {
  // On Swarm a NODE column: the same port may serve a different instance on each node.
  const onNodes = instances.some((i) => i.node !== undefined);
  return table([
    ['NAME', 'OWNER', 'TEMPLATE', 'URL', ...(onNodes ? ['NODE'] : []), 'STATE', 'AGE', 'IDLE'],
    ...instances.map((i) => [
      i.name,
      i.owner,
      i.template,
      i.url,
      ...(onNodes ? [i.node ?? '-'] : []),
      i.warning ? `${i.state} (reclaim warned)` : i.state,
      elapsed(now, i.createdAt),
      elapsed(now, i.lastActivityAt),
    ]),
  ]);
}

export function replyToText(reply: Reply, now = Date.now()): string {
  const lines = [reply.ok ? reply.summary : `Error: ${reply.summary}`];
  switch (reply.kind) {
    case 'help':
      lines.push(...table(reply.commands.map((c) => [`  ${c.usage}`, c.summary])));
      break;
    case 'instance': {
      const i = reply.instance;
      lines.push(`  url:      ${i.url}`, `  owner:    ${i.owner}`, `  template: ${i.template}`);
      if (i.node !== undefined) lines.push(`  node:     ${i.node}`);
      if (i.expiresAt) lines.push(`  ttl:      until ${formatUtc(i.expiresAt, 'second')}`);
      break;
    }
    case 'instances':
      if (reply.instances.length > 0) lines.push(...instanceRows(reply.instances, reply.now));
      break;
    case 'templates':
      lines.push(
        ...table([
          [
            'TEMPLATE',
            'IMAGE',
            'BUILT',
            'SIZE',
            'LAST BUILD',
            'PLATFORM',
            'EACH INSTANCE',
            'RECLAIM',
            'DESCRIPTION',
          ],
          ...reply.templates.map((t) => [
            t.name,
            t.image,
            t.built ? `yes, ${elapsed(now, t.imageCreatedAt ?? now)} ago` : 'no',
            t.sizeBytes === undefined ? '-' : formatBytes(t.sizeBytes),
            t.lastBuild
              ? `${t.lastBuild.outcome} by ${t.lastBuild.by}, ${elapsed(now, t.lastBuild.at)} ago`
              : '-',
            t.platform,
            limitsText(t.limits),
            policyText(t.policy),
            t.saved ? `[${savedText(t.saved)}] ${t.description}` : t.description,
          ]),
        ]),
      );
      break;
    case 'status': {
      const s = reply.status;
      const used = s.ports.inUse + s.ports.reserved;
      lines.push(
        `  engine:    ${s.engine.reachable ? 'reachable' : `unreachable (${s.engine.error})`}`,
        `  store:     ${s.store.writable ? 'writable' : `read-only (${s.store.error})`}`,
        `  instances: ${s.instances.running} running, ${s.instances.starting} starting`,
        `  ports:     ${used}/${s.ports.total} used, ${s.ports.free} free${s.ports.setAside.length ? `, set aside (held by other processes): ${s.ports.setAside.join(', ')}` : ''}`,
        `  reclaim:   last ${s.reclaim.lastPassAt ? `${elapsed(reply.now, s.reclaim.lastPassAt)} ago` : 'never'}, next ${s.reclaim.nextPassAt ? formatUtc(s.reclaim.nextPassAt, 'second') : 'not scheduled'}`,
      );
      if (s.nodes) {
        for (const n of s.nodes)
          lines.push(
            `  node:      ${n.name} (${n.role}, ${n.available ? 'ready' : 'not taking instances'}, ${n.instances} instances at ${n.address})`,
          );
      }
      for (const warning of s.hostLimits ?? []) lines.push(`  host:      ${warning}`);
      if (s.reclaim.sampler) lines.push(`  activity:  ${s.reclaim.sampler}`);
      for (const f of s.failures)
        lines.push(`  failure:   ${formatUtc(f.at, 'second')} ${f.instance ?? ''} ${f.error}`);
      break;
    }
    case 'build':
      lines.push(`  image: ${reply.build.imageId}`);
      break;
    case 'reclaim':
      lines.push(...reclaimReportLines(reply.report));
      break;
    case 'history':
      if (reply.entries.length > 0) {
        lines.push(
          ...table([
            ['WHEN', 'ACTION', 'INSTANCE', 'BY', 'WHY'],
            ...reply.entries.map((e) => [
              formatUtc(e.at, 'second'),
              e.action,
              e.instance ?? '-',
              e.actor,
              clip(oneLine(e.reason ?? ''), MAX_HISTORY_REASON),
            ]),
          ]),
        );
      }
      break;
    case 'usage':
      lines.push(...usageTextLines(reply.report, table));
      break;
    case 'message':
      break;
  }
  // Details carry container log lines: nothing in them may reach the terminal as a control.
  for (const d of reply.details ?? []) lines.push(`  | ${stripControls(d)}`);
  return lines.join('\n');
}

const VERBS: Record<ReclaimAction['kind'], [done: string, would: string]> = {
  warn: ['warned', 'would warn'],
  reclaim: ['reclaimed', 'would reclaim'],
};

/** A reclaim pass, one line per instance it acted on and per failure. */
export function reclaimReportLines(r: ReclaimReport): string[] {
  const lines: string[] = [];
  for (const a of r.actions) {
    const [done, would] = VERBS[a.kind];
    const verb =
      a.outcome === 'dry-run'
        ? would
        : a.outcome === 'done'
          ? done
          : a.outcome === 'withdrawn'
            ? 'kept'
            : 'FAILED';
    const until =
      a.kind === 'warn' && a.deadline !== undefined
        ? `; stops at ${formatUtc(a.deadline, 'second')} unless kept`
        : '';
    const told = a.notified && !a.notified.delivered ? ` (owner not told: ${a.notified.detail})` : '';
    lines.push(`  ${verb} ${a.instance} (${a.owner}, ${a.reason}): ${a.evidence.text}${until}${told}`);
    if (a.error) lines.push(`    error: ${a.error}`);
  }
  const gone = [...r.cleaned.closed, ...r.cleaned.exited];
  if (gone.length > 0) lines.push(`  closed (container gone or exited): ${gone.join(', ')}`);
  if (r.cleaned.adopted.length > 0) lines.push(`  adopted (found running): ${r.cleaned.adopted.join(', ')}`);
  for (const f of r.failures) {
    if (!failureShownWithAction(r, f.instance))
      lines.push(`  failure: ${f.instance ? `${f.instance}: ` : ''}${f.error}`);
  }
  return lines;
}

/** A reclaim warning, as a terminal prints it instead of a DM. */
export function warningText(w: ReclaimWarning): string {
  const what = w.reason === 'idle' ? 'looks idle' : 'reached its time limit';
  return (
    `Reclaim warning for ${w.owner}: ${w.instance} (${w.url}) ${what} and will be stopped at ` +
    `${formatUtc(w.deadline, 'second')} unless kept (\`extend ${w.instance} 1h\`): ${w.evidence.text}.`
  );
}
