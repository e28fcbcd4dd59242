// Block Kit primitives every Slack message and view of the bot is built from, and the limits
// they keep to. Slack refuses a whole message over any of its limits (FACTS.md): at most 50
// blocks a message (100 in App Home), 3000 characters a section text, 10 fields of 2000, button
// text 75, 25 elements an actions block, confirm dialog title 100 / text 300 / buttons 30. So
// every text goes through a helper here that clips it, and what does not fit is left out with a
// note saying how much ("…and N more"). Pure: no I/O, no clock.
import type { types } from '@slack/bolt';
import { clip, clipWithNote, formatUtc } from '../lib/format.ts';
import { isSlackUserId } from '../lib/slack-ids.ts';

export type KnownBlock = types.KnownBlock;

/** Slack's limits the bot renders within. */
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

// ---------------------------------------------------------------------------------------------
// Blocks and elements, each text clipped to its limit

export function section(text: string): types.SectionBlock {
  return { type: 'section', text: mrkdwn(text, LIMITS.sectionText) };
}

export function context(text: string): types.ContextBlock {
  return { type: 'context', elements: [mrkdwn(text, LIMITS.sectionText)] };
}

export function mrkdwn(text: string, max: number): types.MrkdwnElement {
  return { type: 'mrkdwn', text: clipWithNote(text, max) };
}

export function plain(text: string, max: number): types.PlainTextElement {
  return { type: 'plain_text', text: clip(text, max), emoji: true };
}

/** Block ids must be unique within a message or view. */
export class BlockIds {
  private readonly seen = new Set<string>();
  make(base: string): string {
    // Room for "#NN" after a clipped base.
    const head = clip(base, LIMITS.blockId - 4);
    let id = head;
    for (let n = 2; this.seen.has(id); n++) id = `${head}#${n}`;
    this.seen.add(id);
    return id;
  }
}

// ---------------------------------------------------------------------------------------------
// Fitting many lines into few blocks

/**
 * Lines packed into as few sections of at most 3000 characters as they need, within `budget`
 * blocks; a note says how many lines did not fit (plus `leftOut` dropped before).
 */
export function packLines(
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
export function capBlocks(blocks: KnownBlock[], max: number, what: string): KnownBlock[] {
  if (blocks.length <= max) return blocks;
  const kept = blocks.slice(0, max - 1);
  return [...kept, context(andMore(blocks.length - kept.length, what))];
}

export function andMore(n: number, what: string): string {
  return `…and ${n} more ${what}`;
}

// ---------------------------------------------------------------------------------------------
// mrkdwn text

/** Slack needs &, < and > escaped in any text it parses; everything user-supplied goes through here. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A Slack user id as a mention; anything else (`cli:bob`, `schedule`) as escaped text. */
export function mention(userId: string): string {
  return isSlackUserId(userId) ? `<@${userId}>` : escapeMrkdwn(userId);
}

export function link(url: string): string {
  const safe = url.replace(/[<>|\s]/g, encodeURIComponent);
  return `<${safe}|${safe}>`;
}

/** Slack shows the date in the reader's time zone; the fallback is UTC. */
export function slackDate(ms: number, format: string): string {
  return `<!date^${Math.floor(ms / 1000)}^${format}|${formatUtc(ms, 'minute')}>`;
}

/** Names as inline code, comma-separated: the first `max`, then how many more. */
export function codeList(names: string[], max = 10): string {
  const shown = names.slice(0, max).map((n) => `\`${escapeMrkdwn(n)}\``);
  const more = names.length - max;
  return `${shown.join(', ')}${more > 0 ? ` ${andMore(more, '')}`.trimEnd() : ''}`;
}
