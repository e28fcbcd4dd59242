// The kinds of value the configuration's variables take (port ranges, durations, Slack ids,
// booleans, counts), as zod schemas that say what they expect: core/config.ts declares each
// variable with one of these.
import { z } from 'zod';
import { DURATION_HINT, durationSchema } from '../lib/duration.ts';
import { isSlackUserOrGroupId } from '../lib/slack-ids.ts';

export interface PortRange {
  from: number;
  to: number;
}

export const PORT_RANGES_HINT = 'port ranges like 8080-9079 or 8080-8089,9000-9009 (ports 1-65535)';

export function parsePortRanges(text: string): PortRange[] | null {
  const ranges: PortRange[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(part);
    if (!m) return null;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to > 65535 || from > to) return null;
    ranges.push({ from, to });
  }
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  let previous: PortRange | undefined;
  for (const range of sorted) {
    if (previous && range.from <= previous.to) return null; // overlapping ranges would count a port twice
    previous = range;
  }
  return sorted;
}

export const PUBLIC_URL_HINT =
  'expected an http(s) URL without port or path (the port is appended), like http://localhost or https://servers.example.com';

/** http(s)://host with nothing after it but an optional slash. */
export function isBareOrigin(text: string): boolean {
  if (!/^https?:\/\/(\[[0-9a-f:.]+\]|[^/?#:@\s[\]]+)\/?$/i.test(text.trim())) return false;
  return URL.canParse(text.trim());
}

export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .pipe(durationSchema((text) => `expected ${DURATION_HINT}, got "${text}"`));

export const emptyToUndefined = (v: unknown) => (v === '' ? undefined : v);

/** Unset when empty, like every optional variable. */
export const optional = <S extends z.ZodType>(schema: S) => z.preprocess(emptyToUndefined, schema.optional());

export const optionalDuration = optional(
  durationSchema((text) => `expected ${DURATION_HINT} or empty, got "${text}"`),
);

export const slackIdList = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const ids = text
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = ids.filter((id) => !isSlackUserOrGroupId(id));
    if (bad.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `expected Slack user or user-group ids (U..., W... for users, S... for user groups) separated by commas, got "${bad.join(', ')}"`,
      });
      return z.NEVER;
    }
    return ids;
  });

export const boolText = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''], { message: 'expected true or false' })
  .default('false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const positiveInt = (fallback: string, what: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      if (!/^\d+$/.test(text.trim())) {
        ctx.addIssue({ code: 'custom', message: `expected ${what}, got "${text}"` });
        return z.NEVER;
      }
      return Number(text);
    });

/** A Swarm placement constraint as Swarm writes them: node.id, node.hostname, node.role or
 * node.labels.<key>, then == or !=, then a value. */
export const PLACEMENT_RE = /^node\.(id|hostname|role|labels\.[A-Za-z0-9_.-]+)\s*(==|!=)\s*[^\s,;]+$/;
export const PLACEMENT_HINT = 'Swarm constraints like node.labels.spreadserve==yes or node.role!=manager';

/** SPREADSERVE_PLACEMENT: constraints separated by commas or semicolons; none when empty. */
export const placementList = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const items = text
      .split(/[,;]/)
      .map((c) => c.trim())
      .filter((c) => c !== '');
    const bad = items.find((c) => !PLACEMENT_RE.test(c));
    if (bad !== undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${PLACEMENT_HINT}, got "${bad}"` });
      return z.NEVER;
    }
    return items;
  });

/** "name=value,name=value" (per-node settings, by node hostname); empty: none. The map has no
 * prototype, so a node named __proto__ is only a name. */
export const nodeMap = (what: string, valueRe: RegExp) =>
  z
    .string()
    .default('')
    .transform((text, ctx) => {
      const map: Record<string, string> = Object.create(null);
      for (const item of text.split(',').map((i) => i.trim())) {
        if (item === '') continue;
        const eq = item.indexOf('=');
        const name = item.slice(0, eq).trim();
        const value = item.slice(eq + 1).trim();
        if (eq < 1 || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name) || !valueRe.test(value)) {
          ctx.addIssue({
            code: 'custom',
            message: `expected node=${what} pairs separated by commas, got "${item}"`,
          });
          return z.NEVER;
        }
        map[name] = value;
      }
      return map as Readonly<Record<string, string>>;
    });
