// TLS to a remote engine as the docker CLI does it: with DOCKER_TLS_VERIFY set, the server's
// certificate is verified against ca.pem and the client presents cert.pem and key.pem, all three
// from DOCKER_CERT_PATH (~/.docker when unset).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../lib/errors.ts';

export const TLS_FILES = ['ca.pem', 'cert.pem', 'key.pem'] as const;

/** DOCKER_CERT_PATH, or the docker CLI's default. */
export function certDir(certPath: string | undefined): string {
  return certPath ?? path.join(os.homedir(), '.docker');
}

/** The CA, client certificate and key, read now; a file that cannot be read is a sentence naming it. */
export function tlsModemOptions(certPath: string | undefined): { ca: Buffer; cert: Buffer; key: Buffer } {
  const dir = certDir(certPath);
  const [ca, cert, key] = TLS_FILES.map((file) => {
    const full = path.join(dir, file);
    try {
      return readFileSync(full);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new UserError(
        'engine-unreachable',
        `DOCKER_TLS_VERIFY is set but ${full} cannot be read (${code}); put ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH.`,
        [],
        { cause: err },
      );
    }
  }) as [Buffer, Buffer, Buffer];
  return { ca, cert, key };
}

/** Node's codes for a server certificate that does not chain to our ca.pem. */
const UNVERIFIED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/**
 * The alerts an engine run with --tlsverify ends the handshake with when our client certificate is
 * missing or not signed by its --tlscacert. Measured: dockerd 20.10 (Go) sends "bad certificate"
 * (alert 42) for both; other TLS stacks send "certificate required" (TLS 1.3) or "unknown CA".
 */
const REFUSED_CLIENT_CODES = new Set([
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
]);

/** The sentence for a TLS failure: what went wrong and what to fix; undefined when not TLS. */
function tlsSentence(
  display: string,
  code: string | undefined,
  message: string,
  statusCode: unknown,
): string | undefined {
  const failed = `TLS to the Docker engine at ${display} failed:`;
  if (code !== undefined && UNVERIFIED_CODES.has(code)) {
    return `${failed} the engine's certificate is not signed by the CA in DOCKER_CERT_PATH/ca.pem (${code}); put the CA that signed the engine's certificate there.`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `${failed} the engine's certificate is not issued for this host (${code}); set DOCKER_HOST to a name or address in the certificate's subjectAltName, or reissue the certificate with this one.`;
  }
  if (code === 'CERT_HAS_EXPIRED') {
    return `${failed} the engine's certificate has expired (${code}); issue a new server certificate on the engine host.`;
  }
  if (code === 'CERT_NOT_YET_VALID') {
    return `${failed} the engine's certificate is not valid yet (${code}); check the clocks of this machine and the engine host.`;
  }
  if (code !== undefined && REFUSED_CLIENT_CODES.has(code)) {
    return `${failed} the engine refused our client certificate (${code}); DOCKER_CERT_PATH/cert.pem and key.pem must be a client certificate signed by the CA the engine trusts (its --tlscacert).`;
  }
  if (code === 'EPROTO' && /wrong version number|packet length too long|http request/i.test(message)) {
    return `The Docker engine at ${display} does not speak TLS (${code}: it answered in plain HTTP); unset DOCKER_TLS_VERIFY, or point DOCKER_HOST at the engine's TLS port (2376 by convention).`;
  }
  if (statusCode === 400 && /HTTP request to an HTTPS server/i.test(message)) {
    return `The Docker engine at ${display} requires TLS ("Client sent an HTTP request to an HTTPS server"); set DOCKER_TLS_VERIFY=1 and put ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH.`;
  }
  return undefined;
}

/**
 * A TLS failure reaching the engine (an unknown CA, a certificate for another host or expired, our
 * client certificate refused, TLS on one side only) as one sentence naming the host and the fix;
 * undefined for anything else.
 */
export function tlsFailure(err: unknown, display: string): UserError | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, statusCode, json } = err as Error & { code?: unknown; statusCode?: unknown; json?: unknown };
  // A plain-HTTP answer's body is text, which dockerode hands over as a Buffer (or a string).
  const body = Buffer.isBuffer(json) || typeof json === 'string' ? String(json) : '';
  const sentence = tlsSentence(
    display,
    typeof code === 'string' ? code : undefined,
    `${err.message} ${body}`,
    statusCode,
  );
  return sentence === undefined
    ? undefined
    : new UserError('engine-unreachable', sentence, [], { cause: err });
}
