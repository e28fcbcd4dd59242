// DockerEngine against the real engine (no mocks). Ports 24100-24119 belong to this file;
// everything it creates carries org.spreadserve.test=engine and is removed afterwards.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerEngine } from '../../engine/docker.ts';
import { parseDockerHost } from '../../engine/docker-host.ts';
import { demuxLogLines } from '../../engine/docker-streams.ts';
import type { BuildProgress, ContainerSpec } from '../../engine/types.ts';
import { UserError } from '../../lib/errors.ts';
import {
  BASE_IMAGE,
  freshTag,
  httpGet,
  removeByLabel,
  removeImages,
  removeImagesByLabel,
  requireDocker,
  waitForHttp200,
} from '../support/docker.ts';

const TEST_LABEL = { 'org.spreadserve.test': 'engine' };
const PORT = { web: 24100, held: 24101, committed: 24102 } as const;
const HOST = '127.0.0.1';
const DEMO_DIR = path.resolve(import.meta.dirname, '../../templates/demo');
const SSROOT = '/spreadserve/ss0.3.1';
const DEMO_ENV = { SSROOT, SSROOTX: `${SSROOT}/x` };
const LAUNCH = [`${SSROOT}/sh/dbaseweb.sh`];

const engine = new DockerEngine({ dockerHost: process.env.DOCKER_HOST });
const demoTag = freshTag('spreadserve-test/demo-engine');
const stepOneTag = freshTag('spreadserve-test/ssinstall-engine');
const committedTag = freshTag('spreadserve-test/committed-engine');
const tempDirs: string[] = [];

const name = (what: string) => `sst-engine-${what}-${process.pid}`;

function spec(what: string, overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: name(what),
    image: demoTag,
    labels: { ...TEST_LABEL, 'org.spreadserve.instance': what },
    env: { SS_OWNER: 'U0ENGINE', SS_INSTANCE: what },
    containerPort: 80,
    hostPort: PORT.web,
    bindIp: HOST,
    ...overrides,
  };
}

/** The rejection of p, asserted to be a UserError. */
async function userError(p: Promise<unknown>): Promise<UserError> {
  const err = await p.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

async function tempContext(dockerfile: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sst-engine-'));
  tempDirs.push(dir);
  await writeFile(path.join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

beforeAll(async () => {
  await requireDocker();
  await removeByLabel(TEST_LABEL);
  await removeImagesByLabel(TEST_LABEL);
});

afterAll(async () => {
  await removeByLabel(TEST_LABEL);
  await removeImages(demoTag, stepOneTag, committedTag);
  await removeImagesByLabel(TEST_LABEL);
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

describe('parseDockerHost', () => {
  it('reads DOCKER_HOST like the docker CLI', () => {
    expect(parseDockerHost(undefined)).toMatchObject({ socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost('unix:///run/user/1000/docker.sock')).toMatchObject({
      socketPath: '/run/user/1000/docker.sock',
    });
    expect(parseDockerHost('tcp://10.0.0.5:2376')).toMatchObject({ host: '10.0.0.5', port: 2376 });
    expect(parseDockerHost('docker.internal')).toMatchObject({ host: 'docker.internal', port: 2375 });
    expect(parseDockerHost('docker.internal', true)).toMatchObject({ port: 2376, tls: true });
    expect(parseDockerHost('ssh://me@host')).toMatchObject({
      kind: 'ssh',
      host: 'host',
      port: 22,
      username: 'me',
    });
    expect(() => parseDockerHost('ssh://me:secret@host')).toThrow(/DOCKER_HOST "ssh:\/\/me:secret@host"/);
    expect(() => parseDockerHost('ftp://host')).toThrow(/DOCKER_HOST "ftp:\/\/host"/);
  });

  it('demultiplexes log frames per stream', () => {
    const frame = (stream: number, text: string) => {
      const payload = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(payload.length, 4);
      return Buffer.concat([header, payload]);
    };
    const buf = Buffer.concat([frame(1, 'out1\npar'), frame(2, 'err1\n'), frame(1, 't\n')]);
    expect(demuxLogLines(buf)).toEqual(['out1', 'err1', 'part']);
    expect(demuxLogLines(Buffer.from('tty line\r\nnext\n'))).toEqual(['tty line', 'next']);
  });
});

describe('DockerEngine on the real engine', () => {
  it('pings', async () => {
    await engine.ping();
  });

  it('says clearly when Docker is not reachable', async () => {
    const nowhere = new DockerEngine({ dockerHost: 'unix:///tmp/nope.sock' });
    const err = await userError(nowhere.ping());
    expect(err.kind).toBe('engine-unreachable');
    expect(err.message).toBe(
      'Docker is not reachable at unix:///tmp/nope.sock (ENOENT); start it or fix DOCKER_HOST.',
    );
    expect((await userError(nowhere.list(TEST_LABEL))).kind).toBe('engine-unreachable');
    const refused = new DockerEngine({ dockerHost: 'tcp://127.0.0.1:1' });
    expect((await userError(refused.ping())).message).toMatch(/tcp:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });

  it('bounds every call on an engine that accepts and never answers, and closes its sockets', async () => {
    // given a unix socket that accepts connections and never answers a byte
    const dir = await mkdtemp(path.join(tmpdir(), 'ss-hung-'));
    tempDirs.push(dir);
    const sock = path.join(dir, 'docker.sock');
    const open = new Set<net.Socket>();
    const server = net.createServer((s) => {
      s.resume(); // read (and drop) the requests, so a client's close is seen
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    const hung = new DockerEngine({
      dockerHost: `unix://${sock}`,
      timeouts: { quickMs: 1000, logsMs: 1500, imageMs: 2000 },
    });
    try {
      // when every kind of call is made at once
      const t0 = Date.now();
      const calls: [Promise<unknown>, string][] = [
        [hung.ping(), '1s'],
        [hung.list(TEST_LABEL), '1s'],
        [hung.inspect('x'), '1s'],
        [hung.inspectImage(BASE_IMAGE), '1s'],
        [hung.stats('x'), '1s'],
        [hung.remove('x'), '1s'],
        [hung.createAndStart(spec('hung')), '1s'],
        [hung.logs('x', 5), '2s'],
        [hung.removeImage('nope:latest'), '2s'],
      ];
      const errors = await Promise.all(calls.map(([p]) => userError(p)));
      // then each fails within its bound with one sentence, and every request was torn down
      expect(Date.now() - t0).toBeLessThan(4000);
      errors.forEach((err, i) => {
        expect(err.kind).toBe('engine-unreachable');
        expect(err.message).toBe(`Docker did not answer within ${calls[i]?.[1]}.`);
      });
      for (let i = 0; i < 20 && open.size > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(open.size).toBe(0);
    } finally {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('builds the demo image in one shot, reporting each step', async () => {
    const progress: BuildProgress[] = [];
    const image = await engine.build({
      contextDir: DEMO_DIR,
      dockerfile: 'Dockerfile.oneshot',
      tag: demoTag,
      labels: TEST_LABEL,
      onProgress: (p) => progress.push(p),
    });
    expect(image.tag).toBe(demoTag);
    expect(image.sizeBytes).toBeGreaterThan(1_000_000);
    expect(image.cmd).toEqual(LAUNCH);
    expect(image.exposedPorts).toEqual(['80/tcp']);
    expect(image.env).toContain(`SSROOT=${SSROOT}`);
    expect(image.labels).toMatchObject({ Vendor: 'SpreadServe', Version: '0.3.1', ...TEST_LABEL });
    const steps = progress.filter((p) => p.step);
    expect(steps[0]?.step).toMatchObject({ index: 1 });
    const total = steps[0]?.step?.total ?? 0;
    expect(steps.map((p) => p.step?.index)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(progress.some((p) => p.line.includes('RUN ["/install/ss031.sh", "/S"]'))).toBe(true);
    expect(await engine.inspectImage(demoTag)).toMatchObject({ id: image.id });
  });

  it('says which step of a build failed, with the last lines', async () => {
    const dir = await tempContext(`FROM ${BASE_IMAGE}\nRUN echo about to fail\nRUN exit 3\n`);
    const tag = freshTag('spreadserve-test/broken-engine');
    const err = await userError(engine.build({ contextDir: dir, dockerfile: 'Dockerfile', tag }));
    expect(err.kind).toBe('build-failed');
    expect(err.message).toMatch(new RegExp(`^The build of ${tag} failed at step 3/3: .*non-zero code: 3`));
    expect(err.details.join('\n')).toContain('about to fail');
    expect(err.details.length).toBeLessThanOrEqual(20);
    expect(await engine.inspectImage(tag)).toBeNull();
  });

  it('reports a missing Dockerfile or context as a readable error', async () => {
    const dir = await tempContext(`FROM ${BASE_IMAGE}\n`);
    const tag = freshTag('spreadserve-test/nofile-engine');
    const err = await userError(engine.build({ contextDir: dir, dockerfile: 'Dockerfile.nope', tag }));
    expect(err.kind).toBe('build-failed');
    expect(err.message).toMatch(
      /^The build of .* failed: Cannot locate specified Dockerfile: Dockerfile.nope/,
    );
    const missing = await userError(
      engine.build({ contextDir: path.join(dir, 'nope'), dockerfile: 'Dockerfile', tag }),
    );
    expect(missing.kind).toBe('not-found');
  });

  it('stops a build when its signal fires', async () => {
    const dir = await tempContext(`FROM ${BASE_IMAGE}\nRUN sleep 30\n`);
    const controller = new AbortController();
    const err = await userError(
      engine.build({
        contextDir: dir,
        dockerfile: 'Dockerfile',
        tag: freshTag('spreadserve-test/slow-engine'),
        noCache: true,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.step?.index === 2) setTimeout(() => controller.abort(), 200);
        },
      }),
    );
    expect(err.kind).toBe('timeout');
    expect(err.message).toBe('The build was stopped.');
  });

  describe('an instance of the demo image', () => {
    let id = '';
    const url = `http://${HOST}:${PORT.web}/`;

    beforeAll(async () => {
      if (!(await engine.inspectImage(demoTag))) {
        await engine.build({
          contextDir: DEMO_DIR,
          dockerfile: 'Dockerfile.oneshot',
          tag: demoTag,
          labels: TEST_LABEL,
        });
      }
      id = await engine.createAndStart(spec('web', { memoryBytes: 256 * 1024 ** 2, nanoCpus: 500_000_000 }));
    });

    it('serves the computed spreadsheet with SSROOT and the owner', async () => {
      const body = await waitForHttp200(url);
      expect(body).toContain('<td id="total">151</td>'); // 49 + 54 + 48, summed by the page
      expect(body).toContain('<td>36</td><td>51</td><td>64</td>');
      expect(body).toContain(`<code id="ssroot">${SSROOT}</code>`);
      expect(body).toContain('<b id="owner">U0ENGINE</b>');
      expect(body).toContain('<b id="instance">web</b>');
    });

    it('is listed by its labels in one call', async () => {
      const rows = await engine.list({ ...TEST_LABEL, 'org.spreadserve.instance': 'web' });
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(row).toMatchObject({ id, name: name('web'), image: demoTag, state: 'running' });
      expect(row.labels).toMatchObject({ ...TEST_LABEL, 'org.spreadserve.instance': 'web' });
      expect(row.status).toMatch(/^Up /);
      expect(Math.abs(Date.now() - row.createdAt)).toBeLessThan(120_000);
      expect(await engine.list({ ...TEST_LABEL, 'org.spreadserve.instance': 'nobody' })).toEqual([]);
    });

    it('is inspected, and a missing container is null', async () => {
      const details = await engine.inspect(name('web'));
      expect(details).toMatchObject({ id, name: name('web'), state: 'running', exitCode: null });
      expect(details?.env).toMatchObject({ SS_OWNER: 'U0ENGINE', SSROOT });
      expect(details?.startedAt).toBeGreaterThan(0);
      expect(await engine.inspect('sst-engine-no-such-container')).toBeNull();
    });

    it('returns its log lines', async () => {
      await waitForHttp200(url);
      const lines = await engine.logs(id, 50);
      expect(lines.some((l) => l.startsWith('dbaseweb: SpreadServe 0.3.1 on port 80'))).toBe(true);
      expect(lines.some((l) => l.startsWith('dbaseweb: GET /'))).toBe(true);
      expect(await engine.logs(id, 1)).toHaveLength(1);
      expect((await userError(engine.logs('sst-engine-no-such-container', 5))).kind).toBe('not-found');
    });

    it('samples counters, and tx grows with traffic', async () => {
      const before = await engine.stats(id);
      for (let i = 0; i < 20; i++) expect((await httpGet(url))?.status).toBe(200);
      const after = await engine.stats(id);
      expect(before.cpuNs).toBeGreaterThan(0);
      // 20 pages of ~900 bytes each left the container.
      expect(after.txBytes - before.txBytes).toBeGreaterThan(20 * 800);
      expect(after.rxBytes).toBeGreaterThan(before.rxBytes);
      expect(after.cpuNs).toBeGreaterThan(before.cpuNs);
    });

    it('refuses a second container of the same name', async () => {
      const err = await userError(engine.createAndStart(spec('web', { hostPort: PORT.held })));
      expect(err.kind).toBe('conflict');
    });

    it('refuses its host port to another container and leaves nothing behind', async () => {
      const err = await userError(engine.createAndStart(spec('web-twin')));
      expect(err.kind).toBe('port-taken');
      expect(err.message).toContain(String(PORT.web));
      expect(await engine.inspect(name('web-twin'))).toBeNull();
    });

    it('removes, and removing again is not an error', async () => {
      await engine.remove(id);
      expect(await engine.inspect(id)).toBeNull();
      await engine.remove(id);
      expect(await httpGet(url, 500)).toBeNull();
    });
  });

  it('reports a host port held by another process as port-taken, leaving no container', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(PORT.held, HOST, resolve));
    try {
      const err = await userError(engine.createAndStart(spec('held', { hostPort: PORT.held })));
      expect(err.kind).toBe('port-taken');
      expect(err.message).toBe(
        `Host port ${PORT.held} on ${HOST} is already in use by another process or container.`,
      );
      expect(await engine.list({ ...TEST_LABEL, 'org.spreadserve.instance': 'held' })).toEqual([]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reports a missing image as not-found', async () => {
    const err = await userError(
      engine.createAndStart(spec('ghost', { image: 'spreadserve-test/none:missing' })),
    );
    expect(err.kind).toBe('not-found');
    expect(err.message).toBe('The image spreadserve-test/none:missing does not exist on the Docker host.');
    expect(await engine.inspectImage('spreadserve-test/none:missing')).toBeNull();
    await engine.removeImage('spreadserve-test/none:missing');
  });

  describe('the two-step build of the tech note', () => {
    beforeAll(async () => {
      await engine.build({
        contextDir: DEMO_DIR,
        dockerfile: 'Dockerfile',
        tag: stepOneTag,
        labels: TEST_LABEL,
      });
    });

    it('runs the installer silently, commits with the launch settings, and the image serves', async () => {
      const buildLabels = { ...TEST_LABEL, 'org.spreadserve.build': 'demo' };
      const run = await engine.runToCompletion({
        name: name('install'),
        image: stepOneTag,
        command: ['/install/ss031.sh', '/S'],
        labels: buildLabels,
      });
      expect(run.exitCode).toBe(0);
      expect(await engine.logs(run.containerId, 5)).toContain(
        `ss031: installed SpreadServe 0.3.1 (launch: ${SSROOT}/sh/dbaseweb.sh)`,
      );

      const image = await engine.commit({
        containerId: run.containerId,
        tag: committedTag,
        command: LAUNCH,
        env: DEMO_ENV,
        exposedPort: 80,
        labels: TEST_LABEL,
      });
      await engine.remove(run.containerId);
      expect(image.cmd).toEqual(LAUNCH);
      expect(image.env).toEqual(expect.arrayContaining([`SSROOT=${SSROOT}`, `SSROOTX=${SSROOT}/x`]));
      expect(image.exposedPorts).toEqual(['80/tcp']);
      // The one-off container's build label would pass on to every instance: it is blanked.
      expect(image.labels).toMatchObject({
        ...TEST_LABEL,
        'org.spreadserve.build': '',
        Vendor: 'SpreadServe',
      });
      expect(await engine.inspectImage(committedTag)).toMatchObject({ id: image.id, cmd: LAUNCH });

      await engine.createAndStart(spec('committed', { image: committedTag, hostPort: PORT.committed }));
      const body = await waitForHttp200(`http://${HOST}:${PORT.committed}/`);
      expect(body).toContain(`<code id="ssroot">${SSROOT}</code>`);
      expect(body).toContain('<td id="total">151</td>');
      await engine.remove(name('committed'));
    });

    it('returns a failing installer exit code and keeps its container for the logs', async () => {
      const run = await engine.runToCompletion({
        name: name('install-fail'),
        image: stepOneTag,
        command: ['/install/ss031.sh', '/S'],
        labels: TEST_LABEL,
        env: { SS_FAIL_INSTALL: '23' },
      });
      expect(run.exitCode).toBe(23);
      expect(await engine.inspect(run.containerId)).toMatchObject({ state: 'exited', exitCode: 23 });
      expect(await engine.logs(run.containerId, 20)).toContain(
        'ss031: error: install aborted (SS_FAIL_INSTALL=23)',
      );
      await engine.remove(run.containerId);
    });

    it('gives the note exit code 1223 (seen as 1223 & 255 = 199) without /S', async () => {
      const run = await engine.runToCompletion({
        name: name('install-usage'),
        image: stepOneTag,
        command: ['/install/ss031.sh'],
        labels: TEST_LABEL,
      });
      expect(run.exitCode).toBe(1223 & 255);
      await engine.remove(run.containerId);
    });

    it('removes the one-off container when its signal fires', async () => {
      const err = await userError(
        engine.runToCompletion({
          name: name('install-slow'),
          image: stepOneTag,
          command: ['sleep', '30'],
          labels: TEST_LABEL,
          signal: AbortSignal.timeout(500),
        }),
      );
      expect(err.kind).toBe('timeout');
      expect(await engine.inspect(name('install-slow'))).toBeNull();
    });
  });
});
