/**
 * `twin serve` on an encrypted data directory refuses to start without its key, with another key, or with a key file
 * other users can read, and says why (README "Encryption at rest and in transit").
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteRepository } from '../src/store/sqliteRepository';

const ROOT = join(__dirname, '..');

function serve(
  dataDir: string,
  env: Record<string, string>,
  extra: string[] = []
): Promise<{ code: number | null; out: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--no-seed',
      '--auth',
      'open',
      ...extra,
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TWIN_STORE_KEY'))),
        ORT_DISABLE_TELEMETRY: '1',
        ...env,
      },
    }
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('twin serve on an encrypted store', () => {
  let root: string;
  let dataDir: string;
  const key = randomBytes(32);

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'twin-serve-crypt-'));
    dataDir = join(root, 'data');
    mkdirSync(dataDir);
    new SqliteRepository({ path: join(dataDir, 'fhir.sqlite'), baseUrl: 'http://localhost/fhir/R4', key }).close();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('refuses to start without the key, with another key, and with a world-readable key file', async () => {
    const openFile = join(root, 'open.key');
    writeFileSync(openFile, key.toString('base64'));
    chmodSync(openFile, 0o644);
    const [none, wrong, readable] = await Promise.all([
      serve(dataDir, {}),
      serve(dataDir, { TWIN_STORE_KEY: randomBytes(32).toString('hex') }),
      serve(dataDir, {}, ['--store-key-file', openFile]),
    ]);
    expect(none.code).toBe(1);
    expect(none.out).toMatch(/This store is encrypted: give its key/);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/The store key does not match this store/);
    expect(readable.code).toBe(1);
    expect(readable.out).toMatch(/accessible to other users \(mode 644\)/);
    for (const run of [none, wrong, readable]) {
      expect(run.out).not.toMatch(/Ready\./);
    }
  }, 120_000);
});
