// Slack's limits and mrkdwn rules, checked over a rendered message: shared by the render tests
// and the fuzzing test.
import { type KnownBlock, LIMITS } from '../../bot/blocks.ts';

export type Json = Record<string, unknown>;

/** Every object inside `value` (depth first), with its key path. */
export function* walk(value: unknown, at = '$'): Generator<[string, Json]> {
  if (Array.isArray(value)) {
    for (const [k, v] of value.entries()) yield* walk(v, `${at}[${k}]`);
  } else if (typeof value === 'object' && value !== null) {
    yield [at, value as Json];
    for (const [k, v] of Object.entries(value)) yield* walk(v, `${at}.${k}`);
  }
}

export const textOf = (o: unknown): string => ((o as { text?: string } | undefined)?.text ?? '') as string;

/** Every mrkdwn text in the blocks. */
export function mrkdwnTexts(blocks: KnownBlock[]): string[] {
  return [...walk(blocks)].filter(([, o]) => o.type === 'mrkdwn').map(([, o]) => textOf(o));
}

/** What breaks Slack's limits, or is unescaped, in `blocks`; empty when all is well. */
export function checkLimits(blocks: KnownBlock[], maxBlocks: number): string[] {
  const problems: string[] = [];
  const fail = (where: string, what: string) => problems.push(`${where}: ${what}`);
  if (blocks.length > maxBlocks) fail('$', `${blocks.length} blocks > ${maxBlocks}`);
  const blockIds = new Set<string>();
  for (const [where, o] of walk(blocks)) {
    if (o.type === 'section') {
      const t = textOf(o.text);
      if (o.text && (t.length < 1 || t.length > LIMITS.sectionText)) fail(where, `section text ${t.length}`);
      const fields = (o.fields as unknown[] | undefined) ?? [];
      if (fields.length > LIMITS.fields) fail(where, `${fields.length} fields`);
      for (const f of fields) if (textOf(f).length > LIMITS.fieldText) fail(where, 'field text too long');
      if (!o.text && fields.length === 0) fail(where, 'section with neither text nor fields');
    }
    if (o.type === 'mrkdwn' || o.type === 'plain_text') {
      const t = textOf(o);
      if (t.length === 0 || t.length > LIMITS.sectionText) fail(where, `text object ${t.length}`);
      // Unescaped < and > only in Slack's own syntax: links, mentions, dates, quotes.
      const stray = t
        .replace(/<(https?:\/\/[^<>|]+\|[^<>]+|@[UW][A-Z0-9]+|!date\^[^<>]+)>/g, '')
        .replace(/(^|\n)> /g, '$1');
      if (o.type === 'mrkdwn' && /[<>]/.test(stray))
        fail(where, `unescaped < or > in ${JSON.stringify(t.slice(0, 80))}`);
    }
    if (o.type === 'header' && textOf(o.text).length > LIMITS.headerText) fail(where, 'header text');
    if (o.type === 'context' && ((o.elements as unknown[]) ?? []).length > LIMITS.contextElements) {
      fail(where, 'context elements');
    }
    if (o.type === 'actions') {
      const elements = (o.elements as Json[]) ?? [];
      if (elements.length > LIMITS.actionsElements) fail(where, `${elements.length} elements`);
      const ids = elements.map((e) => e.action_id);
      if (new Set(ids).size !== ids.length) fail(where, 'duplicate action_id in one block');
    }
    if (o.type === 'button') {
      if (textOf(o.text).length > LIMITS.buttonText) fail(where, 'button text');
      if (typeof o.value === 'string' && o.value.length > LIMITS.buttonValue) fail(where, 'button value');
      const c = o.confirm as Json | undefined;
      if (c) {
        if (textOf(c.title).length > LIMITS.confirmTitle) fail(where, 'confirm title');
        if (textOf(c.text).length > LIMITS.confirmText) fail(where, 'confirm text');
        if (textOf(c.confirm).length > LIMITS.confirmButton) fail(where, 'confirm button');
        if (textOf(c.deny).length > LIMITS.confirmButton) fail(where, 'deny button');
      }
    }
    if (typeof o.block_id === 'string') {
      if (blockIds.has(o.block_id)) fail(where, `duplicate block_id ${o.block_id}`);
      if (o.block_id.length > LIMITS.blockId) fail(where, 'block_id too long');
      blockIds.add(o.block_id);
    }
  }
  return problems;
}
