// How DockerEngine confines an instance, against the real engine: for each setting, `docker
// inspect` shows it, and a behaviour test proves it bites. Ports 24950-24959 belong to this file;
// everything it creates (containers and the scope's network) carries its scope label and is
// removed before and after.
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL, managedFilter } from '../../core/labels.ts';
import { networkName } from '../../core/launch.ts';
import { DockerEngine } from '../../engine/docker.ts';
import { DEFAULT_PIDS_LIMIT, LOG_LIMITS } from '../../engine/docker-hardening.ts';
import type { ContainerSpec } from '../../engine/types.ts';
import {
  BASE_IMAGE,
  dockerSync,
  httpGet,
  removeByLabel,
  requireDocker,
  waitForHttp200,
} from '../support/docker.ts';

const SCOPE = `sst-hardening-${process.pid}`;
const NETWORK = { name: networkName(SCOPE), labels: managedFilter(SCOPE) };
const PORT = { a: 24950, b: 24951, bomb: 24952, flood: 24953, ro: 24954, user: 24955 } as const;
const HOST = '127.0.0.1';
const MIB = 1024 ** 2;

const run = promisify(execFile);
const engine = new DockerEngine({ dockerHost: process.env.DOCKER_HOST });

/** A busybox web server answering "ok <what>" on port 80 inside (a privileged port). */
const SERVE = (what: string) => [
  'sh',
  '-c',
  `mkdir -p /tmp/www && echo "ok ${what}" > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www`,
];

function spec(what: keyof typeof PORT, overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: `sst-hardening-${what}-${process.pid}`,
    image: BASE_IMAGE,
    labels: { ...managedFilter(SCOPE), [LABEL.instance]: what },
    env: {},
    command: SERVE(what),
    containerPort: 80,
    hostPort: PORT[what],
    bindIp: HOST,
    memoryBytes: 64 * MIB,
    nanoCpus: 500_000_000,
    network: NETWORK,
    ...overrides,
  };
}

/** `docker exec` of a shell line: its exit code and output, never throwing; bounded to 60 s. */
async function exec(id: string, line: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('docker', ['exec', id, 'sh', '-c', line], { timeout: 60_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/** The parts of `docker inspect` this file reads. */
interface Inspected {
  LogPath: string;
  Config: { User: string };
  HostConfig: Record<string, unknown> & { Tmpfs?: Record<string, string> };
  NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
}

const inspect = (id: string): Inspected => JSON.parse(dockerSync('inspect', id))[0];

const cleanUp = () => removeByLabel({ [LABEL.scope]: SCOPE });

beforeAll(async () => {
  await requireDocker();
  await cleanUp();
}, 60_000);

afterAll(async () => {
  await cleanUp();
  expect(dockerSync('network', 'ls', '-q', '--filter', `name=^${NETWORK.name}$`)).toBe('');
}, 60_000);

describe('a hardened instance', () => {
  let a: string;
  let b: string;

  beforeAll(async () => {
    a = await engine.createAndStart(spec('a'));
    b = await engine.createAndStart(spec('b'));
    await waitForHttp200(`http://${HOST}:${PORT.a}/`);
    await waitForHttp200(`http://${HOST}:${PORT.b}/`);
  }, 60_000);

  it('is on an engine that says it runs Linux, so it gets the Linux body', async () => {
    // The platform is learned from GET /info; engine/docker-platform.ts picks the body by it.
    const platform = await engine.platform();
    expect(platform.os).toBe('linux');
    expect(platform.engineVersion).toMatch(/^\d+\.\d+/);
    expect(platform.kernelVersion).not.toBe('');
  });

  it('shows every setting in docker inspect', () => {
    const host = inspect(a).HostConfig;
    expect(host.CapDrop).toEqual(['ALL']);
    expect(host.CapAdd).toEqual(['NET_BIND_SERVICE']);
    expect(host.PidsLimit).toBe(DEFAULT_PIDS_LIMIT);
    expect(host.LogConfig).toEqual({
      Type: 'json-file',
      Config: { 'max-size': LOG_LIMITS.maxSize, 'max-file': LOG_LIMITS.maxFile },
    });
    expect(host.Memory).toBe(64 * MIB);
    expect(host.MemorySwap).toBe(64 * MIB);
    expect(host.NanoCpus).toBe(500_000_000);
    expect(host.SecurityOpt).toEqual(['no-new-privileges']);
    expect(host.Init).toBe(true);
    expect(host.NetworkMode).toBe(NETWORK.name);
    expect(host.ReadonlyRootfs).toBe(false);
    expect(host.PortBindings).toEqual({ '80/tcp': [{ HostIp: HOST, HostPort: String(PORT.a) }] });
  });

  it('binds port 80 inside with NET_BIND_SERVICE alone, published as before', async () => {
    expect((await httpGet(`http://${HOST}:${PORT.a}/`))?.body.trim()).toBe('ok a');
  });

  it("runs on the scope's own bridge network: labelled, inter-container traffic off", () => {
    const network = JSON.parse(dockerSync('network', 'inspect', NETWORK.name))[0];
    expect(network.Driver).toBe('bridge');
    expect(network.Labels).toEqual(NETWORK.labels);
    expect(network.Options['com.docker.network.bridge.enable_icc']).toBe('false');
    expect(Object.keys(network.Containers).sort()).toEqual([a, b].sort());
  });

  it('keeps eth0, so stats still count what it sends', async () => {
    expect((await exec(a, 'ls /sys/class/net')).out.split(/\s+/).filter(Boolean).sort()).toEqual([
      'eth0',
      'lo',
    ]);
    const sample = await engine.stats(a);
    expect(sample.txBytes).toBeGreaterThan(0);
  });

  it('cannot reach another instance by its container address', async () => {
    const ipOfA = inspect(a).NetworkSettings.Networks[NETWORK.name]?.IPAddress ?? '';
    expect(ipOfA).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // The host reaches it (the control), the other instance does not.
    expect((await httpGet(`http://${ipOfA}/`))?.body.trim()).toBe('ok a');
    const fromB = await exec(b, `wget -q -T 2 -O - http://${ipOfA}/`);
    expect(fromB.code).not.toBe(0);
    expect(fromB.out).not.toContain('ok a');
  });

  it('cannot open a raw socket (no NET_RAW): ping and arping fail', async () => {
    const ping = await exec(a, 'ping -c 1 -W 1 127.0.0.1');
    expect(ping.code).not.toBe(0);
    expect(ping.out).toMatch(/permission denied/i);
    const arping = await exec(a, 'arping -c 1 -w 1 -I eth0 127.0.0.1');
    expect(arping.code).not.toBe(0);
    expect(arping.out).toMatch(/not permitted/i);
  });

  it('cannot change file ownership (no CHOWN)', async () => {
    const chown = await exec(a, 'touch /tmp/f && chown 1234 /tmp/f');
    expect(chown.code).not.toBe(0);
  });
});

describe('the pids limit', () => {
  it('stops a fork bomb at the limit', async () => {
    const id = await engine.createAndStart(spec('bomb', { pidsLimit: 64 }));
    expect(inspect(id).HostConfig.PidsLimit).toBe(64);
    // Bounded: at most 200 background sleeps; the shell gives up at the first failed fork.
    const bomb = await exec(
      id,
      'i=0; while [ $i -lt 200 ]; do sleep 300 & i=$((i+1)); done; echo spawned $i',
    );
    expect(bomb.out).toMatch(/can't fork/);
    expect(bomb.out).not.toContain('spawned 200');
    const processes = dockerSync('top', id, '-eo', 'pid').split('\n').slice(1).filter(Boolean);
    expect(processes.length).toBeLessThanOrEqual(64);
    await engine.remove(id);
  }, 60_000);
});

describe('the log limit', () => {
  it('keeps a 40 MB flood within max-file x max-size', async () => {
    const id = await engine.createAndStart(
      spec('flood', {
        // ~40 MiB of 1000-byte lines, then serve (bounded by head).
        command: ['sh', '-c', 'yes "$(printf %0999d 0)" | head -c 41943040; exec sleep 300'],
      }),
    );
    const logPath = inspect(id).LogPath;
    const dir = path.dirname(logPath);
    const logSize = () =>
      readdirSync(dir)
        .filter((f) => f.startsWith(path.basename(logPath)))
        .reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
    // Wait (bounded) until the flood is through: `yes` and `head` have exited (a pause in the
    // log's growth alone says nothing on a loaded machine), then the log stops growing.
    for (let i = 0; i < 120; i++) {
      if ((await exec(id, 'pidof yes head || echo through')).out.includes('through')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    let last = -1;
    for (let i = 0; i < 40; i++) {
      const size = logSize();
      if (size === last && size > 0) break;
      last = size;
      await new Promise((r) => setTimeout(r, 500));
    }
    const files = readdirSync(dir).filter((f) => f.startsWith(path.basename(logPath)));
    expect(files.length).toBeGreaterThan(1); // it rotated
    expect(files.length).toBeLessThanOrEqual(Number(LOG_LIMITS.maxFile));
    expect(logSize()).toBeLessThanOrEqual(Number(LOG_LIMITS.maxFile) * 10 * MIB + MIB);
    await engine.remove(id);
  }, 90_000);
});

describe('per-template options', () => {
  it('runs read-only with a writable tmpfs on /tmp', async () => {
    const id = await engine.createAndStart(spec('ro', { readOnly: true }));
    await waitForHttp200(`http://${HOST}:${PORT.ro}/`);
    const host = inspect(id).HostConfig;
    expect(host.ReadonlyRootfs).toBe(true);
    expect(Object.keys(host.Tmpfs ?? {})).toEqual(['/tmp']);
    expect((await exec(id, 'touch /root-file')).code).not.toBe(0);
    expect((await exec(id, 'touch /tmp/ok && echo written')).out).toContain('written');
    await engine.remove(id);
  }, 60_000);

  it('runs as the given user', async () => {
    const id = await engine.createAndStart(spec('user', { user: '1000:1000', command: ['sleep', '300'] }));
    expect(inspect(id).Config.User).toBe('1000:1000');
    expect((await exec(id, 'id -u; id -g')).out.split(/\s+/).filter(Boolean)).toEqual(['1000', '1000']);
    await engine.remove(id);
  }, 60_000);
});

describe('the network', () => {
  it('is created again when it was removed behind the engine', async () => {
    await cleanUp(); // every container of the scope, then its network
    expect(dockerSync('network', 'ls', '-q', '--filter', `name=^${NETWORK.name}$`)).toBe('');
    const id = await engine.createAndStart(spec('a'));
    expect(inspect(id).HostConfig.NetworkMode).toBe(NETWORK.name);
    await waitForHttp200(`http://${HOST}:${PORT.a}/`);
    await engine.remove(id);
  }, 60_000);
});
