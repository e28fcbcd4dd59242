// The layering the README's architecture section draws, checked on every import of the tree:
// calls go one way (front ends -> commands -> core -> engine, store -> lib), front ends never
// import each other, commands see only core, and no source file outgrows one sitting.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

/** What each layer may import from the project (libraries are always allowed). */
const ALLOWED: Record<string, readonly string[]> = {
  lib: [],
  engine: ['lib'],
  store: ['lib'],
  core: ['engine', 'store', 'lib'],
  commands: ['core', 'lib'],
  bot: ['commands', 'core', 'lib'],
  cli: ['commands', 'core', 'lib'],
  // The process roots: `npm start` picks a front end.
  '.': ['bot', 'cli', 'core', 'lib'],
  bench: ['bot', 'cli', 'commands', 'core', 'engine', 'store', 'lib', 'test'],
};
const SOURCE_DIRS = ['lib', 'engine', 'store', 'core', 'commands', 'bot', 'cli', 'bench'];

/**
 * Libraries with one owner: each is imported only where its seam is (bench/ measures against raw
 * dockerode, so it may import it too).
 */
const LIBRARY_OWNERS: Record<string, (file: string) => boolean> = {
  dockerode: (f) =>
    f === path.join('engine', 'docker.ts') ||
    f === path.join('engine', 'swarm.ts') ||
    f.startsWith(`bench${path.sep}`),
  lowdb: (f) => f === path.join('store', 'store.ts'),
  '@slack/bolt': (f) => f.startsWith(`bot${path.sep}`),
  '@slack/web-api': (f) => f.startsWith(`bot${path.sep}`),
  'node-cron': (f) => f === path.join('core', 'schedule.ts'),
  ssh2: (f) => f === path.join('engine', 'docker-ssh.ts') || f === path.join('engine', 'docker-ssh-agent.ts'),
};
const MAX_LINES = 350;

function sourceFiles(): string[] {
  const files: string[] = readdirSync(ROOT).filter((f) => /\.(ts|mjs)$/.test(f) && f !== 'vitest.config.ts');
  const walk = (dir: string) => {
    for (const name of readdirSync(path.join(ROOT, dir))) {
      const rel = path.join(dir, name);
      if (statSync(path.join(ROOT, rel)).isDirectory()) walk(rel);
      else if (/\.(ts|mjs)$/.test(name)) files.push(rel);
    }
  };
  for (const dir of SOURCE_DIRS) walk(dir);
  return files;
}

/** What a source file imports, statically or with import(). */
function specifiersOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)['"]([^'"]+)['"]/gm)].map(
    (m) => m[1] ?? '',
  );
}

/** The project files a source file imports. */
function importsOf(file: string): string[] {
  return specifiersOf(file)
    .filter((s) => s.startsWith('.'))
    .map((s) => path.relative(ROOT, path.resolve(ROOT, path.dirname(file), s)));
}

/** The package a bare specifier names: `lowdb/node` -> lowdb, `@slack/bolt` -> @slack/bolt. */
const packageOf = (specifier: string): string =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

const layerOf = (file: string): string => (file.includes(path.sep) ? (file.split(path.sep)[0] ?? '.') : '.');

describe('architecture', () => {
  const files = sourceFiles();

  it('finds the tree', () => {
    expect(files).toContain(path.join('core', 'context.ts'));
    expect(files).toContain(path.join('lib', 'errors.ts'));
  });

  it('has no import from a lower layer to a higher one, nor between front ends', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      const allowed = ALLOWED[from];
      if (!allowed) {
        wrong.push(`${file}: the folder ${from} has no place in the layering`);
        continue;
      }
      for (const target of importsOf(file)) {
        const to = layerOf(target);
        if (to !== from && !allowed.includes(to)) wrong.push(`${file} imports ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('imports each seam library only in the file or folder that owns it', () => {
    const wrong: string[] = [];
    for (const file of files) {
      for (const specifier of specifiersOf(file).filter((s) => !s.startsWith('.'))) {
        const owns = LIBRARY_OWNERS[packageOf(specifier)];
        if (owns && !owns(file)) wrong.push(`${file} imports ${specifier}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps every source file under ~350 lines', () => {
    const long = files
      .map((file) => ({ file, lines: readFileSync(path.join(ROOT, file), 'utf8').split('\n').length }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.file}: ${f.lines} lines`);
    expect(long).toEqual([]);
  });
});
