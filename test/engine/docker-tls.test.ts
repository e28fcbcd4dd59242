// TLS to a remote engine, without Docker: the real DockerEngine reaches real Node TLS and HTTP
// servers on 127.0.0.1 that use certificates openssl makes for the test (test/support/tls-certs.ts).
// Each way TLS can fail must come back as the one sentence that names the host and the fix, and a
// TLS file that cannot be read is named when the engine is made. The refusal of our client
// certificate needs the engine's own TLS stack (Go sends an alert, Node does not): it is measured
// against a real dockerd in test/engine/tls.docker.test.ts.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerEngine } from '../../engine/docker.ts';
import { UserError } from '../../lib/errors.ts';
import { makeTlsCerts, type TlsCerts } from '../support/tls-certs.ts';

let certs: TlsCerts;
const servers: { close(): void }[] = [];

/** A TLS server answering every request with 200 OK, as /_ping does; its port. */
async function tlsServer(cert: string, key: string, host = '127.0.0.1'): Promise<number> {
  const server = tls.createServer(
    {
      cert: readFileSync(cert),
      key: readFileSync(key),
      ca: readFileSync(certs.server.ca),
      requestCert: true,
    },
    (socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nOK'),
  );
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

/** What pinging through DOCKER_HOST=`host` with TLS files from `certPath` gives: 'ok' or the error. */
async function ping(host: string, certPath: string): Promise<unknown> {
  try {
    await new DockerEngine({ dockerHost: host, tlsVerify: true, certPath }).ping();
    return 'ok';
  } catch (err) {
    return err;
  }
}

function expectSentence(err: unknown, ...parts: (string | RegExp)[]): void {
  expect(err).toBeInstanceOf(UserError);
  const userError = err as UserError;
  expect(userError.kind).toBe('engine-unreachable');
  for (const part of parts) expect(userError.message).toMatch(part);
  // A sentence, ended.
  expect(userError.message.trim().endsWith('.')).toBe(true);
}

beforeAll(() => {
  certs = makeTlsCerts();
});

afterAll(() => {
  for (const server of servers) server.close();
  certs?.remove();
});

describe('TLS failures reaching the engine', () => {
  it('reaches an engine whose certificate our CA signed (the control)', async () => {
    // Given a TLS server with the CA's server certificate for 127.0.0.1
    const port = await tlsServer(certs.server.cert, certs.server.key);
    // When the engine pings it with the right DOCKER_CERT_PATH
    // Then it answers
    expect(await ping(`tcp://127.0.0.1:${port}`, certs.client.good)).toBe('ok');
  });

  it('names the host and ca.pem when the engine certificate is signed by another CA', async () => {
    // Given the same server, and a DOCKER_CERT_PATH whose ca.pem is an unrelated CA
    const port = await tlsServer(certs.server.cert, certs.server.key);
    // When the engine pings it
    const err = await ping(`tcp://127.0.0.1:${port}`, certs.client.wrongCa);
    // Then the sentence names the host and says the certificate is not signed by our CA
    expectSentence(
      err,
      `tcp://127.0.0.1:${port}`,
      "the engine's certificate is not signed by the CA in DOCKER_CERT_PATH/ca.pem",
    );
  });

  it('says the certificate is not for this host when DOCKER_HOST is an address it does not name', async () => {
    // Given a server certificate for 127.0.0.1 only, served on 127.0.0.2
    const port = await tlsServer(certs.server.cert, certs.server.key, '127.0.0.2');
    // When the engine pings 127.0.0.2
    const err = await ping(`tcp://127.0.0.2:${port}`, certs.client.good);
    // Then the sentence names the host and the mismatch
    expectSentence(
      err,
      `tcp://127.0.0.2:${port}`,
      'ERR_TLS_CERT_ALTNAME_INVALID',
      /not issued for this host/,
    );
  });

  it('says the engine certificate has expired', async () => {
    // Given a server certificate of our CA that expired yesterday
    const port = await tlsServer(certs.expiredServer.cert, certs.expiredServer.key);
    // When the engine pings it
    const err = await ping(`tcp://127.0.0.1:${port}`, certs.client.good);
    // Then the sentence says so
    expectSentence(err, `tcp://127.0.0.1:${port}`, /certificate has expired \(CERT_HAS_EXPIRED\)/);
  });

  it('tells to unset DOCKER_TLS_VERIFY or use the TLS port when the engine speaks plain HTTP', async () => {
    // Given a plain HTTP server (an engine on 2375 without TLS)
    const server = http.createServer((_req, res) => res.end('OK'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    servers.push(server);
    const port = (server.address() as AddressInfo).port;
    // When the engine pings it with TLS
    const err = await ping(`tcp://127.0.0.1:${port}`, certs.client.good);
    // Then the sentence says the engine does not speak TLS
    expectSentence(err, `tcp://127.0.0.1:${port}`, /does not speak TLS/, /DOCKER_TLS_VERIFY/);
  });
});

describe('TLS files that cannot be read', () => {
  it('names the missing client certificate when the engine is made', () => {
    // Given a DOCKER_CERT_PATH with ca.pem and key.pem but no cert.pem
    const dir = path.join(certs.dir, 'no-cert');
    mkdirSync(dir);
    for (const file of ['ca.pem', 'key.pem']) {
      writeFileSync(path.join(dir, file), readFileSync(path.join(certs.client.good, file)));
    }
    // When the engine is made, Then the sentence names the missing file
    expect(
      () => new DockerEngine({ dockerHost: 'tcp://127.0.0.1:2376', tlsVerify: true, certPath: dir }),
    ).toThrow(`${path.join(dir, 'cert.pem')} cannot be read (ENOENT)`);
  });

  it('names a key that is not a readable file', () => {
    // Given a DOCKER_CERT_PATH whose key.pem is a directory (root reads any file, so no chmod)
    const dir = path.join(certs.dir, 'key-dir');
    mkdirSync(path.join(dir, 'key.pem'), { recursive: true });
    for (const file of ['ca.pem', 'cert.pem']) {
      writeFileSync(path.join(dir, file), readFileSync(path.join(certs.client.good, file)));
    }
    // When the engine is made, Then the sentence names key.pem
    let thrown: unknown;
    try {
      new DockerEngine({ dockerHost: 'tcp://127.0.0.1:2376', tlsVerify: true, certPath: dir });
    } catch (err) {
      thrown = err;
    }
    expectSentence(thrown, `${path.join(dir, 'key.pem')} cannot be read (EISDIR)`, /DOCKER_CERT_PATH/);
    rmSync(dir, { recursive: true, force: true });
  });
});
