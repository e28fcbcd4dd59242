// Reply (platform-neutral data) -> a Slack message: the summary line, then blocks for each kind
// of reply, then the log lines a failure carries. Pure: no I/O, no clock, no Slack client. The
// primitives and Slack's limits are in blocks.ts; the pieces shared with App Home and the
// reclaim messages in instance-blocks.ts, status-blocks.ts and reclaim-messages.ts.
import {
  type BuildView,
  type HelpEntry,
  type HistoryEntry,
  type InstanceView,
  limitsText,
  policyText,
  type Reply,
  savedText,
  type TemplateView,
} from '../commands/reply.ts';
import { formatDuration } from '../lib/duration.ts';
import { clip, clipWithNote, formatBytes, oneLine, relativeTime, stripAnsi } from '../lib/format.ts';
import {
  andMore,
  BlockIds,
  capBlocks,
  context,
  escapeMrkdwn,
  type KnownBlock,
  LIMITS,
  link,
  mention,
  mrkdwn,
  packLines,
  type RenderedMessage,
  section,
  slackDate,
} from './blocks.ts';
import {
  actionsFor,
  instanceRow,
  instanceWithButtons,
  nodePart,
  stateLabel,
  warningLine,
} from './instance-blocks.ts';
import { reclaimReportBlocks } from './reclaim-messages.ts';
import { statusBlocks } from './status-blocks.ts';
import { usageBlocks } from './usage-blocks.ts';

/** At most this many instances get their own section and buttons in a list; more become a table. */
const MAX_TABLE_ROWS = 100;
/** Log lines in `details`: each line clipped, at most this many code-block sections. */
const MAX_DETAIL_LINE = 400;
const MAX_DETAIL_SECTIONS = 5;
const MAX_HISTORY_REASON = 300;

/** Error kinds that are a refusal (the request was wrong or not allowed), not a failure. */
const REFUSED = new Set(['usage', 'not-found', 'forbidden', 'conflict', 'quota', 'pool-exhausted']);

export function renderReply(reply: Reply): RenderedMessage {
  const icon = summaryIcon(reply);
  const summary = escapeMrkdwn(oneLine(reply.summary));
  const head = section(clipWithNote(`${icon} ${summary}`, LIMITS.sectionText));
  const text = clipWithNote(`${icon} ${summary}`, LIMITS.messageText);

  const budget = LIMITS.messageBlocks - 1;
  const details = reply.details?.length ? detailsBlocks(reply.details, Math.min(budget - 1, 6)) : [];
  const bodyBudget = budget - details.length;
  let body: KnownBlock[];
  switch (reply.kind) {
    case 'message':
      body = [];
      break;
    case 'help':
      body = helpBlocks(reply.commands, bodyBudget);
      break;
    case 'instance':
      body = instanceBlocks(reply.instance);
      break;
    case 'instances':
      body = instanceListBlocks(reply.instances, reply.now, bodyBudget);
      break;
    case 'templates':
      body = templateBlocks(reply.templates, bodyBudget);
      break;
    case 'status':
      body = statusBlocks(reply.status, reply.now);
      break;
    case 'build':
      body = buildBlocks(reply.build);
      break;
    case 'reclaim':
      body = reclaimReportBlocks(reply.report, bodyBudget);
      break;
    case 'history':
      body = historyBlocks(reply, bodyBudget);
      break;
    case 'usage':
      body = usageBlocks(reply.report, bodyBudget);
      break;
  }
  return { text, blocks: capBlocks([head, ...body, ...details], LIMITS.messageBlocks, 'blocks') };
}

function summaryIcon(reply: Reply): string {
  if (!reply.ok) return reply.errorKind && REFUSED.has(reply.errorKind) ? '⚠️' : '❌';
  if (reply.kind === 'status' && (!reply.status.engine.reachable || !reply.status.store.writable)) return '⚠️';
  return '✅';
}

// ---------------------------------------------------------------------------------------------
// Per kind

function helpBlocks(commands: HelpEntry[], budget: number): KnownBlock[] {
  // Usage lines come typed as the user types them (`/spreadserve launch ...`).
  const lines = commands.map(
    (c) => `\`${escapeMrkdwn(c.usage)}\`  ${escapeMrkdwn(c.summary)} _(${escapeMrkdwn(c.who)})_`,
  );
  return packLines(lines, budget, (n) => andMore(n, 'commands'));
}

function instanceBlocks(i: InstanceView): KnownBlock[] {
  const lines = [
    `*${escapeMrkdwn(i.name)}* · ${stateLabel(i.state)}`,
    link(i.url),
    `Owner ${mention(i.owner)} · template \`${escapeMrkdwn(i.template)}\` · port ${i.port}${nodePart(i)}`,
  ];
  if (i.expiresAt !== undefined) {
    lines.push(`Time limit: stops ${slackDate(i.expiresAt, '{date_short_pretty} at {time}')}`);
  }
  if (i.warning) lines.push(warningLine(i.warning, undefined));
  const ids = new BlockIds();
  return [section(lines.join('\n')), actionsFor(i, ids)];
}

function instanceListBlocks(instances: InstanceView[], now: number, budget: number): KnownBlock[] {
  if (instances.length === 0) return [];
  // Room for one section and one actions block per instance: buttons for each.
  if (instances.length * 2 <= budget) {
    const ids = new BlockIds();
    return instances.flatMap((i) => instanceWithButtons(i, now, ids));
  }
  // Too many for buttons: a compact table, one line per instance.
  const shown = instances.slice(0, MAX_TABLE_ROWS);
  const note = context(
    `${instances.length} instances are too many for buttons here: use \`/spreadserve stop &lt;name&gt;\` ` +
      'or `/spreadserve extend &lt;name&gt;`, or `/spreadserve list mine` for your own with buttons.',
  );
  const rows = shown.map((i) => `• ${instanceRow(i, now)}`);
  const table = packLines(
    rows,
    budget - 1,
    (n) => andMore(n, 'instances: narrow it down with `/spreadserve list mine`'),
    instances.length - shown.length,
  );
  return [note, ...table];
}

function templateBlocks(templates: TemplateView[], budget: number): KnownBlock[] {
  const fit = templates.length <= budget ? templates.length : budget - 1;
  const blocks: KnownBlock[] = templates.slice(0, fit).map((t) => section(templateText(t)));
  if (fit < templates.length) blocks.push(context(andMore(templates.length - fit, 'templates')));
  return blocks;
}

/** The Docker host a template's image needs. */
const PLATFORM_HOST = { linux: 'Linux host', windows: 'needs a Windows host' } as const;

function templateText(t: TemplateView): string {
  const name = escapeMrkdwn(t.name);
  const head = `*${name}* · ${escapeMrkdwn(oneLine(t.description))}`;
  const image = `\`${escapeMrkdwn(t.image)}\``;
  const built = t.built
    ? [
        '✅ built',
        image,
        t.sizeBytes !== undefined ? formatBytes(t.sizeBytes) : undefined,
        t.imageCreatedAt !== undefined ? `created ${slackDate(t.imageCreatedAt, '{ago}')}` : undefined,
      ]
        .filter(Boolean)
        .join(' · ')
    : `⬜ not built · ${image} · an admin builds it with \`/spreadserve build ${name}\``;
  const lines = [
    head,
    `${built} · ${t.strategy} build · ${PLATFORM_HOST[t.platform]}`,
    `Each instance: ${escapeMrkdwn(limitsText(t.limits))}`,
    `Reclaim: ${escapeMrkdwn(policyText(t.policy))}`,
  ];
  if (t.saved) lines.push(`💾 ${escapeMrkdwn(savedText(t.saved))}`);
  if (t.lastBuild) {
    const b = t.lastBuild;
    lines.push(
      `Last build ${slackDate(b.at, '{ago}')} by ${mention(b.by)}: ${escapeMrkdwn(oneLine(b.outcome))} ` +
        `in ${formatDuration(b.durationMs)}`,
    );
  }
  return clipWithNote(lines.join('\n'), LIMITS.sectionText);
}

function buildBlocks(b: BuildView): KnownBlock[] {
  const shortId = b.imageId.replace(/^sha256:/, '').slice(0, 12);
  const fields = [
    mrkdwn(`*Template*\n${escapeMrkdwn(b.template)}`, LIMITS.fieldText),
    mrkdwn(`*Tag*\n\`${escapeMrkdwn(b.tag)}\``, LIMITS.fieldText),
    mrkdwn(`*Size*\n${formatBytes(b.sizeBytes)}`, LIMITS.fieldText),
    mrkdwn(`*Took*\n${formatDuration(b.durationMs)}`, LIMITS.fieldText),
    mrkdwn(`*Strategy*\n${b.strategy}`, LIMITS.fieldText),
    mrkdwn(`*Image*\n\`${escapeMrkdwn(shortId)}\``, LIMITS.fieldText),
  ];
  return [{ type: 'section', fields }];
}

function historyBlocks(reply: Extract<Reply, { kind: 'history' }>, budget: number): KnownBlock[] {
  if (reply.entries.length === 0) return [];
  const lines = reply.entries.map((e) => historyLine(e, reply.now));
  const older = reply.total - reply.entries.length;
  return packLines(
    lines,
    budget,
    (n) =>
      andMore(
        n,
        reply.instance
          ? 'older entries'
          : 'older entries: narrow it down with `/spreadserve history &lt;name&gt;`',
      ),
    older,
  );
}

function historyLine(e: HistoryEntry, now: number): string {
  const parts = [
    `• ${slackDate(e.at, '{date_short} {time_secs}')} (${relativeTime(now, e.at)})`,
    `*${escapeMrkdwn(e.action)}*`,
  ];
  if (e.instance) parts.push(`\`${escapeMrkdwn(e.instance)}\``);
  parts.push(`by ${e.actor === 'schedule' ? '_the schedule_' : mention(e.actor)}`);
  const line = parts.join(' ');
  const reason = e.reason ? `: ${escapeMrkdwn(clip(oneLine(e.reason), MAX_HISTORY_REASON))}` : '';
  return clipWithNote(`${line}${reason}`, LIMITS.sectionText);
}

// ---------------------------------------------------------------------------------------------
// Details (log lines): the tail, in code blocks

function detailsBlocks(details: string[], budget: number): KnownBlock[] {
  if (budget <= 0) return [];
  const fence = '```';
  const room = LIMITS.sectionText - fence.length * 2 - 2;
  const lines = details.map((l) => clip(escapeMrkdwn(stripAnsi(l).replace(/```/g, "'''")), MAX_DETAIL_LINE));
  const maxSections = Math.min(MAX_DETAIL_SECTIONS, budget - 1);
  // Walk back from the last line: the end of a log is what matters.
  const chunks: string[][] = [];
  let current: string[] = [];
  let size = 0;
  let start = lines.length;
  for (let k = lines.length - 1; k >= 0; k--) {
    const line = lines[k] ?? '';
    const add = line.length + (current.length > 0 ? 1 : 0);
    if (size + add > room) {
      if (chunks.length + 1 >= maxSections) break;
      chunks.unshift(current);
      current = [];
      size = 0;
    }
    current.unshift(line);
    size += line.length + (current.length > 1 ? 1 : 0);
    start = k;
  }
  if (current.length > 0) chunks.unshift(current);
  const blocks: KnownBlock[] = [];
  if (start > 0) blocks.push(context(andMore(start, 'lines above (not shown)')));
  for (const chunk of chunks) blocks.push(section(`${fence}\n${chunk.join('\n')}\n${fence}`));
  return blocks;
}
