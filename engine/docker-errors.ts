// The Docker error mapping: every Docker failure a user can act on becomes a UserError; the rest
// stay as dockerode threw them. Plain functions of the error (no dockerode import).
import { withDeadline } from '../lib/concurrency.ts';
import { UserError } from '../lib/errors.ts';
import { isDict } from './docker-data.ts';
import { sshFailure } from './docker-ssh.ts';
import { unanswered } from './docker-timeouts.ts';
import { tlsFailure } from './docker-tls.ts';
import type { ContainerSpec } from './types.ts';

/** Socket and network errors that mean "Docker is not there", whatever the call. */
const UNREACHABLE_CODES = new Set([
  'ENOENT',
  'ECONNREFUSED',
  'EACCES',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

export function statusOf(err: unknown): number | undefined {
  return isDict(err) && typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

/** Docker's own sentence (from the JSON body) rather than dockerode's "(HTTP code 404) ..." wrapper. */
function dockerMessage(err: unknown): string {
  if (isDict(err) && isDict(err.json) && typeof err.json.message === 'string') return err.json.message;
  // Streaming calls (build) carry no JSON body: strip dockerode's prefix from the message instead.
  if (err instanceof Error) return err.message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
  return String(err);
}

/** The one error mapper of every call: connection failures become 'engine-unreachable', the rest pass through. */
export function unreachableError(err: unknown, display: string): unknown {
  if (err instanceof UserError) return err;
  const secure = tlsFailure(err, display) ?? sshFailure(err, display);
  if (secure) return secure;
  const code = isDict(err) && typeof err.code === 'string' ? err.code : undefined;
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return new UserError(
      'engine-unreachable',
      `Docker is not reachable at ${display} (${code}); start it or fix DOCKER_HOST.`,
      [],
      { cause: err },
    );
  }
  return err;
}

/** Creating a container: a missing image or a taken name. */
export function createError(err: unknown, name: string, image: string): unknown {
  const status = statusOf(err);
  if (status === 404 && /no such image/i.test(dockerMessage(err))) {
    return new UserError('not-found', `The image ${image} does not exist on the Docker host.`, [], {
      cause: err,
    });
  }
  if (status === 409) {
    return new UserError('conflict', `A container named ${name} already exists.`, [], { cause: err });
  }
  return err;
}

/** Starting a container: its host port taken. */
export function startError(err: unknown, spec: ContainerSpec): unknown {
  // "Bind for ...: port is already allocated" (another container) or "bind: address already in use" (a host process).
  if (/port is already allocated|address already in use/i.test(dockerMessage(err))) {
    return new UserError(
      'port-taken',
      `Host port ${spec.hostPort} on ${spec.bindIp} is already in use by another process or container.`,
      [],
      { cause: err },
    );
  }
  return err;
}

/** Starting a build: errors before the first step (no such Dockerfile, bad context) come as HTTP 500. */
export function buildStartError(err: unknown, tag: string): unknown {
  if (err instanceof UserError || statusOf(err) === undefined) return err;
  return new UserError('build-failed', `The build of ${tag} failed: ${dockerMessage(err)}`, [], {
    cause: err,
  });
}

/** Removing an image: one a container still uses. */
export function removeImageError(err: unknown, tag: string): unknown {
  if (statusOf(err) !== 409) return err;
  return new UserError('conflict', `The image ${tag} is used by a container; remove that first.`, [], {
    cause: err,
  });
}

/** For calls on one container: a 404 means the name or id is unknown. */
export function noSuchContainer(idOrName: string): never {
  throw new UserError('not-found', `There is no container ${idOrName} on the Docker host.`);
}

/**
 * A call within `ms` (its request aborted past it, failing with "Docker did not answer within
 * N."): 404 answers become onMissing() when given; other failures are mapped to typed errors
 * naming `display`. Every engine call of DockerEngine and SwarmEngine goes through it.
 */
export async function within<T>(
  ms: number,
  display: string,
  fn: (signal: AbortSignal) => Promise<T>,
  onMissing?: () => T,
): Promise<T> {
  try {
    return await withDeadline(ms, unanswered(ms), fn);
  } catch (err) {
    if (onMissing && statusOf(err) === 404) return onMissing();
    throw unreachableError(err, display);
  }
}
