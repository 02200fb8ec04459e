import type { FileHandle } from 'node:fs/promises';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FileSealer } from '../../store/sealedFile';

/**
 * Files that appear whole or not at all: written to a temporary name, flushed to disk, then renamed over the final
 * name (rename is atomic on POSIX file systems), and the directory entry flushed. A crash leaves either the old
 * file or the new one, never half of one, and at worst a stray `*.tmp` that the next start removes.
 */
export const TEMP_SUFFIX = '.tmp';

/** Writes `data` to `path` atomically. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const file = await AtomicFileWriter.open(path);
  try {
    await file.write(data);
    await file.commit();
  } catch (err) {
    await file.abort();
    throw err;
  }
}

/** A file written in pieces (e.g. one page of NDJSON at a time), published atomically by {@link commit}. */
export class AtomicFileWriter {
  private done = false;

  private constructor(
    private readonly handle: FileHandle,
    private readonly tempPath: string,
    readonly path: string,
    private readonly sealer: FileSealer | undefined
  ) {}

  /** With a sealer, what is written is encrypted as it goes (src/store/sealedFile.ts) and the file is 0600. */
  static async open(path: string, sealer?: FileSealer): Promise<AtomicFileWriter> {
    const tempPath = `${path}${TEMP_SUFFIX}`;
    return new AtomicFileWriter(await open(tempPath, 'w', sealer ? 0o600 : 0o666), tempPath, path, sealer);
  }

  async write(data: string): Promise<void> {
    if (data.length > 0) {
      const bytes = this.sealer ? this.sealer.update(data) : Buffer.from(data, 'utf8');
      await writeAll(this.handle, bytes);
    }
  }

  async commit(): Promise<void> {
    if (this.sealer) {
      await writeAll(this.handle, this.sealer.final());
    }
    this.done = true;
    await this.handle.sync();
    await this.handle.close();
    await rename(this.tempPath, this.path);
    await syncDirectory(dirname(this.path));
  }

  /** Closes and removes the temporary file; safe after a failed commit and when called twice. */
  async abort(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.handle.close().catch(() => undefined);
    }
    await unlink(this.tempPath).catch(() => undefined);
  }
}

/** `write` may write less than asked; loops until every byte is out. */
async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** Makes a rename durable; some platforms cannot open a directory, and there it is skipped. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Not supported here (e.g. Windows): the rename is still atomic, only its durability is the OS's default.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
