// A remote engine over TLS, for real: a second dockerd (test/support/engine-sandbox.ts) listens
// with --tlsverify and certificates openssl makes for this file (test/support/tls-certs.ts), and
// is reached as tcp://127.0.0.1:<port> through a byte relay (TLS stays end to end). The bot's core,
// configured only by DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as a user configures it,
// builds, launches, lists and stops there, and so does the real Bolt app. Then each way TLS goes
// wrong against that dockerd gives its one sentence: at start (the log, the local shell) and in
// `status`. Ports 25000-25019, the sandbox tag `tls` and subnet 10.232.46.0/24 belong to this file.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../commands/index.ts';
import type { Reply } from '../../commands/reply.ts';
import { LABEL } from '../../core/labels.ts';
import { tlsFailure } from '../../engine/docker-tls.ts';
import { createLogger } from '../../lib/log.ts';
import { type BotBed, startBotBed, textOf } from '../support/bot.ts';
import { waitForHttp200 } from '../support/docker.ts';
import { EngineSandbox, showEngineLogOnFailure } from '../support/engine-sandbox.ts';
import { alice, buildImage, type TestBed, tempDir, testBed } from '../support/services.ts';
import { terminalEnv } from '../support/terminal.ts';
import { makeTlsCerts, type TlsCerts } from '../support/tls-certs.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX_LOADER = pathToFileURL(path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const SUBNET = 46;
/** The sandbox's address (engine-sandbox.ts: 10.232.<subnet>.2); the server certificate names it. */
const BIND_IP = `10.232.${SUBNET}.2`;
const RELAY_PORT = 25019;
const ENGINE = `tcp://127.0.0.1:${RELAY_PORT}`;
const CORE = { scope: 'tls-engine', ports: '25000-25001' };
const BOT = { scope: 'test-bot-tls', ports: '25005-25006' };
/** The pool of the beds whose engine cannot be reached: nothing is ever launched on it. */
const BROKEN_PORTS = '25010-25011';
/** A shell process's whole run: start, `status`, `exit`. */
const SHELL_MS = 30_000;

let certs: TlsCerts;
let sandbox: EngineSandbox;
showEngineLogOnFailure(() => sandbox);
let relay: { url: string; close(): Promise<void> };
const beds: TestBed[] = [];
/** The local shells' temp dirs. */
const shellDirs: string[] = [];
let bot: BotBed | undefined;

/** The configuration a user sets for a TLS engine, with containers published on the sandbox. */
const tlsEnv = (certPath: string, tls = true): Record<string, string> => ({
  DOCKER_HOST: ENGINE,
  ...(tls ? { DOCKER_TLS_VERIFY: '1' } : {}),
  DOCKER_CERT_PATH: certPath,
  SPREADSERVE_BIND_IP: BIND_IP,
  SPREADSERVE_PUBLIC_URL: `http://${BIND_IP}`,
});

const run = (bed: TestBed, text: string): Promise<Reply> =>
  dispatch(text, { actor: alice, services: bed.services, prefix: '', log: bed.services.log });

/** Containers of `scope` on the sandbox engine, asked through its own socket (not through TLS). */
async function sandboxContainers(scope: string): Promise<string[]> {
  const out = await sandbox.docker(
    'ps',
    '-a',
    '--format',
    '{{.Names}}',
    '--filter',
    `label=${LABEL.scope}=${scope}`,
  );
  return out.split('\n').filter(Boolean);
}

/**
 * Core services whose engine cannot be reached, started as the bot starts them: what they logged
 * at start, and their `status` and `list` replies.
 */
async function brokenStart(name: string, env: Record<string, string>) {
  const lines: string[] = [];
  const log = createLogger('info', { write: (line: string) => void lines.push(line) });
  const bed = await testBed({ scope: `tls-${name}`, ports: BROKEN_PORTS, env, log });
  beds.push(bed);
  await bed.services.start();
  const status = await run(bed, 'status');
  const list = await run(bed, 'list');
  const logs = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logs, status, list };
}

/** The sentence at start (an error in the log), in `status` and as the answer to `list`. */
function expectEverywhere(result: Awaited<ReturnType<typeof brokenStart>>, sentence: string | RegExp) {
  const atStart = result.logs.find((entry) => entry.msg === 'Docker is not reachable at start');
  expect(atStart).toMatchObject({ level: 50 });
  expect(atStart?.err).toMatch(sentence);
  expect(result.status).toMatchObject({ ok: true, kind: 'status' });
  expect(result.status.summary).toContain('Docker unreachable');
  const shown = (result.status as { status?: { engine?: { error?: string } } }).status?.engine?.error;
  expect(shown).toMatch(sentence);
  expect(result.list).toMatchObject({ ok: false, errorKind: 'engine-unreachable' });
  expect(result.list.summary).toMatch(sentence);
}

/** A DOCKER_CERT_PATH with only some of the good files. */
function partialCertDir(name: string, files: string[]): string {
  const dir = path.join(certs.dir, name);
  mkdirSync(dir);
  for (const file of files) copyFileSync(path.join(certs.client.good, file), path.join(dir, file));
  return dir;
}

/** The local shell as `npm start` runs it: started, `status`, `exit`; what it printed. */
function shellRun(env: Record<string, string>): Promise<{ out: string; err: string; code: number | null }> {
  const dir = tempDir('ss-tls-shell-');
  shellDirs.push(dir);
  const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(ROOT, 'main.ts')], {
    cwd: dir,
    env: terminalEnv({
      dir,
      scope: 'tls-shell',
      firstPort: 25012,
      lastPort: 25013,
      extra: { ...env, SPREADSERVE_TEMPLATES: path.join(ROOT, 'spreadserve.templates.yml') },
    }),
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: SHELL_MS,
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  child.stdin.end('status\nexit\n');
  return new Promise((resolve) => child.on('close', (code) => resolve({ out, err, code })));
}

beforeAll(async () => {
  certs = makeTlsCerts([BIND_IP]);
  sandbox = await EngineSandbox.start({ tag: 'tls', subnet: SUBNET, tls: certs.server });
  expect(sandbox.bindIp).toBe(BIND_IP);
  relay = await sandbox.relayTls(RELAY_PORT);
}, 120_000);

afterAll(async () => {
  await bot?.close();
  for (const bed of beds) await bed.cleanup();
  await relay?.close();
  await sandbox?.teardown();
  certs?.remove();
  for (const dir of shellDirs) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('the bot on a TLS engine', () => {
  it('builds, launches, lists and stops an instance there, configured as the docker CLI is', async () => {
    // given the core configured with DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH only
    const bed = await testBed({ ...CORE, env: tlsEnv(certs.client.good) });
    beds.push(bed);
    await bed.services.start();
    // when it builds the demo image (the context goes over TLS) and launches it
    await buildImage(bed.services);
    const launch = await run(bed, 'launch demo --name tls-one');
    // then the instance runs on the TLS engine, and its URL on the sandbox's address answers
    expect(launch).toMatchObject({ ok: true });
    expect(await sandboxContainers(CORE.scope)).toEqual(['spreadserve-tls-one']);
    expect(await waitForHttp200(`http://${BIND_IP}:25000/`)).toContain('tls-one');
    // and `list` shows it, and `status` says Docker is reachable
    const list = await run(bed, 'list');
    expect(JSON.stringify(list)).toContain('tls-one');
    const status = await run(bed, 'status');
    expect(status.summary).not.toContain('Docker unreachable');
    // when it is stopped, then it is gone from the engine
    expect(await run(bed, 'stop tls-one')).toMatchObject({ ok: true });
    expect(await sandboxContainers(CORE.scope)).toEqual([]);
  }, 180_000);

  it('launches and stops through the real Bolt app on the TLS engine', async () => {
    // given the Slack bot configured for the TLS engine, its image built there
    bot = await startBotBed({ ...BOT, env: tlsEnv(certs.client.good) });
    await buildImage(bot.bed.services);
    // when alice launches from Slack
    const s = await bot.slash('launch demo --name tls-bolt', 'UALICE');
    expect(s.ack.status).toBe(200);
    const done = await bot.waitForResponse(s.id, (r) => /is up at/.test(textOf(r)), 60_000);
    // then the URL posted is on the sandbox's address and answers
    const url = new RegExp(`http://${BIND_IP.replaceAll('.', '\\.')}:\\d+`).exec(textOf(done))?.[0];
    expect(url).toBe(`http://${BIND_IP}:25005`);
    expect(await waitForHttp200(`${url}/`)).toContain('tls-bolt');
    expect(await sandboxContainers(BOT.scope)).toEqual(['spreadserve-tls-bolt']);
    // when she stops it, then it is gone from the engine
    const stop = await bot.slash('stop tls-bolt', 'UALICE');
    const stopped = await bot.waitForResponse(stop.id, () => true, 30_000);
    expect(textOf(stopped)).toMatch(/Stopped tls-bolt/);
    expect(await sandboxContainers(BOT.scope)).toEqual([]);
  }, 300_000);
});

describe('TLS going wrong against the real dockerd', () => {
  it('says the engine certificate is not signed by our CA, at start and in status', async () => {
    // given a DOCKER_CERT_PATH whose ca.pem is an unrelated CA
    const result = await brokenStart('wrongca', tlsEnv(certs.client.wrongCa));
    // then one sentence naming the host and ca.pem, everywhere
    expectEverywhere(
      result,
      `TLS to the Docker engine at ${ENGINE} failed: the engine's certificate is not signed by the CA in DOCKER_CERT_PATH/ca.pem (UNABLE_TO_VERIFY_LEAF_SIGNATURE); put the CA that signed the engine's certificate there.`,
    );
  }, 60_000);

  it('says the engine refused our client certificate when another CA signed it', async () => {
    // given the right ca.pem but a client certificate the engine's CA did not sign
    const result = await brokenStart('foreign', tlsEnv(certs.client.foreignClient));
    // then dockerd ends the handshake ("bad certificate") and the sentence says what to fix
    expectEverywhere(
      result,
      `TLS to the Docker engine at ${ENGINE} failed: the engine refused our client certificate (ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE); DOCKER_CERT_PATH/cert.pem and key.pem must be a client certificate signed by the CA the engine trusts (its --tlscacert).`,
    );
  }, 60_000);

  it('says the engine refused us when no client certificate is presented at all', async () => {
    // given a TLS client that trusts the engine's CA but presents no certificate (the bot always
    // presents one: this is the docker CLI without cert.pem, or a proxy stripping it)
    const err = await new Promise<unknown>((resolve) => {
      const req = https.get(
        {
          host: '127.0.0.1',
          port: RELAY_PORT,
          path: '/_ping',
          ca: readFileSync(certs.server.ca),
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          resolve(`answered ${res.statusCode}`);
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer')));
      req.on('error', resolve);
    });
    // then the error dockerd causes maps to the refusal sentence
    expect(tlsFailure(err, ENGINE)?.message).toMatch(/the engine refused our client certificate/);
  }, 30_000);

  it('names the missing client certificate file at start', async () => {
    // given a DOCKER_CERT_PATH with ca.pem and key.pem only
    const dir = partialCertDir('no-cert', ['ca.pem', 'key.pem']);
    // when the core is made, then it refuses with the file named
    await expect(testBed({ scope: 'tls-nocert', ports: BROKEN_PORTS, env: tlsEnv(dir) })).rejects.toThrow(
      `DOCKER_TLS_VERIFY is set but ${path.join(dir, 'cert.pem')} cannot be read (ENOENT)`,
    );
    // and `npm start` (the local shell) stops with that sentence
    const shell = await shellRun(tlsEnv(dir));
    expect(shell.code).toBe(1);
    expect(shell.err).toContain(`${path.join(dir, 'cert.pem')} cannot be read (ENOENT)`);
    // as one sentence, without a stack trace
    expect(shell.err).not.toMatch(/^\s+at /m);
  }, 60_000);

  it('tells to set DOCKER_TLS_VERIFY when plain HTTP reaches the TLS port', async () => {
    // given DOCKER_HOST at the TLS engine but DOCKER_TLS_VERIFY unset
    const result = await brokenStart('plain', tlsEnv(certs.client.good, false));
    // then dockerd's 400 becomes the sentence saying to turn TLS on
    expectEverywhere(
      result,
      `The Docker engine at ${ENGINE} requires TLS ("Client sent an HTTP request to an HTTPS server"); set DOCKER_TLS_VERIFY=1 and put ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH.`,
    );
  }, 60_000);

  it('shows the sentence in the local shell at start and in its status', async () => {
    // given `npm start` without Slack credentials, configured with the wrong CA
    const shell = await shellRun(tlsEnv(certs.client.wrongCa));
    // then the start-up error and the `status` reply both carry the sentence
    const sentence = `TLS to the Docker engine at ${ENGINE} failed: the engine's certificate is not signed`;
    expect(shell.code).toBe(0);
    expect(shell.err).toContain('Docker is not reachable at start');
    expect(shell.err).toContain(sentence);
    expect(shell.out).toContain('Docker unreachable');
    expect(shell.out).toContain(sentence);
  }, 60_000);
});
