// Container log lines reach the operator's terminal through the CLI and the local shell: escape
// sequences and other control characters (C0 but tab, DEL, C1) never do.
import { describe, expect, it } from 'vitest';
import { replyToText } from '../../cli/text.ts';
import type { Reply } from '../../commands/reply.ts';
import { stripControls } from '../../lib/format.ts';

describe('stripControls', () => {
  const cases: [string, string, string][] = [
    ['colour codes', '\u001b[31mred\u001b[0m text', 'red text'],
    ['cursor moves and private modes', 'a\u001b[2J\u001b[H\u001b[?25lb', 'ab'],
    ['a window title (OSC, BEL-ended)', '\u001b]0;pwned\u0007ok', 'ok'],
    ['a hyperlink (OSC, ST-ended)', '\u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\', 'link'],
    ['the C1 CSI', 'x\u009b31my', 'xy'],
    ['other ESC codes', 'a\u001bcb\u001bMc\u001b(Bd\u001b7e', 'abcde'],
    ['carriage return, backspace, bell, NUL, DEL', 'a\rb\bc\u0007d\u0000e\u007ff', 'abcdef'],
    ['other C1 controls', 'a\u0085b\u009fc', 'abc'],
    ['a newline inside a line', 'a\nb', 'ab'],
  ];
  for (const [what, input, output] of cases) {
    it(`removes ${what}`, () => expect(stripControls(input)).toBe(output));
  }

  it('keeps tabs and every printable character, Unicode included', () => {
    const text = 'col1\tcol2 é ü ✓ 日本 😀 <>&"\'';
    expect(stripControls(text)).toBe(text);
  });
});

describe('replyToText with log lines', () => {
  it('prints log lines without their control characters', () => {
    const reply = {
      kind: 'message',
      ok: true,
      visibility: 'ephemeral',
      summary: 'All 2 log lines of team-a:',
      details: ['\u001b[32mINFO\u001b[0m served /', '\u001b]0;owned\u0007done\r'],
    } as Reply;
    const text = replyToText(reply, 0);
    expect(text).toBe('All 2 log lines of team-a:\n  | INFO served /\n  | done');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting none is left
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });
});
