// `save <name> --as <template>` (issue 14, snapshots), through the real core and real Docker: a
// running instance's container is committed to a new image and a saved template launches it, so
// what was written inside the instance is in the copy; the templates file is never touched, the
// saved templates file is, and a restart still knows the saved template; a non-admin and bad input
// are refused in one sentence with nothing created.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../commands/index.ts';
import type { Reply } from '../../commands/reply.ts';
import { createServices, type Services } from '../../core/context.ts';
import type { Actor } from '../../core/policy.ts';
import { loadTemplates } from '../../core/templates.ts';
import { DockerEngine } from '../../engine/docker.ts';
import { silentLogger } from '../../lib/log.ts';
import { dockerSync, httpGet, removeImages } from '../support/docker.ts';
import { admin, alice, buildImage, prepareScope, tempDir } from '../support/services.ts';

const SCOPE = 'test-save';
const FIRST = 25240;
const ROOT = path.resolve(import.meta.dirname, '../..');
/** The saved templates this file makes; their images are spreadserve-saved/<name>:<time>. */
const SAVED_REPOS = ['spreadserve-saved/demo-snap', 'spreadserve-saved/other-snap'];

type Bed = Awaited<ReturnType<typeof prepareScope>>;
let bed: Bed;
let services: Services;
let mainFile: string;
let mainBytes: Buffer;
let savedFile: string;

/** The templates file of this test: the real demo (its own image tag) and a demo that never
 * answers its health path, so an instance of it stays starting for a while. */
function writeMainFile(dir: string): string {
  const file = path.join(dir, 'spreadserve.templates.yml');
  const real = readFileSync(path.join(ROOT, 'spreadserve.templates.yml'), 'utf8');
  const demo = real
    .slice(real.indexOf('templates:\n'), real.indexOf('\n  spreadserve-windows:'))
    .replace('image: spreadserve/demo:0.3.1', `image: spreadserve-test/demo:${SCOPE}`)
    .replace('context: ./templates/demo', `context: ${path.join(ROOT, 'templates/demo')}`);
  const slow = [
    '  demo-slow:',
    `    image: spreadserve-test/demo:${SCOPE}`,
    '    command: ["/spreadserve/ss0.3.1/sh/dbaseweb.sh"]',
    '    healthPath: /never-there',
    '    startTimeout: 8s',
    '',
  ].join('\n');
  writeFileSync(file, `# This test's templates file.\n${demo}\n${slow}`);
  return file;
}

/** The tags of this file's saved images. */
function savedImages(): string[] {
  return SAVED_REPOS.flatMap((repo) =>
    dockerSync('images', '--format', '{{.Repository}}:{{.Tag}}', repo).split('\n').filter(Boolean),
  ).sort();
}

const open = () => createServices(bed.config, { engine: new DockerEngine(), log: silentLogger() });

const as = (actor: Actor, progress?: string[]) => (text: string) =>
  dispatch(text, {
    actor,
    services,
    prefix: '',
    log: services.log,
    progress:
      progress && ((line, step) => progress.push(step ? `[${step.index}/${step.total}] ${line}` : line)),
  });

const said = (reply: Reply) => [reply.summary, ...(reply.details ?? [])].join(' ');

/** What a refused save must not touch: the saved images, both files, the templates, the audit. */
function untouched() {
  return {
    images: savedImages(),
    saved: readFileSafe(savedFile),
    main: readFileSync(mainFile).equals(mainBytes),
    templates: [...services.templates.keys()],
    audit: services.store.read().audit.length,
  };
}

function readFileSafe(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

beforeAll(async () => {
  // An interrupted earlier run may have left saved images behind.
  await removeImages(...savedImages());
  const dir = tempDir();
  mainFile = writeMainFile(dir);
  mainBytes = readFileSync(mainFile);
  bed = await prepareScope(
    {
      scope: SCOPE,
      ports: `${FIRST}-${FIRST + 19}`,
      env: {
        SPREADSERVE_TEMPLATES: mainFile,
        SPREADSERVE_ADMINS: admin.id,
        SPREADSERVE_USERS: 'UALICE',
        MAX_INSTANCES_PER_USER: '5',
      },
      templates: await loadTemplates(mainFile),
    },
    dir,
  );
  savedFile = path.join(dir, 'saved-templates.yml');
  services = await open();
  await services.start();
  await buildImage(services);
  await services.instances.launch({ actor: alice, template: 'demo', name: 'snap-src' });
}, 300_000);

afterAll(async () => {
  await services?.stop();
  await bed?.cleanup();
  await removeImages(...savedImages());
});

describe('save through the core', () => {
  it('refuses bad input in one sentence, creating nothing', async () => {
    // Given the state before
    const before = untouched();
    const cases: [string, RegExp][] = [
      ['save', /^Save takes one instance name and --as <template>; usage: save <name> --as <template>$/],
      ['save x', /^"x" is not a valid name: names are 2-40 characters/],
      ['save snap-src', /^Save needs --as <template>/],
      ['save snap-src --as Bad_Name', /^--as "Bad_Name" cannot name a template: names are 2-40 characters/],
      ['save snap-src --as __proto__', /^--as "__proto__" cannot name a template/],
      ['save snap-src --as demo', /^demo is a template of the templates file, which save never changes/],
      ['save nobody-here --as demo-snap', /^There is no instance "nobody-here"; see list all\.$/],
    ];
    for (const [text, expected] of cases) {
      // When an admin types it
      const reply = await as(admin)(text);
      // Then it is refused in one sentence
      expect(reply.ok, text).toBe(false);
      expect(reply.summary, text).toMatch(expected);
      expect(reply.details ?? [], text).toEqual([]);
    }
    // And nothing was created or changed
    expect(untouched()).toEqual(before);
  });

  it('refuses an instance still starting, and a non-admin, creating nothing', async () => {
    // Given an instance whose launch is still waiting for its health path
    const before = untouched();
    const launching = services.instances
      .launch({ actor: alice, template: 'demo-slow', name: 'snap-slow' })
      .catch((err: unknown) => err);
    for (let i = 0; i < 100 && services.store.read().instances['snap-slow']?.state !== 'starting'; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // When an admin saves it, and a user saves a running one
    const starting = await as(admin)('save snap-slow --as other-snap');
    const forbidden = await as(alice)('save snap-src --as other-snap');
    // Then both are refused in one sentence
    expect(starting.summary).toBe('snap-slow is still starting; save it once it is up.');
    expect(forbidden.errorKind).toBe('forbidden');
    expect(forbidden.summary).toMatch(/^Only admins may save instances as templates;/);
    // And nothing was created (the slow launch fails on its own and is undone)
    expect(untouched()).toEqual(before);
    await launching;
  }, 30_000);

  it('commits a running instance: the saved template launches a copy with what was written in it', async () => {
    // Given a page written inside the running instance
    execFileSync('docker', [
      'exec',
      'spreadserve-snap-src',
      'sh',
      '-c',
      'echo written-before-save > /spreadserve/ss0.3.1/www/snap.html',
    ]);
    // When an admin saves it as demo-snap
    const progress: string[] = [];
    const reply = await as(admin, progress)('save snap-src --as demo-snap');
    // Then it is saved, with build-like progress
    expect(reply.ok, said(reply)).toBe(true);
    expect(reply.summary).toMatch(
      /^Saved snap-src as template demo-snap \(spreadserve-saved\/demo-snap:\d{8}-\d{6}-\d{3}, /,
    );
    expect(progress[0]).toMatch(
      /^\[1\/3\] Committing the container of snap-src as spreadserve-saved\/demo-snap:/,
    );
    expect(progress.some((l) => l.startsWith('[2/3] Adding template demo-snap to'))).toBe(true);
    // And the saved file has it, the templates file is unchanged byte for byte, the audit says so
    expect(readFileSync(savedFile, 'utf8')).toMatch(/\n {2}demo-snap:\n/);
    expect(readFileSync(mainFile).equals(mainBytes)).toBe(true);
    expect(services.store.read().audit.at(-1)).toMatchObject({
      action: 'save',
      actor: admin.id,
      instance: 'snap-src',
      template: 'demo-snap',
    });
    // When it is launched (no restart), then the page written before the save is served
    const copy = await services.instances.launch({ actor: alice, template: 'demo-snap', name: 'snap-copy' });
    const page = await httpGet(`http://127.0.0.1:${copy.port}/snap.html`);
    expect(page?.status).toBe(200);
    expect(page?.body.trim()).toBe('written-before-save');
  }, 60_000);

  it('shows the saved template in templates, marked saved with where it came from', async () => {
    // When anyone asks for the templates
    const reply = await as(alice)('templates');
    // Then demo-snap is listed after the templates file's, as saved from snap-src (template demo)
    if (reply.kind !== 'templates') throw new Error(said(reply));
    expect(reply.templates.map((t) => t.name)).toEqual(['demo', 'demo-slow', 'demo-snap']);
    const snap = reply.templates.find((t) => t.name === 'demo-snap');
    expect(snap?.saved).toMatchObject({ instance: 'snap-src', template: 'demo', by: admin.id });
    expect(snap?.built).toBe(true);
    expect(reply.templates.find((t) => t.name === 'demo')?.saved).toBeUndefined();
  });

  it('still knows demo-snap after a restart; saving again keeps the old image while an instance uses it', async () => {
    // Given a restart on the same store and files
    await services.stop();
    services = await open();
    await services.start();
    expect(services.templates.get('demo-snap')?.image).toMatch(/^spreadserve-saved\/demo-snap:/);
    const first = services.templates.get('demo-snap')?.image ?? '';
    // When it is saved again while snap-copy (an instance of demo-snap) runs
    const again = await as(admin)('save snap-src --as demo-snap');
    // Then the template launches the new image and the previous one is kept
    expect(again.ok, said(again)).toBe(true);
    expect(again.summary).toContain(`The previous image ${first} was kept`);
    const second = services.templates.get('demo-snap')?.image ?? '';
    expect(second).not.toBe(first);
    expect(savedImages()).toEqual([first, second].sort());
    // When snap-copy is stopped and it is saved a third time, then the second image is removed
    await services.instances.stop(admin, 'snap-copy');
    const third = await as(admin)('save snap-src --as demo-snap');
    expect(third.summary, said(third)).toContain(`The previous image ${second} was removed`);
    expect(savedImages()).not.toContain(second);
    expect(readFileSync(mainFile).equals(mainBytes)).toBe(true);
  }, 90_000);
});
