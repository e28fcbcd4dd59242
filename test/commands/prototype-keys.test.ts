// Prototype keys typed by users, without Docker: the parser refuses them as flags and instance
// names, `help` knows no command by them, and Object.prototype gains nothing. The same words as
// names, flags and templates against real services: limits-and-keys.docker.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { prepare, runPrepared } from '../../commands/index.ts';
import { isUserError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { isPrototypeKey, own } from '../../lib/own.ts';

const KEYS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
const before = Object.getOwnPropertyNames(Object.prototype).sort();

afterAll(() => {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
});

function refusal(text: string): string {
  try {
    prepare(text);
  } catch (err) {
    expect(isUserError(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`${text} was accepted`);
}

describe('prototype keys in command text', () => {
  it('are unknown flags for every command, and swallow no word', () => {
    for (const key of KEYS) {
      expect(refusal(`launch demo --${key} team-a`)).toBe(
        `launch has no --${key} flag; it takes --name, --ttl.`,
      );
      expect(refusal(`stop team-a --${key}`)).toBe(`stop has no --${key} flag.`);
      expect(refusal(`reclaim --${key}=1`)).toBe(`reclaim has no --${key} flag; it takes --dry-run.`);
    }
  });

  it('are refused as instance names in one sentence', () => {
    expect(refusal('launch demo --name constructor')).toBe(
      '"constructor" is a reserved word and cannot name an instance. Usage: launch [template] [--name NAME] [--ttl DURATION]',
    );
    for (const command of ['stop', 'extend', 'logs']) {
      expect(refusal(`${command} constructor`)).toMatch(/^"constructor" is a reserved word/);
    }
    for (const key of KEYS.filter((k) => k !== 'constructor')) {
      expect(refusal(`stop ${key}`)).toMatch(new RegExp(`^"${key}" is not a valid name: `));
    }
  });

  it('are no command, and help says so', async () => {
    for (const key of KEYS) expect(refusal(key)).toMatch(new RegExp(`^There is no command "${key}"`));
    const ctx = { actor: { id: 'UALICE', role: 'user' as const }, prefix: '', log: silentLogger() };
    for (const key of KEYS) {
      const reply = await runPrepared(prepare(`help ${key}`), ctx);
      expect(reply.ok).toBe(false);
      expect(reply.summary).not.toMatch(/undefined|function|\[object/);
    }
  });
});

describe('own', () => {
  it('reads own entries only', () => {
    const map: Record<string, number> = { a: 1 };
    expect(own(map, 'a')).toBe(1);
    for (const key of KEYS) expect(own(map, key)).toBeUndefined();
    expect(own(JSON.parse('{"__proto__": 2}') as Record<string, number>, '__proto__')).toBe(2);
  });

  it('knows the prototype keys', () => {
    for (const key of KEYS) expect(isPrototypeKey(key)).toBe(true);
    for (const key of ['team-a', 'demo', 'proto']) expect(isPrototypeKey(key)).toBe(false);
  });
});
