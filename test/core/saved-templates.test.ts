// The saved templates file (core/saved-templates.ts): what `save` writes reads back as the same
// template, a saved name never shadows the templates file, and the shared set lists the templates
// file's templates first.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/config.ts';
import {
  mergeTemplates,
  parseSaved,
  type SavedTemplate,
  SavedTemplates,
  savedTemplatesPath,
  serializeSaved,
} from '../../core/saved-templates.ts';
import { savedTag } from '../../core/snapshots.ts';
import { parseTemplates, type Template } from '../../core/templates.ts';
import { silentLogger } from '../../lib/log.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const main = parseTemplates(readFileSync(path.join(ROOT, 'spreadserve.templates.yml'), 'utf8'), ROOT);
const demo = main.get('demo') as Template;

/** A saved template as `save` makes it: the demo's settings, its own name and image, no build. */
function savedFromDemo(name: string, extra: Partial<Template> = {}): SavedTemplate {
  const template: Template = { ...demo, name, image: savedTag(name, Date.UTC(2026, 10, 29, 21, 1, 2, 345)) };
  delete template.build;
  Object.assign(template, extra);
  return { template, origin: { instance: 'team-a', template: 'demo', by: 'UADMIN', at: 1_764_450_000_000 } };
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ss-saved-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the saved templates file', () => {
  it('reads back what it wrote: settings, limits, policy and origin', () => {
    // Given a saved template with policy fields of its own and a Linux user
    const entry = savedFromDemo('demo-snap', {
      policy: {
        idleTimeoutMs: 30 * 60_000,
        maxLifetimeMs: 8 * 3_600_000,
        maxPerUser: 1,
        idleBytesFloor: 65_536,
      },
      user: '1000:1000',
      readOnly: true,
    });
    // When it is written and parsed again
    const text = serializeSaved([entry]);
    const back = parseSaved(text, '/tmp/saved-templates.yml');
    // Then the template and its origin are the same, and the tag is a valid image tag
    expect(back.get('demo-snap')).toEqual(entry);
    expect(entry.template.image).toBe('spreadserve-saved/demo-snap:20261129-210102-345');
    expect(text).toContain('idleTimeout: 30m');
  });

  it('is validated as the templates file is: a bad field stops the bot naming the file', () => {
    // Given a saved templates file with a misspelt field
    const text = 'templates:\n  snap:\n    image: spreadserve-saved/snap:1\n    memmory: 1g\n';
    // When it is parsed, then the error names the file, the template and the key
    expect(() => parseSaved(text, '/data/saved-templates.yml')).toThrow(ConfigError);
    expect(() => parseSaved(text, '/data/saved-templates.yml')).toThrow(
      /saved templates file \/data\/saved-templates.yml is invalid:\n {2}template "snap": Unrecognized key: "memmory"/,
    );
  });

  it('lists the templates file first, and a saved name of the templates file is left out', () => {
    // Given saved templates, one named like a template of the file
    const saved = new Map([
      ['demo', savedFromDemo('demo')],
      ['demo-snap', savedFromDemo('demo-snap')],
    ]);
    // When they are merged
    const { all, shadowed } = mergeTemplates(main, saved);
    // Then the file's templates come first, the file's demo wins, and the shadowing one is named
    expect([...all.keys()]).toEqual([...main.keys(), 'demo-snap']);
    expect(all.get('demo')).toBe(demo);
    expect(shadowed).toEqual(['demo']);
  });

  it('is beside the store unless SPREADSERVE_SAVED_TEMPLATES says where', () => {
    expect(savedTemplatesPath({ dataFile: './data/spreadserve.json' })).toBe(
      path.join('data', 'saved-templates.yml'),
    );
    expect(savedTemplatesPath({ dataFile: './data/s.json', savedTemplatesFile: '/etc/ss/saved.yml' })).toBe(
      '/etc/ss/saved.yml',
    );
  });
});

describe('SavedTemplates', () => {
  it('adds to the shared set in place and to the file, and a new instance reads it back', async () => {
    // Given no saved templates file yet
    const file = path.join(tempDir(), 'data', 'saved-templates.yml');
    const saved = await SavedTemplates.open(main, file, silentLogger());
    const shared = saved.all;
    expect([...shared.keys()]).toEqual([...main.keys()]);
    // When a template is saved, then saved again under the same name with a new image
    await saved.put(savedFromDemo('demo-snap'));
    await saved.put(savedFromDemo('demo-snap', { image: 'spreadserve-saved/demo-snap:2' }));
    // Then the same set (no copy) has it once, with the new image, and the file does too
    expect(saved.all).toBe(shared);
    expect(shared.get('demo-snap')?.image).toBe('spreadserve-saved/demo-snap:2');
    const reopened = await SavedTemplates.open(main, file, silentLogger());
    expect(reopened.get('demo-snap')?.template.image).toBe('spreadserve-saved/demo-snap:2');
    expect(reopened.get('demo-snap')?.origin?.instance).toBe('team-a');
    expect([...reopened.all.keys()]).toEqual([...main.keys(), 'demo-snap']);
  });

  it('never writes a template of the templates file, and ignores one found in the saved file', async () => {
    // Given a saved file someone edited to hold a template named like the file's demo
    const file = path.join(tempDir(), 'saved-templates.yml');
    writeFileSync(file, serializeSaved([savedFromDemo('demo'), savedFromDemo('demo-snap')]));
    // When it is opened
    const saved = await SavedTemplates.open(main, file, silentLogger());
    // Then the file's demo is the one launched, and putting a demo is refused before any write
    expect(saved.all.get('demo')).toBe(demo);
    expect(saved.get('demo')).toBeUndefined();
    const before = readFileSync(file, 'utf8');
    await expect(saved.put(savedFromDemo('demo'))).rejects.toThrow(/shadow/);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });
});
