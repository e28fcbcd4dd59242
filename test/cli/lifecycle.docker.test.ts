// The bot's process lifecycle under faults, with real processes (`npm start`'s entry, the local
// shell) against the real Docker engine: killed with SIGKILL mid-launch and started again at
// once, as systemd's Restart=always or a container restart would; stopped with SIGTERM during a
// launch and during a reclaim pass. Ports 24560-24562 and the scope label test-restart belong
// to this file; each test has a fresh store.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { LABEL } from '../../core/labels.ts';
import { BASE_IMAGE, removeByLabel, requireDocker, scopeContainers } from '../support/docker.ts';
import { tempDir } from '../support/services.ts';
import { terminalEnv } from '../support/terminal.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
// tsx's loader by URL: the shell runs from a directory of its own, where `tsx` would not resolve.
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const SCOPE = 'test-restart';
const FIRST_PORT = 24560;

let dir: string;
const dirs: string[] = [];

/** The local shell as `npm start` runs it, as one node process (so its pid is the bot's). */
interface Shell {
  child: ChildProcess;
  /** Everything printed on stdout so far. */
  out(): string;
  say(line: string): void;
  /** Waits until stdout matches, within timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  closed: Promise<number | null>;
}

function startShell(): Shell {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(ROOT, 'main.ts')], {
    cwd: dir,
    env: terminalEnv({
      dir,
      scope: SCOPE,
      firstPort: FIRST_PORT,
      lastPort: FIRST_PORT + 2,
      extra: { RECLAIM_CRON: '0 0 1 1 *' },
    }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    child,
    out: () => stdout,
    say: (line) => child.stdin?.write(`${line}\n`),
    closed,
    async waitFor(pattern, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      while (!pattern.test(stdout)) {
        if (Date.now() > until) throw new Error(`no ${pattern} within ${timeoutMs} ms\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

const shells: Shell[] = [];

/** Everything in the store file now. */
const storeDoc = () =>
  JSON.parse(readFileSync(path.join(dir, 'store.json'), 'utf8')) as {
    instances: Record<string, { state: string; port: number }>;
    ports: Record<string, unknown>;
    reclaim: { lastPassAt?: number };
  };

beforeAll(async () => {
  await requireDocker();
});

beforeEach(async () => {
  await removeByLabel({ [LABEL.scope]: SCOPE }); // what an interrupted earlier run (or test) left
  dir = tempDir('ss-restart-');
  dirs.push(dir);
  // Two templates on the base image: `quick` serves at once; `slow` never answers, so a launch
  // of it stays in flight (record starting, port reserved, container running) until killed.
  const serve = 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www';
  writeFileSync(
    path.join(dir, 'templates.yml'),
    stringifyYaml({
      templates: {
        quick: { description: 'serves at once', image: BASE_IMAGE, command: ['sh', '-c', serve] },
        slow: {
          description: 'never answers',
          image: BASE_IMAGE,
          command: ['sh', '-c', 'exec sleep 600'],
          startTimeout: '10m',
        },
      },
    }),
  );
});

afterAll(async () => {
  for (const s of shells) s.child.kill('SIGKILL');
  await removeByLabel({ [LABEL.scope]: SCOPE });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the bot killed mid-launch and started again at once', () => {
  it('owns the store within seconds, cleans up the half launch, and every port is usable', async () => {
    // given a bot in the middle of a launch: record starting, port reserved, container running
    const first = startShell();
    shells.push(first);
    await first.waitFor(/spreadserve> /);
    first.say('launch slow --name half');
    await first.waitFor(/Container started on port \d+/);
    expect(storeDoc().instances.half?.state).toBe('starting');
    expect(scopeContainers(SCOPE)).toHaveLength(1);

    // when it is killed with SIGKILL and a new one starts at once
    first.child.kill('SIGKILL');
    const second = startShell();
    shells.push(second);
    await second.waitFor(/spreadserve> /);

    // then within seconds the new one owns the store and the half launch is gone
    const until = Date.now() + 15_000;
    for (;;) {
      second.say('status');
      await second.waitFor(/ports: .*\n/);
      if (/store: +writable/.test(second.out())) break;
      if (Date.now() > until) throw new Error(`the store never became writable:\n${second.out()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    second.say('list all');
    await second.waitFor(/No instances are running/);
    expect(scopeContainers(SCOPE)).toEqual([]);

    // and every pool port is usable: three launches take the three ports
    for (const name of ['one', 'two', 'three']) {
      second.say(`launch quick --name ${name}`);
      await second.waitFor(new RegExp(`${name} is up at http://127\\.0\\.0\\.1:(\\d+)`));
    }
    const ports = [...second.out().matchAll(/is up at http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) =>
      Number(m[1]),
    );
    expect(ports.sort()).toEqual([FIRST_PORT, FIRST_PORT + 1, FIRST_PORT + 2]);
    second.say('exit');
    expect(await second.closed).toBe(0);
  });
});

describe('SIGTERM', () => {
  it('during a launch: the launch is undone, its port freed, and the process exits at once', async () => {
    // given a bot whose launch waits for a server that never answers
    const shell = startShell();
    shells.push(shell);
    await shell.waitFor(/spreadserve> /);
    shell.say('launch slow --name cut');
    await shell.waitFor(/Container started on port \d+/);
    expect(scopeContainers(SCOPE)).toHaveLength(1);
    // when it gets SIGTERM (systemd, docker stop)
    const sent = Date.now();
    shell.child.kill('SIGTERM');
    // then it exits cleanly well within stop's 30 s bound, the launch undone and said so
    expect(await shell.closed).toBe(0);
    expect(Date.now() - sent).toBeLessThan(25_000);
    expect(shell.out()).toMatch(/The bot is shutting down, so the launch of cut was undone/);
    expect(scopeContainers(SCOPE)).toEqual([]);
    expect(storeDoc().instances).toEqual({});
    expect(storeDoc().ports).toEqual({});
  });

  it('during a reclaim pass: the pass finishes and is recorded before the process exits', async () => {
    // given a bot with two instances, running a reclaim pass (stats take about a second)
    const shell = startShell();
    shells.push(shell);
    await shell.waitFor(/spreadserve> /);
    for (const name of ['busy', 'calm']) {
      shell.say(`launch quick --name ${name}`);
      await shell.waitFor(new RegExp(`${name} is up at`));
    }
    const before = Date.now();
    shell.say('reclaim');
    await new Promise((r) => setTimeout(r, 300));
    // when it gets SIGTERM in the middle of the pass
    shell.child.kill('SIGTERM');
    // then it exits cleanly once the pass has finished and been written down
    expect(await shell.closed).toBe(0);
    expect(storeDoc().reclaim.lastPassAt).toBeGreaterThanOrEqual(before);
    // and the instances it did not judge idle are still there, with their containers
    expect(Object.keys(storeDoc().instances).sort()).toEqual(['busy', 'calm']);
    expect(scopeContainers(SCOPE, { running: true })).toHaveLength(2);
  });
});
