// The platform switch at the Engine API boundary. No Windows engine can run here, so the real
// core and the real DockerEngine (dockerode) talk HTTP to a stand-in that answers as a Windows
// Server 2022 engine does (test/support/windows-engine.ts), and a real HTTP server on the
// published host port plays the Windows container's web server, so the core's health probe
// succeeds. Also the create body of each platform side by side, from engine/docker-platform.ts.
// Fast tier: no Docker. Ports 25040-25059 belong to this file.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../core/context.ts';
import { loadTemplates, type TemplateSet } from '../../core/templates.ts';
import { DockerEngine } from '../../engine/docker.ts';
import { platformOf } from '../../engine/docker-data.ts';
import { DEFAULT_PIDS_LIMIT, INSTANCE_CAPS, READ_ONLY_TMPFS } from '../../engine/docker-hardening.ts';
import { instanceCreateBody, joinsOwnNetwork, oneOffCreateBody } from '../../engine/docker-platform.ts';
import type { ContainerSpec } from '../../engine/types.ts';
import { UserError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { admin, alice, testConfig } from '../support/services.ts';
import { WINDOWS_INFO, WindowsEngineStandIn } from '../support/windows-engine.ts';

const PORT = { standIn: 25040, flaky: 25050 } as const;
const POOL = '25041-25045';
const SCOPE = `sst-windows-${process.pid}`;
const REAL_FILE = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'spreadserve.templates.yml');
const WINDOWS_TEMPLATE = 'spreadserve-windows';
const GIB = 1024 ** 3;

let templates: TemplateSet;
let standIn: WindowsEngineStandIn;
let dockerHost: string;
/** The "container" web servers, one per started container, on its published host port. */
const webServers: http.Server[] = [];
let served = 0;

/** Plays the started container's web server on the host port its create body publishes. */
async function serveLikeTheContainer(body: Record<string, unknown>): Promise<void> {
  const bindings = (
    body.HostConfig as { PortBindings: Record<string, { HostIp: string; HostPort: string }[]> }
  ).PortBindings;
  const binding = Object.values(bindings)[0]?.[0];
  if (!binding) throw new Error('the create body published no port');
  const server = http.createServer((_req, res) => {
    served++;
    res.end('SpreadServe 0.3.1 (played by the test)');
  });
  await new Promise<void>((resolve) => server.listen(Number(binding.HostPort), binding.HostIp, resolve));
  webServers.push(server);
}

beforeAll(async () => {
  templates = await loadTemplates(REAL_FILE);
  const images = [...templates.values()].map((t) => t.image);
  standIn = new WindowsEngineStandIn({ images, onStart: serveLikeTheContainer });
  dockerHost = await standIn.start(PORT.standIn);
});

afterAll(async () => {
  await standIn?.stop();
});

const beds: { services: Services; dir: string }[] = [];

/** The real core on the stand-in: a fresh DockerEngine (nothing learned yet) and a temp store. */
async function coreOnWindows(): Promise<Services> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sst-windows-'));
  const config = testConfig({ scope: SCOPE, ports: POOL, env: { DOCKER_HOST: dockerHost } }, dir);
  const services = await createServices(config, {
    engine: new DockerEngine({ dockerHost }),
    log: silentLogger(),
    templates,
  });
  beds.push({ services, dir });
  return services;
}

afterEach(async () => {
  for (const { services, dir } of beds.splice(0)) {
    await services.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const server of webServers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  standIn.reset();
  served = 0;
});

describe('a Windows engine, through the real core', () => {
  it('launches the Windows template with only what Windows takes in its create body', async () => {
    // given the real core on a Windows engine, and the real templates file's Windows template
    const services = await coreOnWindows();
    const template = templates.get(WINDOWS_TEMPLATE);
    expect(template?.platform).toBe('windows');

    // when alice launches it
    const record = await services.instances.launch({
      actor: alice,
      template: WINDOWS_TEMPLATE,
      name: 'win-one',
    });

    // then it runs on the pool's first port, and its health path was asked there
    expect(record.state).toBe('running');
    expect(record.port).toBe(25041);
    expect(served).toBeGreaterThan(0);
    // and exactly one create was sent, with no network of the bot's own created
    const bodies = standIn.createBodies();
    expect(bodies).toHaveLength(1);
    expect(standIn.calls.some((c) => c.path.startsWith('/networks'))).toBe(false);
    const body = bodies[0] as Record<string, unknown> & { HostConfig: Record<string, unknown> };
    // the HostConfig holds the port, the log rotation, memory, CPUs and isolation: nothing else
    expect(Object.keys(body.HostConfig).sort()).toEqual([
      'Isolation',
      'LogConfig',
      'Memory',
      'NanoCpus',
      'PortBindings',
    ]);
    for (const linuxOnly of [
      'Init',
      'SecurityOpt',
      'CapDrop',
      'CapAdd',
      'PidsLimit',
      'MemorySwap',
      'ReadonlyRootfs',
      'Tmpfs',
      'NetworkMode',
    ]) {
      expect(body.HostConfig, linuxOnly).not.toHaveProperty(linuxOnly);
    }
    expect(body.HostConfig).toMatchObject({
      Isolation: 'process',
      Memory: 2 * GIB,
      NanoCpus: 1_000_000_000,
      PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(record.port) }] },
    });
    // and the note's launch: port 80 inside, dbaseweb.cmd, SSROOT and SSROOTX, the owner and name
    expect(body.ExposedPorts).toEqual({ '80/tcp': {} });
    expect(body.Cmd).toEqual(['c:\\spreadserve\\ss0.3.1\\sh\\dbaseweb.cmd']);
    expect(body.Image).toBe('spreadserve/windows:0.3.1');
    expect(body.Env).toEqual(
      expect.arrayContaining([
        'SSROOT=c:\\spreadserve\\ss0.3.1',
        'SSROOTX=c:\\spreadserve\\ss0.3.1\\x',
        `SS_OWNER=${alice.id}`,
        'SS_INSTANCE=win-one',
      ]),
    );
    expect(body).not.toHaveProperty('User');
  });

  it('asks the engine its platform once, however many containers it creates', async () => {
    // given the real core on a Windows engine
    const services = await coreOnWindows();

    // when two instances are launched
    await services.instances.launch({ actor: alice, template: WINDOWS_TEMPLATE, name: 'win-a' });
    await services.instances.launch({ actor: alice, template: WINDOWS_TEMPLATE, name: 'win-b' });

    // then both were created, and GET /info was asked once
    expect(standIn.createBodies()).toHaveLength(2);
    expect(standIn.calls.filter((c) => c.path === '/info')).toHaveLength(1);
  });

  it('refuses the Linux demo template before anything is reserved or created', async () => {
    // given the real core on a Windows engine, and what the store holds before
    const services = await coreOnWindows();
    const before = services.store.read();
    const portsBefore = JSON.stringify(before.ports);

    // when alice launches the Linux demo template, by name and as the default
    const sentence = `Template demo needs a Linux Docker host; this engine (${dockerHost}) runs Windows.`;
    for (const template of ['demo', undefined]) {
      const launch = services.instances.launch({ actor: alice, template, name: 'linux-one' });
      // then one sentence says why, as a usage error
      await expect(launch).rejects.toThrow(new UserError('usage', sentence));
    }

    // and the engine was asked its platform only: no image inspect, no create
    expect(standIn.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /info']);
    // and the store holds no instance and no reserved port
    const after = services.store.read();
    expect(Object.keys(after.instances)).toEqual([]);
    expect(JSON.stringify(after.ports)).toBe(portsBefore);
  });

  it('refuses to build the Linux demo template there, before any build call', async () => {
    // given the real core on a Windows engine
    const services = await coreOnWindows();

    // when an admin builds demo, then one sentence says why
    await expect(services.builds.build({ actor: admin, template: 'demo' })).rejects.toThrow(
      `Template demo needs a Linux Docker host; this engine (${dockerHost}) runs Windows.`,
    );
    // and nothing but the platform was asked
    expect(standIn.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /info']);
    expect(services.store.read().builds).toEqual([]);
  });
});

describe('the platform lookup', () => {
  it('reads GET /info, and asks again after a failed lookup', async () => {
    // given an engine whose host does not answer yet
    const flaky = new WindowsEngineStandIn();
    const engine = new DockerEngine({ dockerHost: `tcp://127.0.0.1:${PORT.flaky}` });
    try {
      // when asked, then it fails as unreachable, and nothing is learned
      await expect(engine.platform()).rejects.toMatchObject({ kind: 'engine-unreachable' });

      // when the host answers, then the next call asks it and reads the platform
      await flaky.start(PORT.flaky);
      expect(await engine.platform()).toEqual({
        os: 'windows',
        osVersion: WINDOWS_INFO.OperatingSystem,
        kernelVersion: WINDOWS_INFO.KernelVersion,
        engineVersion: '24.0.7',
        host: `tcp://127.0.0.1:${PORT.flaky}`,
      });
      // and a second call is answered from what was learned
      await engine.platform();
      expect(flaky.calls.filter((c) => c.path === '/info')).toHaveLength(1);
    } finally {
      await flaky.stop().catch(() => undefined);
    }
  });

  it('reads a Linux engine as linux, whatever else its answer holds', () => {
    const info = {
      OSType: 'linux',
      OperatingSystem: 'Debian GNU/Linux 12 (bookworm)',
      KernelVersion: '6.1.0-18-amd64',
      ServerVersion: '20.10.24',
    };
    expect(platformOf(info, 'unix:///var/run/docker.sock')).toEqual({
      os: 'linux',
      osVersion: 'Debian GNU/Linux 12 (bookworm)',
      kernelVersion: '6.1.0-18-amd64',
      engineVersion: '20.10.24',
      host: 'unix:///var/run/docker.sock',
    });
  });
});

describe('the create body of each platform, side by side (engine/docker-platform.ts)', () => {
  // One instance spec with every option set, as the core would send for a Linux template.
  const spec: ContainerSpec = {
    name: 'spreadserve-alice-demo',
    image: 'spreadserve/demo:0.3.1',
    labels: { 'spreadserve.scope': 'prod' },
    env: { SSROOT: '/spreadserve/ss0.3.1' },
    command: ['/spreadserve/ss0.3.1/sh/dbaseweb.sh'],
    containerPort: 80,
    hostPort: 9001,
    bindIp: '127.0.0.1',
    memoryBytes: 256 * 1024 ** 2,
    nanoCpus: 500_000_000,
    pidsLimit: 128,
    readOnly: true,
    user: '1000:1000',
    network: { name: 'spreadserve-prod', labels: { 'spreadserve.scope': 'prod' } },
    isolation: 'process',
  };
  const common = {
    name: 'spreadserve-alice-demo',
    Image: 'spreadserve/demo:0.3.1',
    Labels: { 'spreadserve.scope': 'prod' },
    Env: ['SSROOT=/spreadserve/ss0.3.1'],
    Cmd: ['/spreadserve/ss0.3.1/sh/dbaseweb.sh'],
    User: '1000:1000',
    ExposedPorts: { '80/tcp': {} },
  };
  const ports = { PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '9001' }] } };
  const log = { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } };

  it('gives Linux every hardening field and the bot-owned network', () => {
    expect(instanceCreateBody(spec, 'linux')).toEqual({
      ...common,
      HostConfig: {
        ...ports,
        Init: true,
        SecurityOpt: ['no-new-privileges'],
        CapDrop: ['ALL'],
        CapAdd: [...INSTANCE_CAPS],
        PidsLimit: 128,
        LogConfig: log,
        Memory: 256 * 1024 ** 2,
        MemorySwap: 256 * 1024 ** 2,
        NanoCpus: 500_000_000,
        ReadonlyRootfs: true,
        Tmpfs: { ...READ_ONLY_TMPFS },
        NetworkMode: 'spreadserve-prod',
      },
    });
    expect(joinsOwnNetwork(spec, 'linux')).toBe(true);
    // and a spec without a pids limit gets the default
    expect(instanceCreateBody({ ...spec, pidsLimit: undefined }, 'linux').HostConfig.PidsLimit).toBe(
      DEFAULT_PIDS_LIMIT,
    );
  });

  it('gives Windows memory, CPUs and isolation, and no network of its own', () => {
    expect(instanceCreateBody(spec, 'windows')).toEqual({
      ...common,
      HostConfig: {
        ...ports,
        LogConfig: log,
        Memory: 256 * 1024 ** 2,
        NanoCpus: 500_000_000,
        Isolation: 'process',
      },
    });
    expect(joinsOwnNetwork(spec, 'windows')).toBe(false);
  });

  it("gives a commit build's install run the same per-platform choice", () => {
    const request = {
      name: 'spreadserve-build-x',
      image: 'x:step-one',
      command: ['setup.exe', '/S'],
      labels: {},
      isolation: 'hyperv' as const,
    };
    const base = {
      name: 'spreadserve-build-x',
      Image: 'x:step-one',
      Cmd: ['setup.exe', '/S'],
      Labels: {},
      Env: [],
    };
    expect(oneOffCreateBody(request, 'linux')).toEqual({
      ...base,
      HostConfig: { SecurityOpt: ['no-new-privileges'], Init: true },
    });
    expect(oneOffCreateBody(request, 'windows')).toEqual({ ...base, HostConfig: { Isolation: 'hyperv' } });
  });
});
