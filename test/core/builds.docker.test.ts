// Builds against the real Docker engine (issue 4): the tech note's two-step commit strategy end
// to end, a failing installer, one build per template, the dockerfile strategy, BUILD_TIMEOUT,
// the build history and `templates`, progress in Slack (one message updated at most once a
// second, or the response_url when the bot cannot post) and the CLI's `build --json`.
// Scope test-builds (test-builds-cli for the CLI's own store), ports 24600-24619; every
// container, image and tag this file makes is removed before and after.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replyToText } from '../../cli/text.ts';
import { dispatch } from '../../commands/index.ts';
import type { ProgressStep } from '../../commands/types.ts';
import { Builds } from '../../core/builds.ts';
import { loadConfig } from '../../core/config.ts';
import type { Services } from '../../core/context.ts';
import { LABEL } from '../../core/labels.ts';
import { UserError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { type BotBed, shown, startBotBed, textOf } from '../support/bot.ts';
import { BASE_IMAGE, httpGet, removeByLabel, removeImages, waitForHttp200 } from '../support/docker.ts';
import { realTemplates } from '../support/services.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const DEMO_DIR = path.join(ROOT, 'templates/demo');
const SCOPE = 'test-builds';
const CLI_SCOPE = 'test-builds-cli';
const PORTS = '24600-24614';
const CLI_PORTS = '24615-24619';
const ADMIN = 'UADMIN';
const ALICE = 'UALICE';
const SSROOT = '/spreadserve/ss0.3.1';
const LAUNCH = [`${SSROOT}/sh/dbaseweb.sh`];
const FAILING_INSTALL = ['sh', '-c', 'echo installing; echo oops >&2; exit 23'];
const MARKER = `sst-builds-marker-${process.pid}`;

const tag = (name: string) => `spreadserve-test/${name}:${SCOPE}`;
const commitBuild = (install: string[]) => ({
  strategy: 'commit' as const,
  context: DEMO_DIR,
  dockerfile: 'Dockerfile',
  install,
});

const slowDir = mkdtempSync(path.join(os.tmpdir(), 'sst-builds-'));
writeFileSync(path.join(slowDir, 'Dockerfile'), `FROM ${BASE_IMAGE}\nRUN echo ${MARKER} && sleep 60\n`);

// demo is the real template (commit strategy); the others are test-only.
const templates = realTemplates(SCOPE, {
  oneshot: {
    description: 'the demo in one docker build',
    image: tag('oneshot'),
    build: { strategy: 'dockerfile', context: DEMO_DIR, dockerfile: 'Dockerfile.oneshot' },
  },
  broken: { image: tag('broken'), build: commitBuild(FAILING_INSTALL) },
  // the same image tag as demo: a failed build of it must leave demo's image alone
  'demo-broken': { build: commitBuild(FAILING_INSTALL) },
  slow: { image: tag('slow'), build: commitBuild(['sh', '-c', 'echo waiting; sleep 60']) },
  'slow-dockerfile': {
    image: tag('slow-dockerfile'),
    build: { strategy: 'dockerfile', context: slowDir, dockerfile: 'Dockerfile' },
  },
  unbuilt: { image: tag('unbuilt'), build: undefined },
});
const DEMO_TAG = templates.get('demo')!.image;
const CLI_TAG = `spreadserve-test/cli-demo:${SCOPE}`;

/** What the timings were, for the report. */
const timings: Record<string, number> = {};

let b: BotBed;
let services: Services;
const admin = { id: ADMIN, role: 'admin' as const };

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** Every image tag of this file: the templates', the CLI's and any step-one tag. */
async function ourTags(): Promise<string[]> {
  const all = (await docker('images', '--format', '{{.Repository}}:{{.Tag}}')).split('\n');
  return all.filter((t) => t.startsWith('spreadserve-test/') && t.includes(`:${SCOPE}`));
}

const stepOneTags = async () => (await ourTags()).filter((t) => t.includes('-step-one-'));
const tagExists = async (t: string) => (await ourTags()).includes(t);
const imageId = (t: string) => docker('image', 'inspect', t, '--format', '{{.Id}}');

/** The one-off build containers of a template, by label, with the docker CLI. */
const buildContainers = async (template: string) =>
  (
    await docker(
      'ps',
      '-aq',
      '--filter',
      `label=${LABEL.build}=${template}`,
      '--filter',
      `label=${LABEL.scope}=${SCOPE}`,
    )
  )
    .split('\n')
    .filter(Boolean);

async function cleanAll(): Promise<void> {
  await removeByLabel({ [LABEL.scope]: SCOPE });
  await removeByLabel({ [LABEL.scope]: CLI_SCOPE });
  await removeImages(...(await ourTags()), CLI_TAG);
}

/** The UserError p rejects with; fails the test when it resolves or rejects with anything else. */
async function rejection(p: Promise<unknown>): Promise<UserError> {
  await expect(p).rejects.toBeInstanceOf(UserError);
  return (await p.catch((err: unknown) => err)) as UserError;
}

interface Seen {
  line: string;
  step?: ProgressStep;
  at: number;
}

/** Builds as an admin, recording progress and the time taken. */
async function build(template: string, opts: { noCache?: boolean; builds?: Builds } = {}) {
  const seen: Seen[] = [];
  const t0 = performance.now();
  const result = await (opts.builds ?? services.builds).build({
    actor: admin,
    template,
    noCache: opts.noCache,
    onProgress: (p) => seen.push({ ...p, at: performance.now() - t0 }),
  });
  return { result, seen, ms: performance.now() - t0 };
}

beforeAll(async () => {
  b = await startBotBed({
    scope: SCOPE,
    ports: PORTS,
    env: { SPREADSERVE_ADMINS: ADMIN },
    templates,
  });
  services = b.bed.services;
  await cleanAll();
});

afterAll(async () => {
  await b?.close();
  await cleanAll();
  await rm(slowDir, { recursive: true, force: true });
  expect(await ourTags()).toEqual([]);
  console.info(`build timings (ms): ${JSON.stringify(timings)}`);
});

describe('the commit strategy (the tech note’s two steps)', () => {
  it('builds the demo: launch command, labels, env and port set; no container and no step-one tag left', async () => {
    // a cold build first (no cache), then the usual one
    const cold = await build('demo', { noCache: true });
    timings.commitNoCache = Math.round(cold.ms);
    const { result, seen, ms } = await build('demo');
    timings.commitCached = Math.round(ms);

    // the image, as the docker CLI sees it
    const config = JSON.parse(await docker('image', 'inspect', DEMO_TAG, '--format', '{{json .Config}}')) as {
      Cmd: string[];
      Labels: Record<string, string>;
      Env: string[];
      ExposedPorts: Record<string, unknown>;
    };
    expect(config.Cmd).toEqual(LAUNCH);
    expect(config.Labels).toMatchObject({
      Description: 'SpreadServe for Linux (demo)',
      Vendor: 'SpreadServe',
      Version: '0.3.1',
    });
    expect(config.Env).toEqual(expect.arrayContaining([`SSROOT=${SSROOT}`, `SSROOTX=${SSROOT}/x`]));
    expect(Object.keys(config.ExposedPorts)).toEqual(['80/tcp']);
    expect(result.image.id).toBe(await imageId(DEMO_TAG));
    expect(result.template.build?.strategy).toBe('commit');

    // the steps as they happened: the step-one Dockerfile's, the install, the commit
    expect(seen[0]!.line).toMatch(
      new RegExp(
        `^Building the step-one image ${DEMO_TAG.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}-step-one-`,
      ),
    );
    const steps = seen.filter((s) => s.step);
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5].map((index) => ({ index, total: 5 })));
    expect(steps.map((s) => s.line)).toEqual([
      `FROM ${BASE_IMAGE}`,
      'LABEL Description="SpreadServe for Linux (demo)" Vendor="SpreadServe" Version="0.3.1"',
      'ADD ss031.sh /install/ss031.sh',
      'Running the installer /install/ss031.sh /S in a container',
      `Committing the container as ${DEMO_TAG} (port 80, launch command set)`,
    ]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.at).toBeGreaterThanOrEqual(seen[i - 1]!.at);

    // nothing left behind: no one-off container, no step-one tag
    expect(await buildContainers('demo')).toEqual([]);
    expect(await stepOneTags()).toEqual([]);

    // the history
    const last = services.store.read().builds.at(-1)!;
    expect(last).toMatchObject({
      template: 'demo',
      by: ADMIN,
      outcome: 'success',
      imageId: result.image.id,
      sizeBytes: result.image.sizeBytes,
    });
    expect(last.durationMs).toBeGreaterThan(0);
  });

  it('launches through Instances and answers on port 80 inside', async () => {
    const record = await services.instances.launch({ actor: admin, template: 'demo', name: 'builds-demo' });
    try {
      // from outside, on the published port
      const body = await waitForHttp200(`${services.instances.url(record)}/`);
      expect(body).toContain('SpreadServe 0.3.1 (demo)');
      expect(body).toContain(`<code id="ssroot">${SSROOT}</code>`);
      expect(body).toContain('<b id="instance">builds-demo</b>');
      // and inside the container, on port 80 itself
      const inside = await docker('exec', record.containerId!, 'wget', '-qO-', 'http://127.0.0.1:80/');
      expect(inside).toContain('<td id="total">151</td>');
      const ports = await docker(
        'inspect',
        record.containerId!,
        '--format',
        '{{json .NetworkSettings.Ports}}',
      );
      expect(Object.keys(JSON.parse(ports) as object)).toEqual(['80/tcp']);
    } finally {
      await services.instances.stop(admin, 'builds-demo');
    }
    expect(await httpGet(`${services.instances.url(record)}/`, 500)).toBeNull();
  });

  it('a failing installer: the error names exit code 23 and shows its output; no container, no tag', async () => {
    const t0 = performance.now();
    const err = await rejection(build('broken'));
    timings.failingInstaller = Math.round(performance.now() - t0);
    expect(err.kind).toBe('build-failed');
    expect(err.message).toBe(
      `The installer sh -c 'echo installing; echo oops >&2; exit 23' of broken exited with code 23 (step 4/5); ` +
        'nothing was tagged, its last lines follow.',
    );
    expect(err.details).toEqual(expect.arrayContaining(['installing', 'oops']));
    expect(err.details.length).toBeLessThanOrEqual(20);
    expect(await buildContainers('broken')).toEqual([]);
    expect(await tagExists(tag('broken'))).toBe(false);
    expect(await stepOneTags()).toEqual([]);
    expect(services.store.read().builds.at(-1)).toMatchObject({
      template: 'broken',
      outcome: 'failed',
      error: expect.stringContaining('code 23'),
    });

    // the same, as a user sees it from the CLI's text
    const reply = await dispatch(['build', 'broken'], {
      actor: admin,
      services,
      prefix: 'spreadserve',
      log: silentLogger(),
    });
    expect(reply.ok).toBe(false);
    const text = replyToText(reply);
    expect(text).toMatch(/^Error: The installer .* exited with code 23/);
    expect(text).toContain('  | oops');
  });

  it('a failed build leaves the previous good image under its tag', async () => {
    const before = await imageId(DEMO_TAG);
    const err = await rejection(build('demo-broken'));
    expect(err.message).toMatch(/exited with code 23/);
    expect(await imageId(DEMO_TAG)).toBe(before);
    expect(await stepOneTags()).toEqual([]);
  });

  it('refuses a second concurrent build of the same template, naming who started it and when', async () => {
    const first = build('demo');
    const err = await rejection(
      services.builds.build({ actor: { id: 'cli:ops', role: 'admin' }, template: 'demo' }),
    );
    expect(err.kind).toBe('conflict');
    expect(err.message).toMatch(
      /^demo is already being built by UADMIN, started (just now|\d+ms ago|\d+s ago) \(\d\d:\d\d:\d\d UTC\); wait for it to finish\.$/,
    );
    expect(services.builds.runningBuild('demo')).toMatchObject({ by: ADMIN });
    // another template builds meanwhile
    await expect(build('oneshot')).resolves.toBeDefined();
    await first;
    expect(services.builds.runningBuild('demo')).toBeUndefined();
    // and once it is done, the next one may start
    await expect(build('demo')).resolves.toBeDefined();
  });

  it('removes a one-off container that an earlier, killed build left behind', async () => {
    const leftover = await docker(
      'create',
      '--label',
      `${LABEL.build}=demo`,
      '--label',
      `${LABEL.scope}=${SCOPE}`,
      BASE_IMAGE,
      'sleep',
      '60',
    );
    expect(await buildContainers('demo')).toEqual([leftover.slice(0, 12)]);
    await build('demo');
    expect(await buildContainers('demo')).toEqual([]);
  });
});

describe('the step-one tag', () => {
  it('is untagged once the container another build runs from the same layers is gone', async () => {
    // Builds of one Dockerfile share the step-one image: while another build's container runs
    // from it, Docker refuses to drop its last tag (409). The real engine, refusing twice:
    const tries: string[] = [];
    const engine = new Proxy(services.engine, {
      get(target, prop, receiver) {
        if (prop !== 'removeImage') return Reflect.get(target, prop, receiver);
        return async (t: string) => {
          tries.push(t);
          if (tries.length <= 2)
            throw new UserError('conflict', `The image ${t} is used by a container; remove that first.`);
          return target.removeImage(t);
        };
      },
    });
    const builds = new Builds({
      store: services.store,
      engine,
      templates,
      clock: services.clock,
      log: services.log,
      scope: SCOPE,
      buildTimeoutMs: 60_000,
    });
    await build('demo', { builds });
    expect(tries).toHaveLength(3);
    expect(new Set(tries).size).toBe(1);
    expect(tries[0]).toMatch(/-step-one-/);
    expect(await stepOneTags()).toEqual([]);
  });
});

describe('the dockerfile strategy', () => {
  it('builds Dockerfile.oneshot in one step, reporting each step', async () => {
    const { result, seen, ms } = await build('oneshot');
    timings.dockerfileCached = Math.round(ms);
    expect(result.image.cmd).toEqual(LAUNCH);
    expect(result.image.exposedPorts).toEqual(['80/tcp']);
    expect(result.image.env).toContain(`SSROOT=${SSROOT}`);
    expect(result.image.labels).toMatchObject({ Vendor: 'SpreadServe', Version: '0.3.1' });
    expect(seen[0]!.line).toBe(`Building ${tag('oneshot')} from Dockerfile.oneshot`);
    const steps = seen.filter((s) => s.step);
    expect(steps.map((s) => s.step!.index)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(steps.every((s) => s.step!.total === 7)).toBe(true);
    expect(steps[3]!.line).toBe('RUN ["/install/ss031.sh", "/S"]');
    expect(await stepOneTags()).toEqual([]);
    expect(await imageId(tag('oneshot'))).toBe(result.image.id);
  });
});

describe('BUILD_TIMEOUT', () => {
  const timeoutMs = loadConfig({ BUILD_TIMEOUT: '4s' }).buildTimeoutMs;
  const short = () =>
    new Builds({
      store: services.store,
      engine: services.engine,
      templates,
      clock: services.clock,
      log: services.log,
      scope: SCOPE,
      buildTimeoutMs: timeoutMs,
    });

  it('stops a hanging installer, cleans up and says so', async () => {
    expect(timeoutMs).toBe(4000);
    const t0 = performance.now();
    const err = await rejection(build('slow', { builds: short() }));
    const took = performance.now() - t0;
    timings.timeoutInstaller = Math.round(took);
    expect(err.kind).toBe('timeout');
    expect(err.message).toBe(
      'The build of slow ran past BUILD_TIMEOUT (4s); it was stopped and cleaned up, and nothing was tagged.',
    );
    expect(took).toBeGreaterThanOrEqual(timeoutMs - 50);
    expect(await buildContainers('slow')).toEqual([]);
    expect(await tagExists(tag('slow'))).toBe(false);
    expect(await stepOneTags()).toEqual([]);
    expect(services.store.read().builds.at(-1)).toMatchObject({ template: 'slow', outcome: 'timeout' });
  });

  it('stops a hanging Dockerfile step, and the engine removes its container', async () => {
    const t0 = performance.now();
    const err = await rejection(build('slow-dockerfile', { builds: short(), noCache: true }));
    timings.timeoutDockerfile = Math.round(performance.now() - t0);
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/^The build of slow-dockerfile ran past BUILD_TIMEOUT \(4s\)/);
    expect(await tagExists(tag('slow-dockerfile'))).toBe(false);
    // the builder's intermediate container (running the RUN step) goes away: bounded wait
    let left: string[] = [];
    for (let i = 0; i < 50; i++) {
      const rows = await docker('ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Command}}');
      left = rows.split('\n').filter((r) => r.includes(MARKER));
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(left).toEqual([]);
  });
});

describe('templates and launching', () => {
  it('templates shows, per template, whether the image exists, its size and age, and the last build', async () => {
    const reply = await dispatch(['templates'], {
      actor: admin,
      services,
      prefix: 'spreadserve',
      log: silentLogger(),
    });
    if (reply.kind !== 'templates') throw new Error(`unexpected reply ${reply.kind}`);
    const byName = new Map(reply.templates.map((t) => [t.name, t]));
    expect(byName.get('demo')).toMatchObject({
      built: true,
      strategy: 'commit',
      sizeBytes: expect.any(Number),
      imageCreatedAt: expect.any(Number),
      lastBuild: { by: ADMIN, outcome: 'success' },
    });
    expect(byName.get('broken')).toMatchObject({ built: false, lastBuild: { outcome: 'failed' } });
    expect(byName.get('slow')).toMatchObject({ built: false, lastBuild: { outcome: 'timeout' } });
    expect(byName.get('unbuilt')).toMatchObject({ built: false });
    expect(byName.get('unbuilt')!.lastBuild).toBeUndefined();
    const text = replyToText(reply);
    expect(text).toMatch(
      /demo\s+spreadserve-test\/demo:test-builds\s+yes, \S+ ago\s+\d+\.\d MB\s+success by UADMIN/,
    );
  });

  it('launching a template whose image is not built says so and tells admins the command', async () => {
    const err = await rejection(services.instances.launch({ actor: admin, template: 'unbuilt' }));
    expect(err.kind).toBe('not-found');
    expect(err.message).toBe(
      `The image ${tag('unbuilt')} of template unbuilt is not built yet; an admin can type \`build unbuilt\`.`,
    );
  });
});

describe('in Slack', () => {
  it('shows progress in one message, updated at most once a second, ending with the result', async () => {
    b.slack.reset();
    const t0 = Date.now();
    const s = await b.slash('build demo --no-cache', ADMIN, { channelId: 'CBUILDS' });
    expect(s.ack.status).toBe(200);
    expect(textOf(s.ack.json)).toBe('⏳ Building demo --no-cache…');
    const done = await b.waitForResponse(s.id, (r) => /^✅ Built /.test(textOf(r)), 60_000);
    const seconds = (Date.now() - t0) / 1000;
    timings.slackBuild = Math.round(seconds * 1000);
    expect(textOf(done)).toMatch(new RegExp(`^✅ Built ${DEMO_TAG.replace(/[./]/g, '\\$&')} \\(\\d`));

    const posts = b.slack.calls('chat.postMessage');
    expect(posts).toHaveLength(1);
    expect(posts[0]!.body).toMatchObject({ channel: 'CBUILDS' });
    expect(String(posts[0]!.body.text)).toMatch(/^⏳ Building demo --no-cache: /);
    const updates = b.slack.calls('chat.update');
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.length).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
    const times = [posts[0]!.at, ...updates.map((u) => u.at)];
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(950);
    for (const u of updates) expect(u.body).toMatchObject({ channel: 'CBUILDS', ts: expect.any(String) });
    // the steps went by, and the message ends with the result and who asked
    const texts = [posts[0]!, ...updates].map((c) => String(c.body.text));
    expect(texts.slice(0, -1).every((t) => t.startsWith('⏳ Building demo --no-cache'))).toBe(true);
    expect(texts.at(-1)).toMatch(/^✅ Built /);
    expect(shown(updates.at(-1)!.body.blocks)).toContain('asked by <@UADMIN>');
    // the caller's own reply through the response_url: one post
    expect(s.responses()).toHaveLength(1);
  });

  it('falls back to the response_url where the bot cannot post: at most 5 posts', async () => {
    b.slack.reset();
    b.slack.failMethod('chat.postMessage', 'channel_not_found');
    try {
      const s = await b.slash('build demo', ADMIN, { channelId: 'CPRIVATE' });
      await b.waitForResponse(s.id, (r) => /^✅ Built /.test(textOf(r)), 60_000);
      await new Promise((r) => setTimeout(r, 300)); // nothing more comes
      const posts = s.responses().map(textOf);
      expect(posts.length).toBeGreaterThanOrEqual(2);
      expect(posts.length).toBeLessThanOrEqual(5);
      expect(posts[0]).toMatch(/^⏳ Building demo/);
      expect(shown(s.responses()[0])).toContain('cannot post in this conversation');
      expect(posts.at(-1)).toMatch(/^✅ Built /);
      expect(posts.slice(0, -1).every((p) => p.startsWith('⏳ Building demo'))).toBe(true);
      expect(b.slack.calls('chat.postMessage')).toHaveLength(1);
      expect(b.slack.calls('chat.update')).toEqual([]);
    } finally {
      b.slack.clearFailures();
    }
  });

  it('a user who is not an admin is refused, and nothing is posted in the channel', async () => {
    b.slack.reset();
    const s = await b.slash('build demo', ALICE, { channelId: 'CBUILDS' });
    const reply = await b.waitForResponse(s.id, () => true, 10_000);
    expect(textOf(reply)).toMatch(/admin/i);
    expect(b.slack.calls('chat.postMessage')).toEqual([]);
    expect(b.slack.calls('chat.update')).toEqual([]);
  });
});

describe('the CLI', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sst-builds-cli-'));
  const templatesFile = path.join(dir, 'spreadserve.templates.yml');
  writeFileSync(
    templatesFile,
    [
      'templates:',
      '  cli-demo:',
      `    image: ${CLI_TAG}`,
      '    build:',
      '      strategy: commit',
      `      context: ${DEMO_DIR}`,
      '      dockerfile: Dockerfile',
      '      install: ["/install/ss031.sh", "/S"]',
      '    env: { SSROOT: /spreadserve/ss0.3.1, SSROOTX: /spreadserve/ss0.3.1/x }',
      '    command: ["/spreadserve/ss0.3.1/sh/dbaseweb.sh"]',
      '',
    ].join('\n'),
  );
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    SPREADSERVE_TEMPLATES: templatesFile,
    SPREADSERVE_DATA: path.join(dir, 'store.json'),
    SPREADSERVE_SCOPE: CLI_SCOPE,
    SPREADSERVE_PORTS: CLI_PORTS,
    LOG_LEVEL: 'silent',
  };

  /** `spreadserve <args>` in a child process, as a terminal user runs it; at most 60 s. */
  function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'cli/spreadserve.mjs'), ...args], {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('build --json prints a reply naming the image', async () => {
    const t0 = performance.now();
    const { code, stdout, stderr } = await cli('build', 'cli-demo', '--json');
    timings.cliJson = Math.round(performance.now() - t0);
    expect(code, stderr).toBe(0);
    const reply = JSON.parse(stdout) as { ok: boolean; kind: string; build: Record<string, unknown> };
    expect(reply).toMatchObject({
      ok: true,
      kind: 'build',
      build: { template: 'cli-demo', tag: CLI_TAG, strategy: 'commit', imageId: await imageId(CLI_TAG) },
    });
    expect(stderr).toBe('');
  });

  it('prints a line per step on stderr, and the result on stdout', async () => {
    const { code, stdout, stderr } = await cli('build', 'cli-demo');
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Built ${CLI_TAG.replace(/[./]/g, '\\$&')} \\(\\d+\\.\\d MB\\) in `));
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^… Building the step-one image .*-step-one-[0-9a-f]{6} from Dockerfile$/),
      `… [1/5] FROM ${BASE_IMAGE}`,
      '… [2/5] LABEL Description="SpreadServe for Linux (demo)" Vendor="SpreadServe" Version="0.3.1"',
      '… [3/5] ADD ss031.sh /install/ss031.sh',
      '… [4/5] Running the installer /install/ss031.sh /S in a container',
      `… [5/5] Committing the container as ${CLI_TAG} (port 80, launch command set)`,
    ]);
  });
});
