/**
 * The SMART Backend Services client against a small authorization server inside the test: discovery, a signed
 * assertion the server verifies (RS384 and ES384), the token cached and renewed before expiry, and the FHIR client
 * sending it. The server here checks what backend-services.html asks a server to check, so a wrong claim fails.
 */
import { createPublicKey, generateKeyPairSync, verify, type JsonWebKey } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpFhirClient } from '../httpFhirClient';
import { BackendServicesAuth } from './backendServicesAuth';
import { signClientAssertion } from './clientAssertion';
import { readJwksFile, signingKeyFromJwks, type AssertionAlg } from './jwksKeys';

interface TokenServer {
  readonly base: string;
  readonly tokenRequests: number;
  readonly fhirRequests: string[];
  readonly refusals: string[];
  close(): Promise<void>;
}

const CLIENT_ID = 'recovery-twin-engine';

function privateJwks(): { jwks: { keys: JsonWebKey[] }; publicByKid: Map<string, JsonWebKey> } {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const keys = [
    { ...rsa.privateKey.export({ format: 'jwk' }), kid: 'rsa-1', alg: 'RS384' },
    { ...ec.privateKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES384' },
  ];
  const publicByKid = new Map<string, JsonWebKey>([
    ['rsa-1', rsa.publicKey.export({ format: 'jwk' })],
    ['ec-1', ec.publicKey.export({ format: 'jwk' })],
  ]);
  return { jwks: { keys }, publicByKid };
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) {
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Token endpoint + FHIR endpoint: verifies the assertion as backend-services.html#signature-verification says. */
async function startServer(
  publicByKid: Map<string, JsonWebKey>,
  nowMs: () => number,
  expiresIn = 300
): Promise<TokenServer> {
  let tokenRequests = 0;
  let issued = 0;
  const valid = new Set<string>();
  const seenJti = new Set<string>();
  const fhirRequests: string[] = [];
  const refusals: string[] = [];
  let base = '';
  const refuse = (reason: string): { status: number; json: unknown } => {
    refusals.push(reason);
    return { status: 401, json: { error: 'invalid_client', error_description: reason } };
  };
  const token = (form: URLSearchParams): { status: number; json: unknown } => {
    if (form.get('grant_type') !== 'client_credentials') {
      return { status: 400, json: { error: 'unsupported_grant_type' } };
    }
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      return refuse('assertion type');
    }
    const [h, p, s] = (form.get('client_assertion') ?? '').split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string; kid: string; typ: string };
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const jwk = publicByKid.get(header.kid);
    if (!jwk) return refuse('unknown key');
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const ok =
      header.alg === 'RS384'
        ? verify('sha384', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))
        : header.alg === 'ES384' &&
          verify('sha384', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    if (!ok) return refuse('bad signature');
    if (claims.iss !== CLIENT_ID || claims.sub !== CLIENT_ID) return refuse('iss/sub');
    if (claims.aud !== `${base}/token`) return refuse('audience');
    const now = nowMs() / 1000;
    if (typeof claims.exp !== 'number' || claims.exp <= now) return refuse('expired');
    if (claims.exp > now + 300) return refuse('exp more than 5 minutes ahead');
    if (typeof claims.jti !== 'string' || seenJti.has(claims.jti)) return refuse('replayed jti');
    seenJti.add(claims.jti);
    const scopes = (form.get('scope') ?? '').split(' ').filter((x) => x.startsWith('system/'));
    tokenRequests++;
    const accessToken = `token-${++issued}`;
    valid.add(accessToken);
    return {
      status: 200,
      // Grants only the read scope: the client must report what was granted, not what it asked for.
      json: {
        access_token: accessToken,
        token_type: 'bearer',
        expires_in: expiresIn,
        scope: scopes.filter((x) => x.endsWith('.read') || x.endsWith('.rs')).join(' '),
      },
    };
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const send = (status: number, json: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      if (req.url === '/fhir/.well-known/smart-configuration') {
        return send(200, {
          token_endpoint: `${base}/token`,
          token_endpoint_auth_methods_supported: ['private_key_jwt'],
          token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
          grant_types_supported: ['client_credentials'],
          capabilities: ['client-confidential-asymmetric'],
        });
      }
      if (req.url === '/token' && req.method === 'POST') {
        const r = token(new URLSearchParams(await body(req)));
        return send(r.status, r.json);
      }
      if (req.url?.startsWith('/fhir/Patient/')) {
        const auth = req.headers.authorization ?? '';
        fhirRequests.push(auth);
        if (!valid.has(auth.replace(/^Bearer /, ''))) {
          return send(401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
        }
        return send(200, { resourceType: 'Patient', id: req.url.split('/')[3] });
      }
      send(404, {});
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    get tokenRequests() {
      return tokenRequests;
    },
    fhirRequests,
    refusals,
    revokeAll: () => valid.clear(),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  } as TokenServer & { revokeAll(): void };
}

const { jwks, publicByKid } = privateJwks();
const jwksFile = join(mkdtempSync(join(tmpdir(), 'jwks-')), 'client.jwks.json');
writeFileSync(jwksFile, JSON.stringify(jwks));

describe.each<AssertionAlg>(['RS384', 'ES384'])('backend services with %s', (alg) => {
  let clock = Date.UTC(2026, 0, 1, 8);
  let server: TokenServer & { revokeAll(): void };
  beforeEach(async () => {
    clock = Date.UTC(2026, 0, 1, 8);
    server = (await startServer(publicByKid, () => clock)) as TokenServer & { revokeAll(): void };
  });
  afterEach(() => server.close());

  test('discovers the token endpoint, signs an accepted assertion, caches the token and renews it before expiry', async () => {
    const auth = new BackendServicesAuth({
      fhirBase: `${server.base}/fhir`,
      clientId: CLIENT_ID,
      key: signingKeyFromJwks(readJwksFile(jwksFile), alg),
      scopes: ['system/Observation.rs', 'system/Observation.cud'],
      now: () => clock,
    });
    const fhir = new HttpFhirClient({
      baseUrl: `${server.base}/fhir`,
      authorization: () => auth.authorization(),
      onUnauthorized: () => auth.invalidate(),
    });
    await fhir.read('Patient', 'a');
    await fhir.read('Patient', 'b');
    expect(server.refusals).toEqual([]);
    expect(server.tokenRequests).toBe(1);
    expect(server.fhirRequests).toEqual(['Bearer token-1', 'Bearer token-1']);
    // The server granted fewer scopes than requested; the client reports the grant.
    expect(auth.grantedScopes()).toEqual(['system/Observation.rs']);
    // 250 s later the 300 s token is within its 60 s renewal margin: a new one is fetched.
    clock += 200_000;
    await fhir.read('Patient', 'c');
    expect(server.tokenRequests).toBe(1);
    clock += 50_000;
    await fhir.read('Patient', 'd');
    expect(server.tokenRequests).toBe(2);
    expect(server.fhirRequests.at(-1)).toBe('Bearer token-2');
    // A token the server stopped accepting: the 401 drops it and the request is retried once with a new one.
    server.revokeAll();
    await fhir.read('Patient', 'e');
    expect(server.tokenRequests).toBe(3);
    expect(server.fhirRequests.slice(-2)).toEqual(['Bearer token-2', 'Bearer token-3']);
  });

  test('concurrent requests share one token request; every assertion has a new jti', async () => {
    const auth = new BackendServicesAuth({
      fhirBase: `${server.base}/fhir`,
      tokenUrl: `${server.base}/token`,
      clientId: CLIENT_ID,
      key: signingKeyFromJwks(jwks, alg),
      scopes: ['system/Patient.rs'],
      now: () => clock,
    });
    const headers = await Promise.all([auth.authorization(), auth.authorization(), auth.authorization()]);
    expect(new Set(headers).size).toBe(1);
    expect(server.tokenRequests).toBe(1);
    auth.invalidate();
    await auth.authorization();
    expect(server.tokenRequests).toBe(2); // a replayed jti would have been refused
    expect(server.refusals).toEqual([]);
  });
});

test('the assertion carries the claims backend-services.html asks for, exp at most 5 minutes ahead', () => {
  const key = signingKeyFromJwks(jwks, 'ES384');
  const jwt = signClientAssertion({
    clientId: 'c',
    tokenUrl: 'https://as.example/token',
    key,
    nowSeconds: 1000,
    lifetimeSeconds: 9999,
  });
  const [h, p] = jwt.split('.');
  expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'ES384', kid: 'ec-1', typ: 'JWT' });
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  expect(claims).toMatchObject({ iss: 'c', sub: 'c', aud: 'https://as.example/token', exp: 1300 });
  expect(claims.jti).toEqual(expect.any(String));
});

test('refuses non-system scopes, a JWKS without a usable key, and a server that does not offer private_key_jwt', async () => {
  const key = signingKeyFromJwks(jwks, 'RS384');
  expect(
    () => new BackendServicesAuth({ fhirBase: 'http://x', clientId: 'c', key, scopes: ['patient/Observation.rs'] })
  ).toThrow(/system\/ scopes only/);
  expect(() => signingKeyFromJwks({ keys: [jwks.keys[1]] }, 'RS384')).toThrow(/no private RSA key/);
  expect(() => signingKeyFromJwks({ keys: [{ ...jwks.keys[0], d: undefined }] }, 'RS384')).toThrow(/no private/);
  const fetchFn = (async () =>
    new Response(
      JSON.stringify({
        token_endpoint: 'http://x/token',
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
      }),
      {
        status: 200,
      }
    )) as typeof fetch;
  const auth = new BackendServicesAuth({
    fhirBase: 'http://x',
    clientId: 'c',
    key,
    scopes: ['system/*.rs'],
    fetch: fetchFn,
  });
  await expect(auth.authorization()).rejects.toThrow(/does not include private_key_jwt/);
});

test('a refused token request is reported with its OAuth error code, not retried silently', async () => {
  let clock = Date.UTC(2026, 0, 1, 8);
  const other = privateJwks();
  const server = await startServer(publicByKid, () => clock);
  try {
    // A key the server does not know (same kid, other key pair): the signature fails.
    const auth = new BackendServicesAuth({
      fhirBase: `${server.base}/fhir`,
      clientId: CLIENT_ID,
      key: signingKeyFromJwks(other.jwks, 'RS384'),
      scopes: ['system/Patient.rs'],
      now: () => clock,
    });
    await expect(auth.authorization()).rejects.toThrow(/refused the backend-services request \(401 invalid_client\)/);
    expect(server.refusals).toEqual(['bad signature']);
    clock += 1;
  } finally {
    await server.close();
  }
});
