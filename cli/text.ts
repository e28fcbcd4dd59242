// Reply -> plain text for the terminal (CLI and local shell).
import { failureShownWithAction, type InstanceView, type Reply } from '../commands/reply.ts';
import type { ReclaimAction, ReclaimReport, ReclaimWarning } from '../core/notifier.ts';
import { isoTime } from '../core/reclaim.ts';
import { formatDuration } from '../lib/duration.ts';

const since = (now: number, at: number) => formatDuration(Math.max(0, now - at));

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return rows.map((r) =>
    r
      .map((cell, col) => cell.padEnd(widths[col]!))
      .join('  ')
      .trimEnd(),
  );
}

function instanceRows(instances: readonly InstanceView[], now: number): string[] {
  return table([
    ['NAME', 'OWNER', 'TEMPLATE', 'URL', 'STATE', 'AGE', 'IDLE'],
    ...instances.map((i) => [
      i.name,
      i.owner,
      i.template,
      i.url,
      i.warning ? `${i.state} (reclaim warned)` : i.state,
      since(now, i.createdAt),
      since(now, i.lastActivityAt),
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
      if (i.expiresAt) lines.push(`  ttl:      until ${new Date(i.expiresAt).toISOString()}`);
      break;
    }
    case 'instances':
      if (reply.instances.length > 0) lines.push(...instanceRows(reply.instances, reply.now));
      break;
    case 'templates':
      lines.push(
        ...table([
          ['TEMPLATE', 'IMAGE', 'BUILT', 'SIZE', 'LAST BUILD', 'DESCRIPTION'],
          ...reply.templates.map((t) => [
            t.name,
            t.image,
            t.built ? `yes, ${since(now, t.imageCreatedAt ?? now)} ago` : 'no',
            t.sizeBytes === undefined ? '-' : `${(t.sizeBytes / 1e6).toFixed(1)} MB`,
            t.lastBuild
              ? `${t.lastBuild.outcome} by ${t.lastBuild.by}, ${since(now, t.lastBuild.at)} ago`
              : '-',
            t.description,
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
        `  reclaim:   last ${s.reclaim.lastPassAt ? `${since(reply.now, s.reclaim.lastPassAt)} ago` : 'never'}, next ${s.reclaim.nextPassAt ? new Date(s.reclaim.nextPassAt).toISOString() : 'not scheduled'}`,
      );
      for (const f of s.failures)
        lines.push(`  failure:   ${new Date(f.at).toISOString()} ${f.instance ?? ''} ${f.error}`);
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
              isoTime(e.at),
              e.action,
              e.instance ?? '-',
              e.actor,
              oneLine(e.reason ?? '').slice(0, 200),
            ]),
          ]),
        );
      }
      break;
    case 'message':
      break;
  }
  for (const d of reply.details ?? []) lines.push(`  | ${d}`);
  return lines.join('\n');
}

const oneLine = (text: string) => text.replace(/\s*\r?\n\s*/g, ' ');

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
      a.kind === 'warn' && a.deadline !== undefined ? `; stops at ${isoTime(a.deadline)} unless kept` : '';
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
    `${isoTime(w.deadline)} unless kept (\`extend ${w.instance} 1h\`): ${w.evidence.text}.`
  );
}
