// Reply (platform-neutral data) -> Slack Block Kit. Pure: no I/O, no clock, no Slack client.
// Every output stays inside Slack's limits (FACTS.md): at most 50 blocks a message (100 in
// App Home), 3000 characters a section text, 10 fields of 2000, button text 75, 25 elements
// an actions block, confirm dialog title 100 / text 300 / buttons 30. What does not fit is
// left out with a note saying how much ("…and N more").
import type { types } from '@slack/bolt';
import {
  type BuildView,
  failureShownWithAction,
  type HelpEntry,
  type HistoryEntry,
  type InstanceView,
  type Reply,
  type StatusView,
  type TemplateView,
} from '../commands/reply.ts';
import type { ReclaimAction, ReclaimEvidence, ReclaimReport, ReclaimWarning } from '../core/notifier.ts';
import { formatBytes as formatBinaryBytes } from '../core/reclaim.ts';
import { formatDuration } from '../lib/duration.ts';

export type KnownBlock = types.KnownBlock;
type SectionBlock = types.SectionBlock;
type ActionsBlock = types.ActionsBlock;
type ContextBlock = types.ContextBlock;
type Button = types.Button;
type MrkdwnElement = types.MrkdwnElement;

/** Slack's limits this module renders within. */
export const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  headerText: 150,
  buttonText: 75,
  buttonValue: 2000,
  actionsElements: 25,
  contextElements: 10,
  blockId: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** The fallback `text` (notifications); Slack allows more, nobody reads more. */
  messageText: 3000,
} as const;

/** The action ids of every button the bot renders; the bot's listeners use the same. */
export const buttonIds = {
  stop: 'stop',
  extend: 'extend',
  keep_1h: 'keep_1h',
  keep_8h: 'keep_8h',
} as const;

export interface RenderedMessage {
  /** Fallback text for notifications and clients without blocks: the summary. */
  text: string;
  blocks: KnownBlock[];
}

/** At most this many instances get their own section and buttons in a list; more become a table. */
const MAX_TABLE_ROWS = 100;
/** Log lines in `details`: each line clipped, at most this many code-block sections. */
const MAX_DETAIL_LINE = 400;
const MAX_DETAIL_SECTIONS = 5;
const MAX_SET_ASIDE_SHOWN = 20;
const MAX_FAILURES_SHOWN = 5;
const POOL_BAR_CELLS = 20;

// ---------------------------------------------------------------------------------------------
// Entry points

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
  }
  return { text, blocks: capBlocks([head, ...body, ...details], LIMITS.messageBlocks, 'blocks') };
}

export interface HomeViewArgs {
  userId: string;
  instances: InstanceView[];
  status: StatusView;
  now: number;
  /** What a click in the tab just did: its summary line goes first. */
  notice?: Reply;
}

/** The App Home tab: the user's instances with Stop / Extend, then the pool at a glance. */
export function renderHomeView(args: HomeViewArgs): types.HomeView {
  const mine = args.instances.filter((i) => i.owner === args.userId);
  const head: KnownBlock[] = [
    ...(args.notice ? renderReply(args.notice).blocks.slice(0, 1) : []),
    { type: 'header', text: plain('SpreadServe', LIMITS.headerText) },
    context(
      `Your instances and the port pool, as of ${slackDate(args.now, '{date_short_pretty} at {time}')}.`,
    ),
    section(`*Your instances* (${mine.length})`),
  ];
  const pool: KnownBlock[] = [{ type: 'divider' }, ...poolBlocks(args.status, args.now)];
  const foot: KnownBlock[] = [
    context(
      'Launch one with `/spreadserve launch [template]`; `/spreadserve help` lists every command. ' +
        'Instances idle for a while are stopped after a warning.',
    ),
  ];
  const room = LIMITS.viewBlocks - head.length - pool.length - foot.length;
  let body: KnownBlock[];
  if (mine.length === 0) {
    body = [section('You have no instances running. Launch one with `/spreadserve launch`.')];
  } else {
    const ids = new BlockIds();
    const fit = mine.length * 2 <= room ? mine.length : Math.floor((room - 1) / 2);
    body = mine.slice(0, fit).flatMap((i) => instanceWithButtons(i, args.now, ids));
    if (fit < mine.length)
      body.push(context(andMore(mine.length - fit, 'instances: see `/spreadserve list mine`')));
  }
  return {
    type: 'home',
    blocks: capBlocks([...head, ...body, ...pool, ...foot], LIMITS.viewBlocks, 'blocks'),
  };
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
    `Owner ${mention(i.owner)} · template \`${escapeMrkdwn(i.template)}\` · port ${i.port}`,
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
  const lines = [head, `${built} · ${t.strategy} build`];
  if (t.lastBuild) {
    const b = t.lastBuild;
    lines.push(
      `Last build ${slackDate(b.at, '{ago}')} by ${mention(b.by)}: ${escapeMrkdwn(oneLine(b.outcome))} ` +
        `in ${formatDuration(b.durationMs)}`,
    );
  }
  return clipWithNote(lines.join('\n'), LIMITS.sectionText);
}

function statusBlocks(s: StatusView, now: number): KnownBlock[] {
  const fields: MrkdwnElement[] = [
    mrkdwn(
      `*Engine*\n${s.engine.reachable ? '✅ reachable' : `❌ unreachable${s.engine.error ? `: ${escapeMrkdwn(oneLine(s.engine.error))}` : ''}`}`,
      LIMITS.fieldText,
    ),
    mrkdwn(
      `*Store*\n${s.store.writable ? '✅ writable' : `⚠️ read-only${s.store.error ? `: ${escapeMrkdwn(oneLine(s.store.error))}` : ''}`}`,
      LIMITS.fieldText,
    ),
    mrkdwn(
      `*Instances*\n${s.instances.running} running · ${s.instances.starting} starting`,
      LIMITS.fieldText,
    ),
    mrkdwn(`*Ports*\n${s.ports.free} free of ${s.ports.total}`, LIMITS.fieldText),
  ];
  const blocks: KnownBlock[] = [{ type: 'section', fields }];
  blocks.push(section(portPoolText(s)));
  blocks.push(section(reclaimText(s, now)));
  blocks.push(section(failuresText(s, now)));
  return blocks;
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

// ---------------------------------------------------------------------------------------------
// Status pieces (shared by the status reply and App Home)

/** `▓▓▓▓▓▓░░░░░░░░░░░░░░ 31% used (310/1000)`: used is everything not free. */
export function poolBar(total: number, free: number, cells = POOL_BAR_CELLS): string {
  if (total <= 0) return 'no ports configured';
  const used = Math.min(total, Math.max(0, total - free));
  const ratio = used / total;
  let filled = Math.round(ratio * cells);
  if (used > 0 && filled === 0) filled = 1;
  if (used < total && filled === cells) filled = cells - 1;
  const pct =
    used > 0 && ratio < 0.01
      ? '&lt;1'
      : used < total && ratio > 0.99
        ? '&gt;99'
        : String(Math.round(ratio * 100));
  return `\`${'▓'.repeat(filled)}${'░'.repeat(cells - filled)}\` ${pct}% used (${used}/${total})`;
}

function portPoolText(s: StatusView): string {
  const p = s.ports;
  const lines = [
    '*Port pool*',
    poolBar(p.total, p.free),
    `in use ${p.inUse} · reserved ${p.reserved} · set aside ${p.setAside.length} · free ${p.free}`,
  ];
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
  const last = r.lastPassAt !== undefined ? `last pass ${relative(now, r.lastPassAt)}` : 'no pass yet';
  const next = r.nextPassAt !== undefined ? `next ${relative(now, r.nextPassAt)}` : 'none scheduled';
  const lines = ['*Reclaim*', `${last} · ${next}`];
  if (r.lastSummary) lines.push(`> ${escapeMrkdwn(oneLine(r.lastSummary))}`);
  return clipWithNote(lines.join('\n'), LIMITS.sectionText);
}

function failuresText(s: StatusView, now: number): string {
  if (s.failures.length === 0) return '*Recent failures*\nnone';
  const recent = [...s.failures].sort((a, b) => b.at - a.at);
  const lines = recent.slice(0, MAX_FAILURES_SHOWN).map((f) => {
    const what = f.instance ? ` \`${escapeMrkdwn(f.instance)}\`` : '';
    return `• ${relative(now, f.at)}${what}: ${escapeMrkdwn(clip(oneLine(f.error), 400))}`;
  });
  const more = recent.length - MAX_FAILURES_SHOWN;
  if (more > 0) lines.push(andMore(more, 'failures'));
  return clipWithNote(['*Recent failures*', ...lines].join('\n'), LIMITS.sectionText);
}

function poolBlocks(s: StatusView, now: number): KnownBlock[] {
  const health = [
    s.engine.reachable ? '✅ engine reachable' : '❌ engine unreachable',
    s.store.writable ? '✅ store writable' : '⚠️ store read-only',
    `${s.instances.running} running · ${s.instances.starting} starting`,
  ].join(' · ');
  const next =
    s.reclaim.nextPassAt !== undefined ? `next reclaim ${relative(now, s.reclaim.nextPassAt)}` : '';
  return [
    section(
      clipWithNote(['*Pool*', poolBar(s.ports.total, s.ports.free), health].join('\n'), LIMITS.sectionText),
    ),
    ...(next ? [context(next)] : []),
  ];
}

// ---------------------------------------------------------------------------------------------
// Instances

const STATE_LABEL: Record<InstanceView['state'], string> = {
  running: '🟢 running',
  starting: '🟡 starting',
  exited: '🔴 exited',
  missing: '⚪ missing',
};
const stateLabel = (state: InstanceView['state']): string => STATE_LABEL[state];

function warningLine(w: NonNullable<InstanceView['warning']>, now: number | undefined): string {
  const when =
    now === undefined ? slackDate(w.deadline, '{date_short_pretty} at {time}') : relative(now, w.deadline);
  return w.reason === 'idle'
    ? `⚠️ Looks idle: stops ${when} unless extended`
    : `⚠️ Reached its time limit: stops ${when} unless extended`;
}

/** Section (what it is) + actions (Stop, Extend) for one instance in a list or App Home. */
function instanceWithButtons(i: InstanceView, now: number, ids: BlockIds): KnownBlock[] {
  const lines = [
    `*${escapeMrkdwn(i.name)}* · ${stateLabel(i.state)} · \`${escapeMrkdwn(i.template)}\` · ${mention(i.owner)}`,
    `${link(i.url)} · up ${span(now - i.createdAt)} · idle ${span(now - i.lastActivityAt)}` +
      (i.expiresAt !== undefined ? ` · time limit ${relative(now, i.expiresAt)}` : ''),
  ];
  if (i.warning) lines.push(warningLine(i.warning, now));
  return [section(clipWithNote(lines.join('\n'), LIMITS.sectionText)), actionsFor(i, ids)];
}

function instanceRow(i: InstanceView, now: number): string {
  const parts = [
    `*${escapeMrkdwn(i.name)}*`,
    stateLabel(i.state),
    `\`${escapeMrkdwn(i.template)}\``,
    mention(i.owner),
    link(i.url),
    `up ${span(now - i.createdAt)}`,
    `idle ${span(now - i.lastActivityAt)}`,
  ];
  if (i.warning) parts.push(`⚠️ stops ${relative(now, i.warning.deadline)}`);
  return parts.join(' · ');
}

function actionsFor(i: InstanceView, ids: BlockIds): ActionsBlock {
  const elements: Button[] = [stopButton(i)];
  if (i.state === 'running' || i.state === 'starting') elements.push(extendButton(i));
  return { type: 'actions', block_id: ids.make(`instance:${i.name}`), elements };
}

function stopButton(i: InstanceView): Button {
  return {
    type: 'button',
    action_id: buttonIds.stop,
    text: plain('Stop', LIMITS.buttonText),
    value: clip(i.name, LIMITS.buttonValue),
    style: 'danger',
    confirm: stopConfirm(i.name, i.port),
  };
}

/** The dialog before a Stop button stops anything: the instance list's and the warning DM's. */
function stopConfirm(instance: string, port: number): NonNullable<Button['confirm']> {
  return {
    title: plain(`Stop ${instance}?`, LIMITS.confirmTitle),
    text: mrkdwn(
      `This stops and removes *${escapeMrkdwn(instance)}* and frees port ${port}. ` +
        'Anything not saved outside the container is lost.',
      LIMITS.confirmText,
    ),
    confirm: plain('Stop it', LIMITS.confirmButton),
    deny: plain('Keep it', LIMITS.confirmButton),
    style: 'danger',
  };
}

function extendButton(i: InstanceView): Button {
  const b: Button = {
    type: 'button',
    action_id: buttonIds.extend,
    text: plain('Extend', LIMITS.buttonText),
    value: clip(i.name, LIMITS.buttonValue),
  };
  if (i.warning) b.style = 'primary';
  return b;
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

// ---------------------------------------------------------------------------------------------
// Block helpers

/**
 * Lines packed into as few sections of at most 3000 characters as they need, within `budget`
 * blocks; a note says how many lines did not fit (plus `leftOut` dropped before).
 */
function packLines(
  lines: string[],
  budget: number,
  note: (leftOut: number) => string,
  leftOut = 0,
): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  let current: string[] = [];
  let size = 0;
  let k = 0;
  for (; k < lines.length; k++) {
    const line = clipWithNote(lines[k] ?? '', LIMITS.sectionText);
    const add = line.length + (current.length > 0 ? 1 : 0);
    if (size + add > LIMITS.sectionText) {
      // Starting another section must leave room for it and for the note.
      if (blocks.length + 3 > budget) break;
      blocks.push(section(current.join('\n')));
      current = [];
      size = 0;
    }
    current.push(line);
    size += line.length + (current.length > 1 ? 1 : 0);
  }
  if (current.length > 0) blocks.push(section(current.join('\n')));
  const notShown = lines.length - k + leftOut;
  if (notShown > 0) blocks.push(context(note(notShown)));
  return blocks;
}

/** The last resort: never more than `max` blocks, the last one saying what was left out. */
function capBlocks(blocks: KnownBlock[], max: number, what: string): KnownBlock[] {
  if (blocks.length <= max) return blocks;
  const kept = blocks.slice(0, max - 1);
  return [...kept, context(andMore(blocks.length - kept.length, what))];
}

function andMore(n: number, what: string): string {
  return `…and ${n} more ${what}`;
}

function section(text: string): SectionBlock {
  return { type: 'section', text: mrkdwn(text, LIMITS.sectionText) };
}

function context(text: string): ContextBlock {
  return { type: 'context', elements: [mrkdwn(text, LIMITS.sectionText)] };
}

function mrkdwn(text: string, max: number): MrkdwnElement {
  return { type: 'mrkdwn', text: clipWithNote(text, max) };
}

function plain(text: string, max: number): types.PlainTextElement {
  return { type: 'plain_text', text: clip(text, max), emoji: true };
}

/** Block ids must be unique within a message or view. */
class BlockIds {
  private readonly seen = new Set<string>();
  make(base: string): string {
    let id = clip(base, LIMITS.blockId - 4);
    for (let n = 2; this.seen.has(id); n++) id = `${clip(base, LIMITS.blockId - 4)}#${n}`;
    this.seen.add(id);
    return id;
  }
}

// ---------------------------------------------------------------------------------------------
// Text helpers

const REFUSED = new Set(['usage', 'not-found', 'forbidden', 'conflict', 'quota', 'pool-exhausted']);

function summaryIcon(reply: Reply): string {
  if (!reply.ok) return reply.errorKind && REFUSED.has(reply.errorKind) ? '⚠️' : '❌';
  if (reply.kind === 'status' && (!reply.status.engine.reachable || !reply.status.store.writable)) return '⚠️';
  return '✅';
}

/** Slack needs &, < and > escaped in any text it parses; everything user-supplied goes through here. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function oneLine(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ');
}

function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: log lines carry ANSI colour codes
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
}

/** At most `max` characters, ending in "…"; never splits a surrogate pair or an &entity;. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${safeCut(text, max - 1)}…`;
}

/** Like clip, but says how many characters were left out. */
function clipWithNote(text: string, max: number): string {
  if (text.length <= max) return text;
  // The note's length depends on the count; a few digits of slack covers it.
  const noteFor = (n: number) => `… (${n} more characters)`;
  const keep = max - noteFor(text.length).length;
  const head = safeCut(text, keep);
  return `${head}${noteFor(text.length - head.length)}`;
}

function safeCut(text: string, n: number): string {
  let cut = text.slice(0, Math.max(0, n));
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  // An entity cut in half (&am) would show as garbage.
  cut = cut.replace(/&[a-z]{0,3}$/, '');
  return cut;
}

/** A Slack user id as a mention; anything else (`cli:bob`, `schedule`) as escaped text. */
export function mention(userId: string): string {
  return /^[UW][A-Z0-9]+$/.test(userId) ? `<@${userId}>` : escapeMrkdwn(userId);
}

function link(url: string): string {
  const safe = url.replace(/[<>|\s]/g, encodeURIComponent);
  return `<${safe}|${safe}>`;
}

/** Slack shows the date in the reader's time zone; the fallback is UTC. */
function slackDate(ms: number, format: string): string {
  return `<!date^${Math.floor(ms / 1000)}^${format}|${utc(ms)}>`;
}

/** "in 5m" or "5m ago", relative to the reply's `now`. */
function relative(now: number, at: number): string {
  if (Math.abs(at - now) < 1_000) return 'just now';
  return at > now ? `in ${formatDuration(at - now)}` : `${formatDuration(now - at)} ago`;
}

/** A span for "up 2h" and "idle 5m": whole seconds at least. */
function span(ms: number): string {
  return ms < 1_000 ? '0s' : formatDuration(ms);
}

/** Decimal units, as the Docker CLI shows image sizes. */
function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

// ---------------------------------------------------------------------------------------------
// Reclaim: the owner's warning DM, the ops channel's pass summary, the `reclaim` and `history`
// replies

/** The DM an owner gets before their instance is reclaimed: why, when, and Keep / Stop buttons. */
export function renderWarningDM(w: ReclaimWarning): RenderedMessage {
  const name = escapeMrkdwn(w.instance);
  const when = slackDate(w.deadline, '{date_short_pretty} at {time}');
  const what = w.reason === 'idle' ? 'looks idle' : 'reached its time limit';
  const lines = [
    `⚠️ Your SpreadServe instance *${name}* ${what}: it will be stopped ${when} unless you keep it.`,
    `*Why:* ${evidenceSentence(w.evidence, w.warnedAt)}`,
    `${link(w.url)} · template \`${escapeMrkdwn(w.template)}\` · port ${w.port}`,
  ];
  const fallback = `⚠️ ${w.instance} ${what} and will be stopped at ${utc(w.deadline)} unless you keep it.`;
  const blocks: KnownBlock[] = [
    section(clipWithNote(lines.join('\n'), LIMITS.sectionText)),
    keepButtons(w),
    context('Keep marks it in use now and postpones its reclaim; Stop now removes it and frees its port.'),
  ];
  return { text: clipWithNote(escapeMrkdwn(fallback), LIMITS.messageText), blocks };
}

/** One message per pass for OPS_CHANNEL: the summary, then each instance with owner, reason, evidence. */
export function renderOpsSummary(r: ReclaimReport): RenderedMessage {
  const icon = r.status === 'failed' || r.failures.length > 0 ? '⚠️' : '♻️';
  const title = r.dryRun ? 'Reclaim (dry run)' : 'Reclaim';
  const head = `${icon} *${title}:* ${escapeMrkdwn(oneLine(r.summary))}`;
  const budget = LIMITS.messageBlocks - 1;
  return {
    text: clipWithNote(`${icon} ${title}: ${escapeMrkdwn(oneLine(r.summary))}`, LIMITS.messageText),
    blocks: capBlocks(
      [section(clipWithNote(head, LIMITS.sectionText)), ...reclaimReportBlocks(r, budget)],
      LIMITS.messageBlocks,
      'blocks',
    ),
  };
}

const ACTION_WORDS: Record<ReclaimAction['kind'], { done: string; would: string }> = {
  warn: { done: 'warned', would: 'would warn' },
  reclaim: { done: 'reclaimed', would: 'would reclaim' },
};

function reclaimReportBlocks(r: ReclaimReport, budget: number): KnownBlock[] {
  const order = (a: ReclaimAction) => (a.kind === 'reclaim' ? 0 : 1);
  const lines = [...r.actions].sort((a, b) => order(a) - order(b)).map((a) => actionLine(a, r.startedAt));
  const gone = [...r.cleaned.closed, ...r.cleaned.exited];
  if (gone.length > 0) {
    lines.push(`• closed ${gone.length} whose container was gone or had exited: ${codeList(gone)}`);
  }
  if (r.cleaned.adopted.length > 0) {
    lines.push(
      `• adopted ${r.cleaned.adopted.length} found running in Docker: ${codeList(r.cleaned.adopted)}`,
    );
  }
  for (const f of r.failures) {
    if (failureShownWithAction(r, f.instance)) continue;
    const what = f.instance ? ` \`${escapeMrkdwn(f.instance)}\`` : '';
    lines.push(`• ❌${what} ${escapeMrkdwn(clip(oneLine(f.error), 400))}`);
  }
  if (lines.length === 0) return [];
  return packLines(lines, budget, (n) => andMore(n, 'lines'));
}

function actionLine(a: ReclaimAction, now: number): string {
  const words = ACTION_WORDS[a.kind];
  const verb =
    a.outcome === 'dry-run'
      ? words.would
      : a.outcome === 'failed'
        ? `could not ${a.kind === 'warn' ? 'warn' : 'reclaim'}`
        : a.outcome === 'withdrawn'
          ? `kept (${a.kind === 'reclaim' ? 'extended just before the stop' : 'withdrawn'})`
          : words.done;
  const reason = a.reason === 'idle' ? 'idle' : 'time limit';
  const parts = [
    `• *${verb}* \`${escapeMrkdwn(a.instance)}\` (${mention(a.owner)}, ${reason}): ${evidenceShort(a.evidence, now)}`,
  ];
  if (a.kind === 'warn' && a.deadline !== undefined && a.outcome !== 'failed') {
    parts.push(`stops ${slackDate(a.deadline, '{time}')} unless kept`);
  }
  if (a.notified && !a.notified.delivered) {
    parts.push(`owner not told: ${escapeMrkdwn(clip(oneLine(a.notified.detail ?? 'no reason given'), 200))}`);
  }
  if (a.error) parts.push(`❌ ${escapeMrkdwn(clip(oneLine(a.error), 300))}`);
  return clipWithNote(parts.join(' · '), LIMITS.sectionText);
}

/** The full reason, for the owner. */
function evidenceSentence(e: ReclaimEvidence, now: number): string {
  if (e.reason === 'ttl') {
    return (
      `its time limit ran out ${slackDate(e.expiresAt ?? now, '{date_short_pretty} at {time}')} ` +
      `(launched ${slackDate(e.createdAt, '{date_short_pretty} at {time}')}); traffic does not extend it.`
    );
  }
  return (
    `no use since ${slackDate(e.lastActivityAt, '{date_short_pretty} at {time}')} (${relative(now, e.lastActivityAt)}). ` +
    `Since then it sent ${formatBinaryBytes(e.txSinceActivity)} and received ${formatBinaryBytes(e.rxSinceActivity)}; ` +
    `in use means sending more than ${formatBinaryBytes(e.floorBytes)} between two checks, ` +
    "so an open browser tab's keep-alive does not count."
  );
}

/** The reason in a few words, for the ops channel. */
function evidenceShort(e: ReclaimEvidence, now: number): string {
  if (e.reason === 'ttl') return `time limit ran out ${relative(now, e.expiresAt ?? now)}`;
  return (
    `no use for ${span(now - e.lastActivityAt)}, sent ${formatBinaryBytes(e.txSinceActivity)} ` +
    `(floor ${formatBinaryBytes(e.floorBytes)}/check), received ${formatBinaryBytes(e.rxSinceActivity)}`
  );
}

function keepButtons(w: ReclaimWarning): ActionsBlock {
  const value = clip(w.instance, LIMITS.buttonValue);
  return {
    type: 'actions',
    block_id: clip(`reclaim:${w.instance}`, LIMITS.blockId),
    elements: [
      {
        type: 'button',
        action_id: buttonIds.keep_1h,
        text: plain('Keep 1h', LIMITS.buttonText),
        value,
        style: 'primary',
      },
      { type: 'button', action_id: buttonIds.keep_8h, text: plain('Keep 8h', LIMITS.buttonText), value },
      {
        type: 'button',
        action_id: buttonIds.stop,
        text: plain('Stop now', LIMITS.buttonText),
        value,
        style: 'danger',
        confirm: stopConfirm(w.instance, w.port),
      },
    ],
  };
}

const MAX_HISTORY_REASON = 300;

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
    `• ${slackDate(e.at, '{date_short} {time_secs}')} (${relative(now, e.at)})`,
    `*${escapeMrkdwn(e.action)}*`,
  ];
  if (e.instance) parts.push(`\`${escapeMrkdwn(e.instance)}\``);
  parts.push(`by ${e.actor === 'schedule' ? '_the schedule_' : mention(e.actor)}`);
  const line = parts.join(' ');
  const reason = e.reason ? `: ${escapeMrkdwn(clip(oneLine(e.reason), MAX_HISTORY_REASON))}` : '';
  return clipWithNote(`${line}${reason}`, LIMITS.sectionText);
}

function codeList(names: string[], max = 10): string {
  const shown = names.slice(0, max).map((n) => `\`${escapeMrkdwn(n)}\``);
  const more = names.length - max;
  return `${shown.join(', ')}${more > 0 ? ` ${andMore(more, '')}`.trimEnd() : ''}`;
}

function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
