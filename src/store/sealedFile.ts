import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { invalidInput } from '../fhir/outcomes';
import { subKey } from './storeCipher';

/**
 * Sealed files: a whole file (a bulk export's NDJSON, a backup) encrypted with AES-256-GCM in chunks, so it is
 * written and read as a stream without holding it in memory, and any altered, reordered, dropped or truncated chunk
 * is detected. The layout follows the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online
 * Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015):
 *
 *     header  = "RTWINENC" | version (1 byte) | purpose (1 byte) | salt (16 bytes) | nonce prefix (7 bytes)
 *     chunk   = plaintext length (uint32 BE) | ciphertext | GCM tag (16 bytes)
 *     nonce_i = nonce prefix | i (uint32 BE) | 1 if last chunk else 0
 *
 * Each file has its own key, HKDF-SHA256(store key, salt, "recovery-twin/file/<purpose>"), and every chunk's
 * additional data is the header plus its length, so a chunk cannot move between files and a backup cannot be passed
 * off as an export. The last chunk (possibly empty) carries the "last" flag: a file cut short has none and is refused.
 */
export type SealedFilePurpose = 'export' | 'backup';

const MAGIC = Buffer.from('RTWINENC', 'ascii');
const VERSION = 1;
const PURPOSE_BYTE: Record<SealedFilePurpose, number> = { export: 1, backup: 2 };
const SALT_BYTES = 16;
const PREFIX_BYTES = 7;
const HEADER_BYTES = MAGIC.length + 2 + SALT_BYTES + PREFIX_BYTES;
const TAG_BYTES = 16;
/** Plaintext per chunk: small enough to stream, large enough that the 20 bytes per chunk are negligible. */
export const SEALED_CHUNK_BYTES = 64 * 1024;
/** A chunk longer than this is not one this format wrote; refused before allocating for it. */
const MAX_CHUNK_BYTES = 1024 * 1024;

/** True when the bytes start like a sealed file (for messages; authenticity is checked when reading). */
export function looksSealed(firstBytes: Buffer): boolean {
  return firstBytes.length >= MAGIC.length && firstBytes.subarray(0, MAGIC.length).equals(MAGIC);
}

/** Seals a file piece by piece: `update` returns the bytes to write so far, `final` the rest. */
export class FileSealer {
  private readonly key: KeyObject;
  private readonly header: Buffer;
  private readonly prefix: Buffer;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private counter = 0;
  private headerSent = false;
  private finished = false;

  constructor(masterKey: Buffer, purpose: SealedFilePurpose) {
    const salt = randomBytes(SALT_BYTES);
    this.prefix = randomBytes(PREFIX_BYTES);
    this.header = Buffer.concat([MAGIC, Buffer.of(VERSION, PURPOSE_BYTE[purpose]), salt, this.prefix]);
    this.key = createSecretKey(subKey(masterKey, salt, `recovery-twin/file/${purpose}`));
  }

  update(data: string | Buffer): Buffer {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    const out: Buffer[] = this.takeHeader();
    // Strictly more than a chunk: the last full chunk waits, since only `final` knows whether it is the last one.
    while (this.pendingBytes > SEALED_CHUNK_BYTES) {
      const all = Buffer.concat(this.pending);
      out.push(this.sealChunk(all.subarray(0, SEALED_CHUNK_BYTES), false));
      this.pending = [all.subarray(SEALED_CHUNK_BYTES)];
      this.pendingBytes = all.length - SEALED_CHUNK_BYTES;
    }
    return Buffer.concat(out);
  }

  final(): Buffer {
    if (this.finished) {
      return Buffer.alloc(0);
    }
    this.finished = true;
    const out = this.takeHeader();
    out.push(this.sealChunk(Buffer.concat(this.pending), true));
    this.pending = [];
    this.pendingBytes = 0;
    return Buffer.concat(out);
  }

  private takeHeader(): Buffer[] {
    if (this.headerSent) {
      return [];
    }
    this.headerSent = true;
    return [this.header];
  }

  private sealChunk(plain: Buffer, last: boolean): Buffer {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(plain.length);
    const cipher = createCipheriv('aes-256-gcm', this.key, chunkNonce(this.prefix, this.counter++, last), {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(Buffer.concat([this.header, length]));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([length, body, cipher.getAuthTag()]);
  }
}

/** A Transform that seals what flows through it. */
export function sealStream(masterKey: Buffer, purpose: SealedFilePurpose): Transform {
  const sealer = new FileSealer(masterKey, purpose);
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      callback(null, sealer.update(chunk));
    },
    flush(callback: TransformCallback): void {
      callback(null, sealer.final());
    },
  });
}

/**
 * A Transform that opens a sealed file as it flows, emitting plaintext chunk by chunk, each only once its tag has
 * been verified. A wrong key, an altered byte, a file cut short or bytes after the last chunk fail the stream.
 */
export function unsealStream(masterKey: Buffer, purpose: SealedFilePurpose): Transform {
  let buffered: Buffer = Buffer.alloc(0);
  let header: Buffer | undefined;
  let key: KeyObject | undefined;
  let prefix: Buffer | undefined;
  let counter = 0;
  let sawLast = false;
  const damaged = (): Error =>
    invalidInput(`The encrypted ${purpose} file is damaged, truncated, or was sealed with another key`);

  const drain = (transform: Transform): void => {
    if (!header) {
      if (buffered.length < HEADER_BYTES) {
        return;
      }
      const candidate = buffered.subarray(0, HEADER_BYTES);
      if (
        !looksSealed(candidate) ||
        candidate[MAGIC.length] !== VERSION ||
        candidate[MAGIC.length + 1] !== PURPOSE_BYTE[purpose]
      ) {
        throw invalidInput(`Not an encrypted ${purpose} file of this format`);
      }
      header = Buffer.from(candidate);
      const salt = header.subarray(MAGIC.length + 2, MAGIC.length + 2 + SALT_BYTES);
      prefix = header.subarray(MAGIC.length + 2 + SALT_BYTES);
      key = createSecretKey(subKey(masterKey, salt, `recovery-twin/file/${purpose}`));
      buffered = buffered.subarray(HEADER_BYTES);
    }
    while (buffered.length >= 4) {
      if (sawLast) {
        throw damaged();
      }
      const length = buffered.readUInt32BE(0);
      if (length > MAX_CHUNK_BYTES) {
        throw damaged();
      }
      if (buffered.length < 4 + length + TAG_BYTES) {
        return;
      }
      const lengthBytes = buffered.subarray(0, 4);
      const body = buffered.subarray(4, 4 + length);
      const tag = buffered.subarray(4 + length, 4 + length + TAG_BYTES);
      const plain = openChunk(key as KeyObject, prefix as Buffer, header, lengthBytes, body, tag, counter);
      if (!plain) {
        throw damaged();
      }
      counter++;
      sawLast = plain.last;
      if (plain.bytes.length > 0) {
        transform.push(plain.bytes);
      }
      buffered = buffered.subarray(4 + length + TAG_BYTES);
    }
  };

  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      try {
        drain(this);
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
    flush(callback: TransformCallback): void {
      callback(sawLast && buffered.length === 0 ? null : damaged());
    },
  });
}

function openChunk(
  key: KeyObject,
  prefix: Buffer,
  header: Buffer,
  lengthBytes: Buffer,
  body: Buffer,
  tag: Buffer,
  counter: number
): { bytes: Buffer; last: boolean } | undefined {
  // Which flag the chunk was sealed with is not stored: it is the one under which the tag verifies.
  for (const last of [false, true]) {
    const decipher = createDecipheriv('aes-256-gcm', key, chunkNonce(prefix, counter, last), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.concat([header, lengthBytes]));
    decipher.setAuthTag(tag);
    try {
      return { bytes: Buffer.concat([decipher.update(body), decipher.final()]), last };
    } catch {
      // try the other flag
    }
  }
  return undefined;
}

function chunkNonce(prefix: Buffer, counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(counter, PREFIX_BYTES);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Seals and opens files of one purpose with a key it holds; what the server gets instead of the key itself. */
export interface FileCipher {
  /** A sealer for one new file. */
  sealer(): FileSealer;
  /** A Transform that opens one sealed file. */
  unsealer(): Transform;
}

export function fileCipher(masterKey: Buffer, purpose: SealedFilePurpose): FileCipher {
  return {
    sealer: () => new FileSealer(masterKey, purpose),
    unsealer: () => unsealStream(masterKey, purpose),
  };
}
