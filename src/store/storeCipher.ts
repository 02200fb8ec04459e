import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { internalFault } from '../fhir/outcomes';

/** Value of `store_meta.encryption` in an encrypted store; another value is a format this build cannot read. */
export const ENCRYPTION_SCHEME = 'aes-256-gcm+hkdf-sha256+hmac-ids/v1';

const NONCE_BYTES = 12; // NIST SP 800-38D: 96-bit IVs for GCM
const TAG_BYTES = 16;
/** First byte of every sealed row, so a later format can be told apart. */
const ROW_FORMAT = 1;

/**
 * How row contents and resource ids are written to the store: as they are (a plain store) or sealed (an encrypted
 * one). The repository calls these and never asks which kind it has.
 */
export interface RowCodec {
  readonly encrypted: boolean;
  /** The key stored in `resources.id` for a resource id. */
  storedId(resourceType: string, id: string): string;
  /** The `content` column for a resource version's JSON; `aad` binds it to its row. */
  seal(json: string, row: RowBinding): string | Uint8Array;
  /** The JSON back from a `content` column; throws when it was altered or moved to another row. */
  open(content: string | Uint8Array, row: RowBinding): string;
}

/** What a sealed row is bound to: a blob copied to another resource or version no longer opens. */
export interface RowBinding {
  readonly resourceType: string;
  /** The stored id (keyed hash in an encrypted store). */
  readonly storedId: string;
  readonly version: number;
}

export const PLAIN_ROWS: RowCodec = {
  encrypted: false,
  storedId: (_resourceType, id) => id,
  seal: (json) => json,
  open: (content) => (typeof content === 'string' ? content : Buffer.from(content).toString('utf8')),
};

/**
 * Application-level encryption of the store (README "Encryption at rest and in transit"). From the one store key,
 * HKDF-SHA256 (RFC 5869) with the store's random salt derives independent sub-keys: one for AES-256-GCM on row
 * contents, one for HMAC-SHA256 of resource ids, one for the key check value. Each row gets a fresh random 96-bit
 * nonce; its additional authenticated data is (resource type, stored id, version).
 */
export class StoreCipher implements RowCodec {
  readonly encrypted = true;
  // KeyObjects, not Buffers: node:crypto then imports each key once, not at every row (4-6x faster per call).
  private readonly contentKey: KeyObject;
  private readonly idKey: KeyObject;
  private readonly checkKey: KeyObject;

  constructor(masterKey: Buffer, salt: Buffer) {
    this.contentKey = createSecretKey(subKey(masterKey, salt, 'recovery-twin/store/content'));
    this.idKey = createSecretKey(subKey(masterKey, salt, 'recovery-twin/store/resource-id'));
    this.checkKey = createSecretKey(subKey(masterKey, salt, 'recovery-twin/store/key-check'));
  }

  /** Stored in `store_meta`: tells a wrong key from the right one at open, and reveals nothing of the key. */
  keyCheckValue(): string {
    return createHmac('sha256', this.checkKey).update('recovery-twin key check').digest('hex');
  }

  matchesKeyCheck(stored: string): boolean {
    const mine = Buffer.from(this.keyCheckValue(), 'hex');
    const theirs = Buffer.from(stored, 'hex');
    return mine.length === theirs.length && timingSafeEqual(mine, theirs);
  }

  storedId(resourceType: string, id: string): string {
    return createHmac('sha256', this.idKey).update(`${resourceType}/${id}`).digest('base64url');
  }

  seal(json: string, row: RowBinding): Uint8Array {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.contentKey, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(row));
    const body = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(ROW_FORMAT), nonce, body, cipher.getAuthTag()]);
  }

  open(content: string | Uint8Array, row: RowBinding): string {
    const bytes = typeof content === 'string' ? undefined : Buffer.from(content);
    if (!bytes || bytes.length < 1 + NONCE_BYTES + TAG_BYTES || bytes[0] !== ROW_FORMAT) {
      throw internalFault('A stored resource is not sealed with this store format');
    }
    const nonce = bytes.subarray(1, 1 + NONCE_BYTES);
    const tag = bytes.subarray(bytes.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.contentKey, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(row));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([
        decipher.update(bytes.subarray(1 + NONCE_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      // Never the content: only that the row fails authentication (altered, or copied from another row).
      throw internalFault(`A stored ${row.resourceType} version fails authentication: the store file was altered`);
    }
  }
}

/** A fresh random salt for a new encrypted store (RFC 5869 section 3.1: a salt adds strength to HKDF). */
export function newStoreSalt(): Buffer {
  return randomBytes(16);
}

export function subKey(masterKey: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, salt, info, 32));
}

function aad(row: RowBinding): Buffer {
  return Buffer.from(`${row.resourceType}\u0000${row.storedId}\u0000${row.version}`, 'utf8');
}
