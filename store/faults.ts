// Why a store refuses writes, in words a user can act on, and which write failures are worth
// retrying: a full disk or a folder made unwritable can be fixed while the process runs, so the
// store retries (and keeps retrying while read-only) instead of giving up for good.

/** Why the store is read-only: at open (corrupt, unreadable), owned by another process, a write fault. */
export type ReadOnlyCause = 'open' | 'owned' | 'write';

export interface ReadOnlyState {
  cause: ReadOnlyCause;
  /** Completes "The store … is read-only because …". */
  reason: string;
  /** What happens next or what to do, completing the sentence after a semicolon. */
  fix: string;
}

/** Write failures that may go away by themselves or by an operator's hand while we run. */
const TRANSIENT = new Set([
  'ENOSPC',
  'EDQUOT',
  'EACCES',
  'EPERM',
  'EROFS',
  'EIO',
  'EBUSY',
  'EAGAIN',
  'EMFILE',
  'ENFILE',
]);

/** Waits between attempts of one write (then the update fails and the store goes read-only). */
export const WRITE_RETRY_DELAYS_MS: readonly number[] = [50, 200, 800];

export function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? String(err);
}

export function isTransientWriteError(err: unknown): boolean {
  return TRANSIENT.has(errorCode(err));
}

/** The read-only state a failed write leaves the store in. */
export function writeFault(err: unknown): ReadOnlyState {
  const code = errorCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return {
      cause: 'write',
      reason: `its disk is full (${code})`,
      fix: 'the last change was not saved, and writes resume once space is freed',
    };
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return {
      cause: 'write',
      reason: `its folder is not writable (${code})`,
      fix: 'the last change was not saved, and writes resume once it is writable again',
    };
  }
  return {
    cause: 'write',
    reason: `writing it failed (${code})`,
    fix: 'fix or move the file and try again (the last change was not saved)',
  };
}

/** The read-only state of a store another process holds the lock of. */
export function ownedBy(pid: number): ReadOnlyState {
  return {
    cause: 'owned',
    reason: `another SpreadServe process${pid > 0 ? ` (pid ${pid})` : ''} owns it`,
    fix: 'this process takes it over by itself as soon as that one ends',
  };
}

/** A problem found at open (unreadable, corrupt, unwritable folder): fixed by a person. */
export function openFault(reason: string): ReadOnlyState {
  return { cause: 'open', reason, fix: 'fix or move the file and restart the bot' };
}
