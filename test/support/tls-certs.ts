// Certificates for TLS tests, made with openssl in a temp dir as Docker's "Protect the Docker
// daemon socket" recipe makes them: a CA, a server certificate (serverAuth, subjectAltName for the
// given IPs) and a client certificate (clientAuth), both signed by that CA; plus a second,
// unrelated CA with a client certificate of its own (the wrong-CA cases) and a server certificate
// that has expired. Keys are 2048-bit and unencrypted: enough for a test, quick to make.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TlsCerts {
  /** The temp dir everything is in; remove() deletes it. */
  dir: string;
  /** For dockerd --tlscacert / --tlscert / --tlskey (and a Node test server). */
  server: { ca: string; cert: string; key: string };
  /** A server certificate of the same CA that expired yesterday. */
  expiredServer: { cert: string; key: string };
  /** DOCKER_CERT_PATH dirs (ca.pem, cert.pem, key.pem). */
  client: {
    /** The right CA and a client certificate it signed. */
    good: string;
    /** The other CA's ca.pem (the engine's certificate is not signed by it) with the good client pair. */
    wrongCa: string;
    /** The right ca.pem with a client certificate signed by the other CA (the engine refuses it). */
    foreignClient: string;
  };
  remove(): void;
}

const openssl = (cwd: string, ...args: string[]) =>
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });

/** A self-signed CA: <name>-key.pem and <name>.pem. */
function makeCa(dir: string, name: string): void {
  openssl(dir, 'genrsa', '-out', `${name}-key.pem`, '2048');
  openssl(
    dir,
    ...['req', '-new', '-x509', '-days', '2', '-sha256', '-subj', `/CN=${name}`],
    ...['-key', `${name}-key.pem`, '-out', `${name}.pem`],
  );
}

/** A key and a certificate signed by CA `ca`, with the given x509 extensions. */
function makeSigned(dir: string, ca: string, name: string, cn: string, extensions: string[]): void {
  openssl(dir, 'genrsa', '-out', `${name}-key.pem`, '2048');
  openssl(
    dir,
    'req',
    '-subj',
    `/CN=${cn}`,
    '-sha256',
    '-new',
    '-key',
    `${name}-key.pem`,
    '-out',
    `${name}.csr`,
  );
  writeFileSync(path.join(dir, `${name}.cnf`), `${extensions.join('\n')}\n`);
  openssl(
    dir,
    ...['x509', '-req', '-days', '2', '-sha256', '-in', `${name}.csr`],
    ...['-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial'],
    ...['-out', `${name}-cert.pem`, '-extfile', `${name}.cnf`],
  );
}

/** A server certificate of CA `ca` valid only in the past (openssl 3.0's x509 cannot backdate; `ca` can). */
function makeExpired(dir: string, ca: string, name: string, san: string): void {
  openssl(dir, 'genrsa', '-out', `${name}-key.pem`, '2048');
  openssl(dir, 'req', '-subj', '/CN=expired', '-new', '-key', `${name}-key.pem`, '-out', `${name}.csr`);
  const db = path.join(dir, `${name}-db`);
  mkdirSync(db);
  writeFileSync(path.join(db, 'index.txt'), '');
  writeFileSync(
    path.join(dir, `${name}-ca.cnf`),
    [
      '[ca]',
      'default_ca = this',
      '[this]',
      `database = ${db}/index.txt`,
      `new_certs_dir = ${db}`,
      'rand_serial = yes',
      'default_md = sha256',
      'policy = anything',
      'copy_extensions = none',
      'x509_extensions = ext',
      '[anything]',
      'commonName = supplied',
      '[ext]',
      `subjectAltName = ${san}`,
      'extendedKeyUsage = serverAuth',
      '',
    ].join('\n'),
  );
  const yesterday = new Date(Date.now() - 86_400_000);
  const stamp = (d: Date) => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  openssl(
    dir,
    ...['ca', '-batch', '-config', `${name}-ca.cnf`, '-in', `${name}.csr`, '-out', `${name}-cert.pem`],
    ...['-cert', `${ca}.pem`, '-keyfile', `${ca}-key.pem`, '-notext'],
    ...['-startdate', stamp(new Date(yesterday.getTime() - 86_400_000)), '-enddate', stamp(yesterday)],
  );
}

/** A DOCKER_CERT_PATH dir from three files of `dir`. */
function certPathDir(dir: string, name: string, files: { ca: string; cert: string; key: string }): string {
  const out = path.join(dir, name);
  mkdirSync(out);
  copyFileSync(path.join(dir, files.ca), path.join(out, 'ca.pem'));
  copyFileSync(path.join(dir, files.cert), path.join(out, 'cert.pem'));
  copyFileSync(path.join(dir, files.key), path.join(out, 'key.pem'));
  return out;
}

/** Makes the certificates; the server's is valid for 127.0.0.1 and `ips` (IP addresses only, no names). */
export function makeTlsCerts(ips: string[] = []): TlsCerts {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ss-tls-'));
  const san = ['IP:127.0.0.1', ...ips.map((ip) => `IP:${ip}`)].join(',');
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeSigned(dir, 'ca', 'server', 'spreadserve-engine', [
    `subjectAltName = ${san}`,
    'extendedKeyUsage = serverAuth',
  ]);
  makeSigned(dir, 'ca', 'client', 'client', ['extendedKeyUsage = clientAuth']);
  makeSigned(dir, 'other-ca', 'foreign', 'client', ['extendedKeyUsage = clientAuth']);
  makeExpired(dir, 'ca', 'expired', san);
  const at = (file: string) => path.join(dir, file);
  return {
    dir,
    server: { ca: at('ca.pem'), cert: at('server-cert.pem'), key: at('server-key.pem') },
    expiredServer: { cert: at('expired-cert.pem'), key: at('expired-key.pem') },
    client: {
      good: certPathDir(dir, 'good', { ca: 'ca.pem', cert: 'client-cert.pem', key: 'client-key.pem' }),
      wrongCa: certPathDir(dir, 'wrong-ca', {
        ca: 'other-ca.pem',
        cert: 'client-cert.pem',
        key: 'client-key.pem',
      }),
      foreignClient: certPathDir(dir, 'foreign', {
        ca: 'ca.pem',
        cert: 'foreign-cert.pem',
        key: 'foreign-key.pem',
      }),
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
