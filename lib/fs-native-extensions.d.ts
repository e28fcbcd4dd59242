// Types for the part of fs-native-extensions (which ships none) that lib/lock.ts uses.
declare module 'fs-native-extensions' {
  interface LockOptions {
    /** A shared (read) lock instead of an exclusive one. */
    shared?: boolean;
  }
  /** Takes an OFD lock on fd without waiting; false when another descriptor holds it. */
  function tryLock(fd: number, options?: LockOptions): boolean;
  function unlock(fd: number): void;
  const fsx: { tryLock: typeof tryLock; unlock: typeof unlock };
  export default fsx;
}
