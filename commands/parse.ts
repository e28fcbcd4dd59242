// Command text -> tokens -> { positional, flags }, before each command's zod schema.
import { z } from 'zod';
import { NAME_HINT, NAME_RE } from '../core/labels.ts';
import { DURATION_HINT, durationSchema } from '../lib/duration.ts';
import { usageError } from '../lib/errors.ts';
import { clip } from '../lib/format.ts';
import { isPrototypeKey } from '../lib/own.ts';

export interface RawArgs {
  positional: string[];
  flags: Record<string, string | true>;
}

/** Which flags a command takes: 'value' flags take the next token (or =value), 'switch' flags none. */
export type FlagSpec = Record<string, 'value' | 'switch'>;

/** Longest command text we look at; anything longer is refused before parsing. */
export const MAX_TEXT = 1_000;

export function tokenize(text: string): string[] {
  if (text.length > MAX_TEXT)
    throw usageError(`That command is ${text.length} characters long; commands are at most ${MAX_TEXT}.`);
  // Chat clients turn "--" into a dash; read it back as "--".
  return text
    .replace(/[\u2012-\u2015\u2212](?=\w)/g, '--')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
}

export function parseFlags(command: string, tokens: readonly string[], spec: FlagSpec): RawArgs {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === undefined) break;
    if (!token.startsWith('--')) {
      positional.push(token);
      continue;
    }
    const [flag, inline] = splitOnce(token.slice(2), '=');
    // Own keys only: "--constructor" or "--__proto__" are unknown flags, not Object.prototype's.
    const kind = Object.hasOwn(spec, flag) ? spec[flag] : undefined;
    if (!kind) {
      const known = Object.keys(spec).map((f) => `--${f}`);
      throw usageError(
        `${command} has no --${flag.slice(0, 40)} flag${known.length ? `; it takes ${known.join(', ')}` : ''}.`,
      );
    }
    if (kind === 'switch') {
      if (inline !== undefined) throw usageError(`--${flag} takes no value.`);
      flags[flag] = true;
      continue;
    }
    const value = inline ?? tokens[i + 1];
    if (value === undefined || value === '' || (inline === undefined && value.startsWith('--'))) {
      throw usageError(`--${flag} needs a value.`);
    }
    if (inline === undefined) i++;
    flags[flag] = value;
  }
  return { positional, flags };
}

function splitOnce(text: string, sep: string): [string, string | undefined] {
  const at = text.indexOf(sep);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** User text quoted back in a message: at most `max` characters, then "…". */
export const shown = (text: string, max = 40): string => clip(text, max + 1);

/** An instance name, checked with a message that says what names look like. */
export const instanceName = z
  .string()
  .refine((v) => NAME_RE.test(v), {
    error: (issue) => `"${shown(String(issue.input))}" is not a valid name: ${NAME_HINT}`,
  })
  .refine((v) => !isPrototypeKey(v), {
    error: (issue) => `"${shown(String(issue.input))}" is a reserved word and cannot name an instance`,
  });

/** A duration like 90s, 30m, 2h, 1d, as milliseconds; `flag` names where it was typed. */
export const duration = (flag?: string) =>
  durationSchema(
    (text) => `${flag ? `${flag} ` : ''}"${shown(text)}" is not a duration: use ${DURATION_HINT}`,
  );

export const templateName = z.string().max(40, 'template names are at most 40 characters');

/** At most n positional arguments. */
export const positional = (n: number, usage: string) =>
  z.array(z.string()).max(n, { message: `too many arguments; usage: ${usage}` });
