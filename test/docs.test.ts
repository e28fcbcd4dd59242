// The README documents what the code does: every command and every configuration variable.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../commands/index.ts';
import { CONFIG_VARIABLES } from '../core/config.ts';

const readme = readFileSync(path.resolve(import.meta.dirname, '../README.md'), 'utf8');
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A table row whose first cell is `text` in backticks (cells are padded by the formatter). */
const firstCell = (text: string) => new RegExp(`^\\| \`${escapeRegExp(text)}\` +\\|`, 'm');

describe('README', () => {
  it('shows every command with its usage, and no command that does not exist', () => {
    for (const c of COMMANDS) expect(readme).toMatch(firstCell(c.usage.replace(/\|/g, '\\|')));
    const documented = [...readme.matchAll(/^\| `([a-z]+)[ `]/gm)].map((m) => m[1]);
    const commandRows = documented.filter((name) => name !== undefined && !/^[A-Z]/.test(name));
    for (const name of commandRows) expect(COMMANDS.map((c) => c.name)).toContain(name);
  });

  it('lists every configuration variable in its table', () => {
    for (const name of CONFIG_VARIABLES) expect(readme).toMatch(firstCell(name));
  });

  it('quick start is the two commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
  });
});
