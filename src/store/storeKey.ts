import { readFileSync, statSync } from 'node:fs';
import { invalidInput } from '../fhir/outcomes';

/** AES-256 takes a 256-bit key. */
export const STORE_KEY_BYTES = 32;

/** Where the store key comes from: the environment, or a key file named by a flag or the environment. */
export interface StoreKeySources {
  readonly env: NodeJS.ProcessEnv;
  /** `--store-key-file`; wins over `TWIN_STORE_KEY_FILE`. */
  readonly keyFile?: string;
}

/**
 * The store key, or undefined when none is configured (the store is then a plain one). `TWIN_STORE_KEY` holds the
 * key itself (base64 or hex of 32 bytes); a key file (`--store-key-file` / `TWIN_STORE_KEY_FILE`) holds the same
 * text and must not be readable or writable by other users, so a key left in a 0644 file is refused rather than used.
 * Giving both the variable and a file is refused: which one wins would be a guess.
 */
export function loadStoreKey(sources: StoreKeySources): Buffer | undefined {
  const file = sources.keyFile ?? nonEmpty(sources.env.TWIN_STORE_KEY_FILE);
  const inline = nonEmpty(sources.env.TWIN_STORE_KEY);
  if (file && inline) {
    throw invalidInput('Give the store key either in TWIN_STORE_KEY or in a key file, not both');
  }
  if (file) {
    return readKeyFile(file);
  }
  return inline ? parseKey(inline, 'TWIN_STORE_KEY') : undefined;
}

/** A key given as text: 64 hex digits, or base64 (standard or URL-safe) of 32 bytes. */
export function parseKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) {
    key = Buffer.from(trimmed, 'hex');
  } else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    key = Buffer.from(trimmed, 'base64');
  }
  if (!key || key.length !== STORE_KEY_BYTES) {
    throw invalidInput(
      `${source} must be 32 random bytes as 64 hex digits or base64 (e.g. the output of \`openssl rand -base64 32\`)`
    );
  }
  return key;
}

function readKeyFile(path: string): Buffer {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    throw invalidInput(`Store key file ${path} cannot be read`);
  }
  // POSIX permission bits: any access for "others" means every local account can read the key.
  if (process.platform !== 'win32' && (mode & 0o007) !== 0) {
    throw invalidInput(
      `Store key file ${path} is accessible to other users (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`
    );
  }
  return parseKey(readFileSync(path, 'utf8'), `Store key file ${path}`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
