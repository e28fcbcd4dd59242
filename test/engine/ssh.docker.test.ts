// The bot driving a remote engine over SSH, for real: a real sshd on 127.0.0.1 (with keys and a
// known_hosts this file makes, test/support/ssh-server.ts) whose `docker system dial-stdio`
// reaches this machine's engine, and the core services configured with
// DOCKER_HOST=ssh://root@127.0.0.1:<port>, SPREADSERVE_SSH_KEY and SPREADSERVE_SSH_KNOWN_HOSTS.
// Then the refusals: an unknown host key, a changed one, a key the host does not accept, a host
// without docker; each one sentence, nothing created. Ports 25020-25039 belong to this file:
// 25020 the sshd, 25021 the sshd without docker, 25022 a silent host, 25025-25029 the refused pools, 25030-25039 the
// instances. Needs root and openssh-server (`bash scripts/test-tools.sh`).
import { rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, dockerConnection, type Services } from '../../core/context.ts';
import { LABEL } from '../../core/labels.ts';
import { DockerEngine } from '../../engine/docker.ts';
import { SSH_READY_TIMEOUT_MS, sshModemOptions } from '../../engine/docker-ssh.ts';
import { UserError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { httpGet, removeByLabel, scopeContainers, waitForHttp200 } from '../support/docker.ts';
import {
  alice,
  buildImage,
  leftovers,
  realTemplates,
  type TestBed,
  tempDir,
  testBed,
  testConfig,
} from '../support/services.ts';
import { type SshServer, startSshServer } from '../support/ssh-server.ts';

const SCOPE = 'test-ssh';
const REFUSED_SCOPE = 'test-ssh-refused';
const SSH_PORT = 25020;
const NO_DOCKER_SSH_PORT = 25021;
const SILENT_PORT = 25022;
const REFUSED_PORTS = '25025-25029';
const FIRST = 25030;
const PINGS = 20;
/** The measurement's time budget per transport (a loaded CI machine makes SSH calls slow). */
const PING_BUDGET_MS = 45_000;
const templates = realTemplates(SCOPE);

let server: SshServer;
let noDockerServer: SshServer;
let bed: TestBed;
/** Services of refused configurations, stopped at the end. */
const refusedServices: Services[] = [];
const tempDirs: string[] = [];
const newTempDir = () => {
  const dir = tempDir();
  tempDirs.push(dir);
  return dir;
};

const sshEnv = (port: number, keyFile: string, knownHostsFile: string): Record<string, string> => ({
  DOCKER_HOST: `ssh://root@127.0.0.1:${port}`,
  SPREADSERVE_SSH_KEY: keyFile,
  SPREADSERVE_SSH_KNOWN_HOSTS: knownHostsFile,
});

/** Core services of the refused scope reaching the engine with these SSH settings. */
async function servicesWith(env: Record<string, string>): Promise<Services> {
  const config = testConfig({ scope: REFUSED_SCOPE, ports: REFUSED_PORTS, env }, newTempDir());
  const services = await createServices(config, {
    engine: new DockerEngine(dockerConnection(config)),
    log: silentLogger(),
    templates,
  });
  refusedServices.push(services);
  return services;
}

/** A launch through `services`, which must be refused; its UserError. */
async function refusedLaunch(services: Services, name: string): Promise<UserError> {
  const err = await services.instances.launch({ actor: alice, template: 'demo', name }).then(
    () => new Error('expected the launch to be refused'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  expect((err as UserError).kind).toBe('engine-unreachable');
  return err as UserError;
}

/** Milliseconds of up to `count` pings, one after the other, within `budgetMs` in all. */
async function timePings(engine: DockerEngine, count: number, budgetMs: number): Promise<number[]> {
  const times: number[] = [];
  const deadline = Date.now() + budgetMs;
  for (let i = 0; i < count && Date.now() < deadline; i++) {
    const t0 = performance.now();
    await engine.ping();
    times.push(performance.now() - t0);
  }
  return times;
}

/** GET /_ping through `agent`: the engine's answer. */
function agentPing(agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port: SSH_PORT, path: '/_ping', agent, timeout: 10_000 });
    request.on('timeout', () => request.destroy(new Error('no answer to /_ping within 10 s')));
    request.on('error', reject).on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve(body)).on('error', reject);
    });
  });
}

/** sshd logs a login a moment after it accepted it: waits up to 2 s for `condition`. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

beforeAll(async () => {
  await removeByLabel({ [LABEL.scope]: REFUSED_SCOPE }); // an interrupted earlier run may have left some
  server = await startSshServer(SSH_PORT);
  noDockerServer = await startSshServer(NO_DOCKER_SSH_PORT, {
    forceCommand: "echo 'sh: docker: not found' >&2; exit 127",
  });
  bed = await testBed({
    scope: SCOPE,
    ports: `${FIRST}-${FIRST + 9}`,
    templates,
    env: sshEnv(SSH_PORT, server.clientKey, server.knownHosts),
  });
  // The build context goes over the same SSH connection as every other call.
  await buildImage(bed.services, 'demo');
}, 180_000);

afterAll(async () => {
  for (const services of refusedServices) await services.stop();
  await removeByLabel({ [LABEL.scope]: REFUSED_SCOPE });
  await bed?.cleanup();
  await server?.stop();
  await noDockerServer?.stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('an engine over ssh://', () => {
  it('launches, lists, reads the logs of and stops an instance through sshd', async () => {
    // given core services whose DOCKER_HOST is the sshd (the image was built through it)
    // when alice launches the demo (its time reported, not asserted)
    const t0 = performance.now();
    const record = await bed.services.instances.launch({ actor: alice, template: 'demo', name: 'remote' });
    console.info(`one launch over SSH: ${(performance.now() - t0).toFixed(0)} ms`);

    // then it runs on the first pool port and its URL answers with its page
    expect(record.port).toBe(FIRST);
    const body = await waitForHttp200(`http://127.0.0.1:${record.port}/`);
    expect(body).toContain('UALICE');
    // and list sees it running, its logs show its launch line
    const listed = await bed.services.instances.observe();
    expect(listed.map((o) => [o.record.name, o.state])).toEqual([['remote', 'running']]);
    const logs = await bed.services.instances.logs(alice, 'remote', 20);
    expect(logs.join('\n')).toContain('dbaseweb: SpreadServe 0.3.1 on port 80');

    // when she stops it, the container is gone and the port answers no more
    await bed.services.instances.stop(alice, 'remote');
    expect(scopeContainers(SCOPE, { instance: 'remote' })).toHaveLength(0);
    expect(await httpGet(`http://127.0.0.1:${FIRST}/`, 500)).toBeNull();
  }, 120_000);

  it('measures one call over SSH against the local socket', async () => {
    // given the same engine reached both ways
    const overSsh = new DockerEngine(dockerConnection(bed.config));
    const local = new DockerEngine({});
    // when each pings it PINGS times (over SSH: one login, its dial-stdio channels kept alive)
    const sshTimes = await timePings(overSsh, PINGS, PING_BUDGET_MS);
    const localTimes = await timePings(local, PINGS, PING_BUDGET_MS);
    // then pings answered both ways; the cost is reported, not asserted
    expect(sshTimes.length).toBeGreaterThan(0);
    expect(localTimes.length).toBeGreaterThan(0);
    const summary = (times: number[]) =>
      `median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms over ${times.length} pings`;
    console.info(`one engine call: over SSH ${summary(sshTimes)}; local socket ${summary(localTimes)}`);
  }, 120_000);
});

describe('one SSH login per engine', () => {
  it('logs in once for many calls, however many there are', async () => {
    // given a new engine over SSH (nothing connected yet) and sshd's count of logins so far
    const engine = new DockerEngine(dockerConnection(bed.config));
    const before = server.logins();
    // when it pings PINGS times, one after the other, and then lists containers
    const times = await timePings(engine, PINGS, PING_BUDGET_MS);
    expect(times).toHaveLength(PINGS);
    await engine.list({ [LABEL.scope]: SCOPE });
    // then sshd accepted one login for all of them (docker-modem's own transport logs in per call)
    await waitFor(() => server.logins() > before);
    expect(server.logins() - before).toBe(1);
  }, 120_000);

  it('keeps the connection usable after a request is aborted halfway through its answer', async () => {
    // given the agent of an ssh:// engine, and an endless answer (the engine's event stream)
    const agent = sshModemOptions(
      {
        kind: 'ssh',
        display: `ssh://root@127.0.0.1:${SSH_PORT}`,
        host: '127.0.0.1',
        port: SSH_PORT,
        username: 'root',
      },
      { keyFile: server.clientKey, knownHostsFile: server.knownHosts },
    ).agent;
    const before = server.logins();
    const aborted = new AbortController();
    const events = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const request = http.get({
        host: '127.0.0.1',
        port: SSH_PORT,
        path: '/events',
        agent,
        signal: aborted.signal,
      });
      request.on('response', resolve).on('error', reject);
    });
    expect(events.statusCode).toBe(200);
    // when the request is aborted while its answer streams (as the engine's per-call deadline does)
    const ended = new Promise<void>((resolve) => events.once('close', () => resolve()));
    aborted.abort();
    await ended;
    // then the next requests through the same agent are answered, over the same login
    for (let i = 0; i < 5; i++) expect(await agentPing(agent)).toBe('OK');
    await waitFor(() => server.logins() > before);
    expect(server.logins() - before).toBe(1);
    agent.destroy();
  }, 60_000);
});

describe('refusals over ssh://', () => {
  it('refuses a host whose key is not in known_hosts, naming the fix, and creates nothing', async () => {
    // given a known_hosts that lists another host only
    const knownHosts = server.writeKnownHosts('known_hosts_other', [
      `[127.0.0.1]:2222 ${server.hostPublicKey}`,
    ]);
    const services = await servicesWith(sshEnv(SSH_PORT, server.clientKey, knownHosts));

    // when alice launches, then one sentence names the host and the ssh-keyscan line
    const err = await refusedLaunch(services, 'unknown-host');
    expect(err.message).toContain(`ssh://root@127.0.0.1:${SSH_PORT}`);
    expect(err.message).toContain('is not in');
    expect(err.message).toContain(`ssh-keyscan -p ${SSH_PORT} 127.0.0.1 >> ${knownHosts}`);
    // and nothing was reserved or created
    expect(leftovers(services, REFUSED_SCOPE)).toEqual({ instances: [], ports: '{}', containers: 0 });
  });

  it('refuses a host whose key changed, warning of a man-in-the-middle', async () => {
    // given a known_hosts with a different key for [127.0.0.1]:port
    const knownHosts = server.writeKnownHosts('known_hosts_changed', [
      `[127.0.0.1]:${SSH_PORT} ${server.otherHostPublicKey}`,
    ]);
    const services = await servicesWith(sshEnv(SSH_PORT, server.clientKey, knownHosts));

    // when alice launches, then the sentence says MISMATCH loudly
    const err = await refusedLaunch(services, 'changed-host');
    expect(err.message).toMatch(
      /^WARNING: the SSH host key of ssh:\/\/root@127\.0\.0\.1:25020 does NOT match/,
    );
    expect(err.message).toContain('possible man-in-the-middle attack');
    expect(leftovers(services, REFUSED_SCOPE)).toEqual({ instances: [], ports: '{}', containers: 0 });
  });

  it('says the login was refused when the host does not accept the key', async () => {
    // given a key that is not in the host's authorized_keys
    const services = await servicesWith(sshEnv(SSH_PORT, server.strangerKey, server.knownHosts));

    // when alice launches, then the sentence names the host and authorized_keys
    const err = await refusedLaunch(services, 'stranger');
    expect(err.message).toContain(`The SSH login to ssh://root@127.0.0.1:${SSH_PORT} was refused`);
    expect(err.message).toContain('authorized_keys');
    expect(leftovers(services, REFUSED_SCOPE)).toEqual({ instances: [], ports: '{}', containers: 0 });
  });

  it('says docker is missing when the host logs in but dial-stdio ends at once', async () => {
    // given a host that accepts the login but has no docker CLI (every session fails with 127)
    const services = await servicesWith(
      sshEnv(NO_DOCKER_SSH_PORT, noDockerServer.clientKey, noDockerServer.knownHosts),
    );

    // when alice launches, then the sentence names dial-stdio and the docker CLI
    const err = await refusedLaunch(services, 'no-docker');
    expect(err.message).toContain(
      `ssh://root@127.0.0.1:${NO_DOCKER_SSH_PORT} ran \`docker system dial-stdio\``,
    );
    expect(err.message).toContain('docker CLI is installed there');
    expect(leftovers(services, REFUSED_SCOPE)).toEqual({ instances: [], ports: '{}', containers: 0 });
  });

  it('gives up on a host that never starts the handshake within the SSH ready timeout', async () => {
    // given a host that accepts TCP connections and then says nothing (a stuck sshd, a proxy)
    const held: net.Socket[] = [];
    const silent = net.createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(SILENT_PORT, '127.0.0.1', resolve));
    try {
      const config = testConfig(
        {
          scope: REFUSED_SCOPE,
          ports: REFUSED_PORTS,
          env: sshEnv(SILENT_PORT, server.clientKey, server.knownHosts),
        },
        newTempDir(),
      );
      const engine = new DockerEngine(dockerConnection(config));

      // when the bot pings it, then after the ready timeout one sentence names the host and the handshake
      const t0 = Date.now();
      const err = await engine.ping().then(
        () => new Error('expected the ping to fail'),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).message).toBe(
        `The SSH host ssh://root@127.0.0.1:${SILENT_PORT} did not complete the handshake within 8 s; check that sshd runs on that port and that no firewall drops the connection.`,
      );
      expect(Date.now() - t0).toBeGreaterThanOrEqual(SSH_READY_TIMEOUT_MS - 100);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('refuses to start with a key file that cannot be read, naming it', async () => {
    // given SPREADSERVE_SSH_KEY naming a file that does not exist
    const missing = `${server.dir}/no-such-key`;
    const config = testConfig(
      { scope: REFUSED_SCOPE, ports: REFUSED_PORTS, env: sshEnv(SSH_PORT, missing, server.knownHosts) },
      newTempDir(),
    );
    // when the engine is set up, then one sentence names the file
    let err: unknown;
    try {
      new DockerEngine(dockerConnection(config));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe(
      `The SSH key file ${missing} for ssh://root@127.0.0.1:${SSH_PORT} cannot be read (ENOENT); fix SPREADSERVE_SSH_KEY or the file's permissions.`,
    );
  });
});
