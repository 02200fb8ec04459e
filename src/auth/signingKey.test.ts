import jwt from 'jsonwebtoken';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSigningKey } from './signingKey';

describe('the authorization server signing key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-key-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('is generated on first start, kept private in the data directory, and the same on the next start', () => {
    const first = loadOrCreateSigningKey(dir);
    expect(first.created).toBe(true);
    const file = join(dir, 'auth', 'signing-key.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = jwt.sign({ sub: 'x' }, first.key.privateKey, { algorithm: 'ES256' });

    const second = loadOrCreateSigningKey(dir);
    expect(second.created).toBe(false);
    expect(second.key.kid).toBe(first.key.kid);
    // A token signed before the restart verifies after it.
    expect((jwt.verify(token, second.key.publicKey, { algorithms: ['ES256'] }) as { sub: string }).sub).toBe('x');
    // The published half has no private member.
    expect(second.key.publicJwk.d).toBeUndefined();
  });
});
