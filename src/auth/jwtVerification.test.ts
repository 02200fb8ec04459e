import { OperationOutcomeError } from '@medplum/core';
import jwt from 'jsonwebtoken';
import { generateKeyPairSync } from 'node:crypto';
import { verifyJwt } from './jwtVerification';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const NOW = new Date('2026-03-02T10:00:00Z');
const ISSUER = 'https://ehr.example/oauth2';

function tokenFor(aud: string): string {
  return jwt.sign({ iss: ISSUER, aud, exp: Math.floor(NOW.getTime() / 1000) + 300 }, privateKey, {
    algorithm: 'ES256',
    keyid: 'k1',
  });
}

const options = {
  resolveKey: () => Promise.resolve(publicKey),
  audience: 'https://engine.example/fhir/R4',
  issuers: [ISSUER],
  now: () => NOW,
};

test("a token for another server is refused with the audience this server expects, not the token's", async () => {
  await expect(verifyJwt(tokenFor('https://engine.example/fhir/R4'), options)).resolves.toMatchObject({ iss: ISSUER });
  const refused = await verifyJwt(tokenFor('https://ehr.example/fhir/R4'), options).then(
    () => undefined,
    (err: unknown) => err
  );
  expect(refused).toBeInstanceOf(OperationOutcomeError);
  const text = (refused as OperationOutcomeError).outcome.issue?.[0]?.details?.text ?? '';
  expect(text).toBe("The token's aud is not this server's FHIR base (https://engine.example/fhir/R4)");
  expect(text).not.toContain('ehr.example');
});
