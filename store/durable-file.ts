// The store's file adapter for lowdb (read / write of one text file), written so a write survives
// a crash or a power cut: the text goes to a temporary file beside the store, which is flushed
// to disk (fsync) before it is renamed over the store, and the folder is flushed after the rename.
// A failed write leaves the store file as it was and removes its partial temporary file (which
// would otherwise hold on to the space a full disk needs back).
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

export class DurableTextFile {
  /** Beside the store (a rename is atomic only within one file system). */
  readonly tempFile: string;

  constructor(readonly file: string) {
    this.tempFile = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  }

  /** The file's text, or null when it does not exist. */
  async read(): Promise<string | null> {
    try {
      return await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Replaces the file's content (a text, or UTF-8 bytes) atomically and durably; on failure the
   * file is unchanged. */
  async write(content: string | Uint8Array): Promise<void> {
    try {
      const handle = await open(this.tempFile, 'w');
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(this.tempFile, this.file);
    } catch (err) {
      await unlink(this.tempFile).catch(() => undefined);
      throw err;
    }
    await syncFolder(path.dirname(this.file));
  }
}

/** Flushes a folder's entries (the rename) to disk; best effort, as not every file system can. */
async function syncFolder(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // the file's content is on disk already; only the rename's durability is at stake
  }
}
