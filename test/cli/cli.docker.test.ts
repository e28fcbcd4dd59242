// The `spreadserve` CLI and the local shell for real: the bin and `npm start`'s entry as child
// processes, against the real Docker engine. Ports 24500-24519 and the scope label test-cli belong
// to this file; the demo image is built through the CLI under its own tag and removed afterwards.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { LABEL } from '../../core/labels.ts';
import {
  dockerSync,
  httpGet,
  removeByLabel,
  removeImages,
  requireDocker,
  scopeContainers,
  waitForHttp200,
} from '../support/docker.ts';
import { terminalEnv } from '../support/terminal.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'cli', 'spreadserve.mjs');
const SCOPE = 'test-cli';
const FIRST_PORT = 24500;
const IMAGE = `spreadserve-test/demo:${SCOPE}`;

let dir: string;
let env: NodeJS.ProcessEnv;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, or kills it after timeoutMs and fails with what it printed. */
function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number },
): Promise<Run> {
  const { timeoutMs = 45_000 } = options;
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} ran over ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(options.input ?? '');
  });
}

/** `spreadserve <args>` as a user types it, from a directory of its own (not the project's). */
const cli = (args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}, timeoutMs?: number) =>
  run(process.execPath, [BIN, ...args], { cwd: dir, env: { ...env, ...extraEnv }, timeoutMs });

const json = <T = Record<string, unknown>>(r: Run): T => JSON.parse(r.stdout) as T;

const docker = dockerSync;
const containers = (): string[] => scopeContainers(SCOPE);

/** The project's templates file with the demo's image renamed for this file and its context absolute. */
function writeTemplates(target: string): void {
  const doc = parseYaml(readFileSync(path.join(ROOT, 'spreadserve.templates.yml'), 'utf8')) as {
    templates: Record<string, { image: string; build?: { context: string } }>;
  };
  const demo = doc.templates.demo!;
  demo.image = IMAGE;
  if (demo.build) demo.build.context = path.resolve(ROOT, demo.build.context);
  writeFileSync(target, stringifyYaml({ templates: { demo } }));
}

/** The environment of every child: ours over the caller's, with no Slack credentials. */
const childEnv = (): NodeJS.ProcessEnv =>
  terminalEnv({ dir, scope: SCOPE, firstPort: FIRST_PORT, lastPort: FIRST_PORT + 19 });

const storeInstances = (): string[] => {
  const file = path.join(dir, 'store.json');
  if (!existsSync(file)) return [];
  return Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { instances: object }).instances);
};

/** A one-line error on stderr, nothing on stdout, and no stack trace. */
function expectOneLineError(r: Run, pattern: RegExp): void {
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(pattern);
  expect(lines[0]!.length).toBeLessThan(400);
}

beforeAll(async () => {
  await requireDocker();
  // An interrupted earlier run may have left containers or the image.
  await removeByLabel({ [LABEL.scope]: SCOPE });
  await removeImages(IMAGE);
  dir = mkdtempSync(path.join(os.tmpdir(), 'ss-test-cli-'));
  writeTemplates(path.join(dir, 'templates.yml'));
  env = childEnv();
});

afterAll(async () => {
  await removeByLabel({ [LABEL.scope]: SCOPE });
  await removeImages(IMAGE);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('spreadserve CLI against real Docker', () => {
  it('builds the demo image', { timeout: 180_000 }, async () => {
    // when an operator builds the demo through the CLI
    const r = await cli(['build', 'demo'], {}, 170_000);

    // then it says so in one first line, and the progress went to stderr
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(new RegExp(`^Built ${IMAGE} \\(\\d+\\.\\d MB\\) in `));
    expect(r.stderr).toMatch(/^… /m);
    expect(docker('image', 'inspect', IMAGE, '--format', '{{.Id}}')).toMatch(/^sha256:/);
  });

  it('launches, lists and stops with --json; the URL answers 200', { timeout: 150_000 }, async () => {
    // when an instance is launched
    const launched = await cli(['launch', 'demo', '--name', 'cli-x', '--json']);
    expect(launched.code, launched.stderr).toBe(0);
    const reply = json<{ ok: boolean; kind: string; instance: { name: string; url: string; port: number } }>(
      launched,
    );
    expect(reply).toMatchObject({ ok: true, kind: 'instance', instance: { name: 'cli-x' } });

    // then its URL is on the pool and answers 200 with the demo page
    const { url, port } = reply.instance;
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(port).toBeGreaterThanOrEqual(FIRST_PORT);
    expect(port).toBeLessThanOrEqual(FIRST_PORT + 19);
    expect(await waitForHttp200(`${url}/`)).toContain('/spreadserve/ss0.3.1');
    expect(containers()).toHaveLength(1);

    // and list --json shows it running at that URL
    const listed = await cli(['list', '--json']);
    expect(listed.code).toBe(0);
    expect(json<{ instances: unknown[] }>(listed).instances).toEqual([
      expect.objectContaining({ name: 'cli-x', state: 'running', url, template: 'demo' }),
    ]);

    // and the human list is a readable table
    const text = await cli(['list']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('1 instance of yours:');
    expect(lines[1]).toMatch(/^NAME\s+OWNER\s+TEMPLATE\s+URL\s+STATE\s+AGE\s+IDLE$/);
    expect(lines[2]).toMatch(new RegExp(`^cli-x\\s+cli:\\S+\\s+demo\\s+${url}\\s+running\\s`));

    // when it is stopped
    const stopped = await cli(['stop', 'cli-x', '--json']);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(json(stopped)).toMatchObject({ ok: true, summary: `Stopped cli-x; port ${port} is free again.` });

    // then the container is gone, the URL is dead and list is empty
    expect(containers()).toHaveLength(0);
    expect(await httpGet(`${url}/`, 500)).toBeNull();
    const after = await cli(['list', '--json']);
    expect(json<{ instances: unknown[] }>(after).instances).toEqual([]);
  });

  it('shows readable templates and help', { timeout: 120_000 }, async () => {
    const templates = await cli(['templates']);
    expect(templates.code).toBe(0);
    expect(templates.stdout).toMatch(
      /^TEMPLATE\s+IMAGE\s+BUILT\s+SIZE\s+LAST BUILD\s+PLATFORM\s+EACH INSTANCE\s+RECLAIM\s+DESCRIPTION$/m,
    );
    // the demo sets no reclaim policy of its own: every setting is the global one
    expect(templates.stdout).toContain('idle timeout 2h (default) · warning 15m (default)');
    expect(templates.stdout).toMatch(new RegExp(`^demo\\s+${IMAGE}\\s+yes, `, 'm'));

    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['help', 'templates', 'build', 'launch', 'list', 'stop', 'status']) {
      expect(help.stdout).toMatch(new RegExp(`^ {2}spreadserve ${command}\\b`, 'm'));
    }
    // --help needs no configuration, store or Docker: it works from any directory and creates nothing
    const empty = mkdtempSync(path.join(dir, 'nowhere-'));
    const bare = {
      ...env,
      SPREADSERVE_DATA: undefined,
      SPREADSERVE_TEMPLATES: undefined,
      DOCKER_HOST: 'ftp://x',
    };
    const anywhere = await run(process.execPath, [BIN, '--help'], { cwd: empty, env: bare });
    expect(anywhere.code, anywhere.stderr).toBe(0);
    expect(anywhere.stdout).toBe(help.stdout);
    expect(readdirSync(empty)).toEqual([]);

    const launchHelp = await cli(['launch', '-h']);
    expect(launchHelp.code).toBe(0);
    expect(launchHelp.stdout.split('\n')[0]).toBe(
      '`spreadserve launch [template] [--name NAME] [--ttl DURATION]`',
    );
  });

  it('`stop --help` shows help and stops nothing, even an instance named help', {
    timeout: 120_000,
  }, async () => {
    // given an instance called "help"
    const launched = await cli(['launch', 'demo', '--name', 'help', '--json']);
    expect(launched.code, launched.stdout + launched.stderr).toBe(0);

    // when someone asks how stop works
    const r = await cli(['stop', '--help']);

    // then they get stop's usage and the instance still runs
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('`spreadserve stop <name>`');
    expect(storeInstances()).toEqual(['help']);
    expect(containers()).toHaveLength(1);

    const stopped = await cli(['stop', 'help']);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(containers()).toHaveLength(0);
  });

  // These touch no Docker state and use no ports: they run a few at a time (each is a process start).
  describe.concurrent('bad usage exits 2 with a one-line error, before anything is created', () => {
    const long = 'a'.repeat(3000);
    const cases: [string, string[], RegExp][] = [
      ['an unknown command', ['frobnicate'], /There is no command "frobnicate"; commands: help, /],
      [
        'an unknown flag',
        ['launch', 'demo', '--bogus'],
        /launch has no --bogus flag; it takes --name, --ttl/,
      ],
      ['the name A', ['launch', 'demo', '--name', 'A'], /"A" is not a valid name: names are 2-40/],
      [
        'the name `x; rm -rf /`',
        ['launch', 'demo', '--name', 'x; rm -rf /'],
        /"x; rm -rf \/" is not a valid name/,
      ],
      ['a 3000-character name', ['launch', 'demo', '--name', long], /"a{40}…" is not a valid name/],
      ['a bad --ttl', ['launch', 'demo', '--ttl', '5x'], /--ttl "5x" is not a duration: use /],
      ['--ttl without a value', ['launch', 'demo', '--ttl'], /--ttl needs a value/],
      ['stop without a name', ['stop'], /usage: stop <name>/i],
    ];
    it.each(cases)('%s', async (_what, args, pattern) => {
      // given a store that does not exist yet
      const data = path.join(dir, `usage-${Math.random().toString(36).slice(2)}.json`);

      // when the command is misused
      const r = await cli(args, { SPREADSERVE_DATA: data });

      // then exit 2 and one line saying what was wrong, and no store, no container
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expectOneLineError(r, pattern);
      expect(existsSync(data)).toBe(false);
      expect(containers()).toHaveLength(0);
    });

    it('with --json, the error is a JSON reply on stdout', async () => {
      const r = await cli(['launch', 'demo', '--name', 'A', '--json']);
      expect(r.code).toBe(2);
      expect(json(r)).toMatchObject({ ok: false, errorKind: 'usage', kind: 'message' });
    });
  });

  // One at a time: these open the shared store, which one process owns at a time.
  describe('a refusal exits 1 with a one-line error and changes nothing', () => {
    it.each([
      [
        'stop of an unknown instance',
        ['stop', 'nosuch-one'],
        /There is no instance named nosuch-one; type `list`/,
      ],
      [
        'launch of an unknown template',
        ['launch', 'nosuch'],
        /There is no template "nosuch"; known templates: demo\./,
      ],
    ] as [string, string[], RegExp][])('%s', async (_what, args, pattern) => {
      const r = await cli(args);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expectOneLineError(r, pattern);
      expect(storeInstances()).toEqual([]);
      expect(containers()).toHaveLength(0);
    });

    it('beside a running bot (the store owner), reads still work and changes are refused', async () => {
      // given another live process holding the store's lock, as a running bot does
      const holder = path.join(ROOT, 'test', 'support', 'store-holder.ts');
      const owner = spawn(process.execPath, ['--import', 'tsx', holder, path.join(dir, 'store.json')], {
        cwd: ROOT,
      });
      const lock = `${path.join(dir, 'store.json')}.lock`;
      try {
        await new Promise((resolve) => {
          owner.stdout?.once('data', resolve); // "open writable": it holds the kernel lock
          owner.once('exit', resolve);
        });

        // then list answers from the file, and a launch is refused naming the owner
        const list = await cli(['list', 'all']);
        expect(list.code, list.stderr).toBe(0);
        const launch = await cli(['launch', 'demo', '--name', 'cli-blocked']);
        expect(launch.code).toBe(1);
        expectOneLineError(launch, new RegExp(`another SpreadServe process \\(pid ${owner.pid}\\) owns it`));
        expect(containers()).toHaveLength(0);
      } finally {
        owner.kill();
        rmSync(lock, { force: true });
      }
    });

    it('a DOCKER_HOST that is no address is named, without a stack trace', async () => {
      const r = await cli(['list'], { DOCKER_HOST: 'ftp://nowhere' });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        /^Invalid configuration:\n {2}DOCKER_HOST: expected unix:\/\/\/path\/to\/docker\.sock, tcp:\/\/host:port or ssh:\/\/user@host/,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  });
});

describe('npm start without Slack credentials: the local shell', () => {
  it('takes commands on stdin and prints the replies as text', { timeout: 60_000 }, async () => {
    // when the shell is started (as `npm start` does after docker-up) and fed three lines
    const r = await run('npx', ['tsx', 'main.ts'], {
      cwd: ROOT,
      env,
      input: 'help\nlist\nexit\n',
      timeoutMs: 45_000,
    });

    // then it greets, answers help and list, and exits cleanly on `exit`
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^SpreadServe local shell \(no Slack credentials set\)\. You are cli:\S+ \(admin\)/,
    );
    expect(r.stdout).toContain('spreadserve> ');
    expect(r.stdout).toMatch(/^ {2}launch \[template\] \[--name NAME\] \[--ttl DURATION\]\s+Start a server/m);
    expect(r.stdout).toContain('No instances of yours are running; start one with `launch`.');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
