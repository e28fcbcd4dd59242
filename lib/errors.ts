// Error types shared by every layer. lib/ is the bottom: it imports nothing of the project, so
// engine/ and store/ may use it without depending on anything above them.
import { randomBytes } from 'node:crypto';

/** What kind of problem a user caused or can fix; maps to CLI exit codes and metrics. */
export type UserErrorKind =
  | 'usage' // bad command, flag, name or duration: CLI exit 2
  | 'not-found' // unknown template, instance, image
  | 'forbidden' // role or ownership check failed
  | 'conflict' // name taken, build already running
  | 'quota' // per-user limit reached
  | 'pool-exhausted' // no free port left
  | 'port-taken' // a host port is held by another process
  | 'engine-unreachable' // Docker is down or DOCKER_HOST is wrong
  | 'slack-refused' // at start: Slack refused the bot's token, or its Web API did not answer
  | 'unhealthy' // the container never answered its health path
  | 'build-failed' // a build step or the installer failed
  | 'timeout' // a build or wait ran out of time
  | 'read-only' // the store is corrupt or unwritable
  | 'shutting-down'; // the bot is stopping: work was undone, try again in a moment

/** The only error whose message reaches a user: one readable sentence. */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    readonly kind: UserErrorKind,
    message: string,
    /** Extra lines shown under the sentence (e.g. the installer's last log lines). */
    readonly details: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const usageError = (message: string): UserError => new UserError('usage', message);

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}

/** A short id to grep the logs for; shown to users instead of an internal error. */
export function newRef(): string {
  return randomBytes(3).toString('hex');
}

/** Text of an unknown thrown value, for logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Anything that can log an error object with a message (pino's Logger fits). */
export interface ErrorLog {
  error(context: Record<string, unknown>, message: string): void;
}

/**
 * What a person may read about a failure: a UserError's own sentence, or "internal error (ref …)"
 * with the detail logged under that ref. For text that reaches Slack, the CLI, `status`, reclaim
 * summaries or /healthz: only UserError text ever does.
 */
export function publicReason(err: unknown, log: ErrorLog, context: Record<string, unknown> = {}): string {
  if (isUserError(err)) return err.message;
  return `internal error (ref ${logInternal(err, log, context)})`;
}

/** Logs an error nobody outside may read, under a new ref; returns the ref. */
export function logInternal(
  err: unknown,
  log: ErrorLog,
  context: Record<string, unknown> = {},
  message = 'internal error',
): string {
  const ref = newRef();
  log.error({ ...context, ref, err: err instanceof Error ? err : describeError(err) }, message);
  return ref;
}
