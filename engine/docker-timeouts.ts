// How long each kind of Docker call may take, and the sentence a call that ran past its bound
// fails with. Plain data (engine/docker.ts applies them and aborts the request at the bound).
import { formatDuration } from '../lib/duration.ts';
import { UserError } from '../lib/errors.ts';
import type { DockerConnection } from './docker-host.ts';

/**
 * Bounds per kind of call. Builds, and the install run of a commit build, are bounded by their
 * caller's signal (BUILD_TIMEOUT) instead.
 */
export interface DockerTimeouts {
  /** ping, list, inspect, create, start, remove, stats, image inspect: one quick answer. */
  quickMs: number;
  /** The tail of a container's logs. */
  logsMs: number;
  /** commit and image removal: the engine writes or deletes layers. */
  imageMs: number;
}

export const DOCKER_TIMEOUTS: Readonly<DockerTimeouts> = {
  quickMs: 10_000,
  logsMs: 30_000,
  imageMs: 120_000,
};

export interface DockerEngineOptions extends DockerConnection {
  /** Overrides of DOCKER_TIMEOUTS (tests use short ones). */
  timeouts?: Partial<DockerTimeouts>;
}

/** What a call that got no answer within `ms` fails with: one sentence a user may read. */
export function unanswered(ms: number): UserError {
  return new UserError('engine-unreachable', `Docker did not answer within ${formatDuration(ms)}.`);
}

/** Whether `err` says the engine did not answer (in time, or at all). */
export function isUnanswered(err: unknown): boolean {
  return err instanceof UserError && err.kind === 'engine-unreachable';
}
