import type { Bundle, Observation, Patient, Practitioner } from '@medplum/fhirtypes';
import jwt from 'jsonwebtoken';
import { createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PublicClient, BackendClient } from '../src/authServer/registeredClients';
import { BackendServicesAuth } from '../src/fhir/smart/backendServicesAuth';
import { HttpFhirClient } from '../src/fhir/httpFhirClient';
import { startDoorServer, type DoorServer } from './support/doorServer';

const FHIR_JSON = 'application/fhir+json';
const APP_ORIGIN = 'http://app.example';
const REDIRECT = `${APP_ORIGIN}/app/`;
const PATIENT_SCOPES =
  'launch/patient openid fhirUser offline_access patient/Patient.r patient/Observation.rs patient/CarePlan.cru';

const patientA: Patient = { resourceType: 'Patient', id: 'pat-a', name: [{ given: ['Ada'], family: 'Able' }] };
const patientB: Patient = { resourceType: 'Patient', id: 'pat-b', name: [{ given: ['Bo'], family: 'Baker' }] };
const practitioner: Practitioner = {
  resourceType: 'Practitioner',
  id: 'prac-1',
  name: [{ given: ['Casey'], family: 'Clinician' }],
};
function observation(id: string, patient: string): Observation {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { text: 'resting heart rate' },
    subject: { reference: `Patient/${patient}` },
    valueQuantity: { value: 60, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

// The backend client's key (SMART Backend Services: ES384 is one the server SHALL support).
const backendKeys = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const backendKid = 'backend-key-1';
const backendJwk = {
  ...(backendKeys.publicKey.export({ format: 'jwk' }) as Record<string, unknown>),
  kid: backendKid,
  alg: 'ES384',
  use: 'sig',
};

function clients(origin: string): Array<PublicClient | BackendClient> {
  void origin;
  return [
    {
      type: 'public',
      clientId: 'twin-app',
      name: 'Recovery twin',
      redirectUris: [REDIRECT],
      launchUrl: `${APP_ORIGIN}/app/launch.html`,
      allowedScopes: `launch launch/patient openid fhirUser offline_access online_access patient/*.cruds user/*.cruds`,
    },
    {
      type: 'backend',
      clientId: 'twin-bot',
      name: 'Twin bot',
      jwks: { keys: [backendJwk] },
      allowedScopes: 'system/*.rs system/Observation.cru',
    },
    {
      type: 'backend',
      clientId: 'other-bot',
      name: 'Another service',
      jwks: { keys: [backendJwk] },
      allowedScopes: 'system/*.rs',
    },
  ];
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeUrl(server: DoorServer, params: Record<string, string>): string {
  const url = new URL(`${server.issuer}/authorize`);
  for (const [k, v] of Object.entries(params)) {
    url.searchParams.set(k, v);
  }
  return url.toString();
}

function form(body: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
    redirect: 'manual',
  };
}

interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  scope: string;
  patient?: string;
  expires_in: number;
}

/** Standalone launch as a browser would: authorize -> login form with patient picker -> code -> token. */
async function standaloneLogin(server: DoorServer, patient: string, scope = PATIENT_SCOPES): Promise<TokenResponse> {
  const { verifier, challenge } = pkce();
  const state = randomUUID();
  const page = await fetch(
    authorizeUrl(server, {
      response_type: 'code',
      client_id: 'twin-app',
      redirect_uri: REDIRECT,
      scope,
      state,
      aud: server.baseUrl,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }),
    { redirect: 'manual' }
  );
  expect(page.status).toBe(200);
  const html = await page.text();
  const requestId = /name="request_id" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const login = await fetch(
    `${server.issuer}/authorize`,
    form({ request_id: requestId, practitioner: 'Practitioner/prac-1', patient })
  );
  expect(login.status).toBe(303);
  const back = new URL(login.headers.get('location') ?? '');
  expect(back.origin + back.pathname).toBe(REDIRECT);
  expect(back.searchParams.get('state')).toBe(state);
  const token = await fetch(
    `${server.issuer}/token`,
    form({
      grant_type: 'authorization_code',
      code: back.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT,
      client_id: 'twin-app',
      code_verifier: verifier,
    })
  );
  expect(token.status).toBe(200);
  expect(token.headers.get('cache-control')).toBe('no-store');
  return (await token.json()) as TokenResponse;
}

function get(
  server: DoorServer,
  path: string,
  token?: string,
  headers: Record<string, string> = {}
): Promise<Response> {
  return fetch(`${server.baseUrl}/${path}`, {
    headers: { Accept: FHIR_JSON, ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
  });
}

function post(
  server: DoorServer,
  path: string,
  body: unknown,
  token?: string,
  contentType = FHIR_JSON
): Promise<Response> {
  return fetch(`${server.baseUrl}/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': contentType, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function backendAssertion(
  server: DoorServer,
  overrides: Record<string, unknown> = {},
  kid = backendKid,
  key = backendKeys.privateKey
): string {
  const now = Math.floor(server.clock.now.getTime() / 1000);
  return jwt.sign(
    {
      iss: 'twin-bot',
      sub: 'twin-bot',
      aud: `${server.issuer}/token`,
      exp: now + 240,
      jti: randomUUID(),
      ...overrides,
    },
    key,
    { algorithm: 'ES384', header: { alg: 'ES384', kid, typ: 'JWT' } }
  );
}

async function backendToken(server: DoorServer, assertion: string, scope = 'system/*.rs'): Promise<Response> {
  return fetch(
    `${server.issuer}/token`,
    form({
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    })
  );
}

describe('the clinician door: local SMART authorization server and the FHIR API that verifies its tokens', () => {
  let server: DoorServer;
  let bulkDir: string;

  beforeAll(async () => {
    bulkDir = mkdtempSync(join(tmpdir(), 'twin-door-bulk-'));
    server = await startDoorServer({
      clients,
      bulkDir,
      allowedOrigins: [APP_ORIGIN],
      seed: [patientA, patientB, practitioner, observation('obs-a', 'pat-a'), observation('obs-b', 'pat-b')],
    });
  });

  afterAll(async () => {
    await server.close();
    rmSync(bulkDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    server.clock.now = new Date();
  });

  test('discovery at [base]/.well-known/smart-configuration names the endpoints, S256 and the capabilities', async () => {
    const res = await fetch(`${server.baseUrl}/.well-known/smart-configuration`);
    expect(res.status).toBe(200);
    const config = (await res.json()) as Record<string, unknown>;
    expect(config.issuer).toBe(server.issuer);
    expect(config.token_endpoint).toBe(`${server.issuer}/token`);
    expect(config.code_challenge_methods_supported).toEqual(['S256']);
    expect(config.capabilities).toEqual(
      expect.arrayContaining(['launch-ehr', 'launch-standalone', 'permission-v2', 'client-confidential-asymmetric'])
    );
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]?.d).toBeUndefined();
  });

  test('unauthenticated requests are refused: read, search, write, operations, export; /metadata stays public', async () => {
    expect((await get(server, 'metadata')).status).toBe(200);
    const read = await get(server, 'Patient/pat-a');
    expect(read.status).toBe(401);
    expect(read.headers.get('www-authenticate')).toContain('Bearer');
    expect((await get(server, 'Patient')).status).toBe(401);
    expect((await post(server, 'Patient', { resourceType: 'Patient' })).status).toBe(401);
    expect((await post(server, 'Patient/pat-a/$match-evidence', { resourceType: 'Parameters' })).status).toBe(401);
    expect((await get(server, 'Patient/$export', undefined, { Prefer: 'respond-async' })).status).toBe(401);
    // A browser "simple request" (text/plain, no preflight) is refused before anything runs.
    expect((await post(server, 'Patient/pat-a/$match-evidence', '{}', undefined, 'text/plain')).status).toBe(415);
    // A token in the query string is never read (it would end up in logs and histories).
    expect((await get(server, 'Patient/pat-a?access_token=abc')).status).toBe(401);
  });

  test('a Host the server does not answer to is refused (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${server.baseUrl}/metadata`);
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname, headers: { Host: 'evil.example' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  test('standalone launch: a patient-level token reads its patient and nothing of another patient', async () => {
    const token = await standaloneLogin(server, 'pat-a');
    expect(token.patient).toBe('pat-a');
    expect(token.scope.split(' ')).toEqual(expect.arrayContaining(['patient/Observation.rs', 'launch/patient']));
    const claims = jwt.decode(token.access_token) as Record<string, unknown>;
    expect(claims).toMatchObject({
      aud: server.baseUrl,
      iss: server.issuer,
      patient: 'pat-a',
      fhirUser: 'Practitioner/prac-1',
    });
    const idToken = jwt.decode(token.id_token ?? '') as Record<string, unknown>;
    expect(idToken.fhirUser).toBe(`${server.baseUrl}/Practitioner/prac-1`);

    const own = await get(server, 'Patient/pat-a', token.access_token);
    expect(own.status).toBe(200);
    expect(own.headers.get('cache-control')).toBe('no-store');
    expect(((await own.json()) as Patient).id).toBe('pat-a');
    expect((await get(server, 'Observation/obs-a', token.access_token)).status).toBe(200);

    // Patient B: nothing, not even whether it exists.
    expect((await get(server, 'Patient/pat-b', token.access_token)).status).toBe(404);
    expect((await get(server, 'Observation/obs-b', token.access_token)).status).toBe(404);
    expect((await get(server, 'Observation?patient=pat-b', token.access_token)).status).toBe(403);
    expect((await get(server, 'Observation', token.access_token)).status).toBe(403);
    const search = await get(server, 'Observation?patient=pat-a', token.access_token);
    expect(search.status).toBe(200);
    const ids = ((await search.json()) as Bundle).entry?.map((e) => e.resource?.id);
    expect(ids).toEqual(['obs-a']);

    // Writes: only the own patient's, only what the scopes grant.
    const carePlanB = {
      resourceType: 'CarePlan',
      status: 'draft',
      intent: 'proposal',
      subject: { reference: 'Patient/pat-b' },
    };
    expect((await post(server, 'CarePlan', carePlanB, token.access_token)).status).toBe(403);
    const carePlanA = { ...carePlanB, subject: { reference: 'Patient/pat-a' } };
    expect((await post(server, 'CarePlan', carePlanA, token.access_token)).status).toBe(201);
    const notGranted = await post(server, 'Observation', observation('x', 'pat-a'), token.access_token);
    expect(notGranted.status).toBe(403);
    expect(notGranted.headers.get('www-authenticate')).toContain('insufficient_scope');
    expect(
      (await post(server, '', { resourceType: 'Bundle', type: 'batch', entry: [] }, token.access_token)).status
    ).toBe(403);
    expect((await get(server, 'Patient/$export', token.access_token, { Prefer: 'respond-async' })).status).toBe(403);
  });

  test('a token holding patient- and user-level scopes stays confined where only its patient scopes grant', async () => {
    const token = await standaloneLogin(
      server,
      'pat-a',
      'launch/patient openid fhirUser patient/Observation.rs user/Patient.rs user/Task.u user/CarePlan.u'
    );
    // user/Patient.rs: every patient's demographics (the care-team list).
    expect((await get(server, 'Patient/pat-b', token.access_token)).status).toBe(200);
    // patient/Observation.rs only: still confined to pat-a.
    expect((await get(server, 'Observation/obs-b', token.access_token)).status).toBe(404);
    expect((await get(server, 'Observation?patient=pat-b', token.access_token)).status).toBe(403);
    // A review is decided in the signed-in clinician's name only.
    const review = (practitionerRef: string): Promise<Response> =>
      post(
        server,
        'Task/task-1/$review',
        {
          resourceType: 'Parameters',
          parameter: [
            { name: 'decision', valueCode: 'accept' },
            { name: 'practitioner', valueReference: { reference: practitionerRef } },
          ],
        },
        token.access_token
      );
    expect((await review('Practitioner/someone-else')).status).toBe(403);
    expect((await review('Practitioner/prac-1')).status).not.toBe(403);
  });

  test('expired, wrongly signed, unsigned (alg=none), HMAC and wrong-audience tokens are refused', async () => {
    const { access_token: good } = await standaloneLogin(server, 'pat-a');
    expect((await get(server, 'Patient/pat-a', good)).status).toBe(200);
    const claims = jwt.decode(good) as Record<string, unknown>;

    server.clock.now = new Date(Date.now() + 3600_000);
    const expired = await get(server, 'Patient/pat-a', good);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('invalid_token');
    server.clock.now = new Date();

    const forger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = jwt.sign(claims, forger.privateKey, {
      algorithm: 'ES256',
      header: { alg: 'ES256', kid: server.signingKey.kid },
    });
    expect((await get(server, 'Patient/pat-a', forged)).status).toBe(401);

    const [, payload] = good.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    expect((await get(server, 'Patient/pat-a', none)).status).toBe(401);

    // HMAC keyed with the server's PUBLIC key (the classic algorithm-confusion forgery).
    const publicPem = server.signingKey.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const hmac = jwt.sign(claims, publicPem, {
      algorithm: 'HS256',
      header: { alg: 'HS256', kid: server.signingKey.kid },
    });
    expect((await get(server, 'Patient/pat-a', hmac)).status).toBe(401);

    const otherAudience = jwt.sign({ ...claims, aud: 'https://other.example/fhir' }, server.signingKey.privateKey, {
      algorithm: 'ES256',
      header: { alg: 'ES256', kid: server.signingKey.kid },
    });
    expect((await get(server, 'Patient/pat-a', otherAudience)).status).toBe(401);
    // No token ever reaches the log.
    expect(server.logLines.join('\n')).not.toContain(good.slice(20, 60));
  });

  test('authorize refuses: no PKCE, plain PKCE, no state, wrong aud, unregistered redirect URI; token refuses a wrong verifier and a reused code', async () => {
    const { challenge, verifier } = pkce();
    const base = {
      response_type: 'code',
      client_id: 'twin-app',
      redirect_uri: REDIRECT,
      scope: PATIENT_SCOPES,
      state: randomUUID(),
      aud: server.baseUrl,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    };
    const errorOf = async (params: Record<string, string>): Promise<string | null> => {
      const res = await fetch(authorizeUrl(server, params), { redirect: 'manual' });
      return new URL(res.headers.get('location') ?? 'http://x/').searchParams.get('error');
    };
    expect(await errorOf({ ...base, code_challenge_method: 'plain', code_challenge: verifier })).toBe(
      'invalid_request'
    );
    const { code_challenge: _c, code_challenge_method: _m, ...noPkce } = base;
    void _c;
    void _m;
    expect(await errorOf(noPkce)).toBe('invalid_request');
    expect(await errorOf({ ...base, state: '' })).toBe('invalid_request');
    expect(await errorOf({ ...base, aud: 'https://other.example/fhir' })).toBe('invalid_request');
    const open = await fetch(authorizeUrl(server, { ...base, redirect_uri: 'https://evil.example/cb' }), {
      redirect: 'manual',
    });
    expect(open.status).toBe(400);
    expect(open.headers.get('location')).toBeNull();

    const page = await (await fetch(authorizeUrl(server, base), { redirect: 'manual' })).text();
    const requestId = /name="request_id" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const login = await fetch(
      `${server.issuer}/authorize`,
      form({ request_id: requestId, practitioner: 'Practitioner/prac-1', patient: 'pat-a' })
    );
    const code = new URL(login.headers.get('location') ?? '').searchParams.get('code') ?? '';
    const exchange = (v: string): Promise<Response> =>
      fetch(
        `${server.issuer}/token`,
        form({
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT,
          client_id: 'twin-app',
          code_verifier: v,
        })
      );
    const wrong = await exchange(pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: string }).error).toBe('invalid_grant');
    // The code was spent by the failed attempt: a code is single-use whatever happens.
    expect((await exchange(verifier)).status).toBe(400);
  });

  test('refresh tokens rotate; a used refresh token is refused', async () => {
    const first = await standaloneLogin(server, 'pat-a');
    const refresh = (token: string): Promise<Response> =>
      fetch(
        `${server.issuer}/token`,
        form({ grant_type: 'refresh_token', refresh_token: token, client_id: 'twin-app' })
      );
    const second = await refresh(first.refresh_token ?? '');
    expect(second.status).toBe(200);
    const body = (await second.json()) as TokenResponse;
    expect(body.patient).toBe('pat-a');
    expect(body.refresh_token).not.toBe(first.refresh_token);
    expect((await get(server, 'Patient/pat-a', body.access_token)).status).toBe(200);
    expect((await refresh(first.refresh_token ?? '')).status).toBe(400);
  });

  test('EHR launch from the simulator: the launch carries practitioner and patient; the code comes at once', async () => {
    const launcher = await fetch(`${server.issuer}/launcher`);
    expect(launcher.status).toBe(200);
    expect(await launcher.text()).toContain('<label for="patient">');
    const launched = await fetch(
      `${server.issuer}/launcher`,
      form({ app: 'twin-app', practitioner: 'Practitioner/prac-1', patient: 'pat-b' })
    );
    expect(launched.status).toBe(303);
    const launchUrl = new URL(launched.headers.get('location') ?? '');
    expect(launchUrl.searchParams.get('iss')).toBe(server.baseUrl);
    const launch = launchUrl.searchParams.get('launch') ?? '';
    const { verifier, challenge } = pkce();
    const state = randomUUID();
    const params = {
      response_type: 'code',
      client_id: 'twin-app',
      redirect_uri: REDIRECT,
      scope: 'launch openid fhirUser patient/Patient.r patient/Observation.rs',
      state,
      aud: server.baseUrl,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      launch,
    };
    const auth = await fetch(authorizeUrl(server, params), { redirect: 'manual' });
    expect(auth.status).toBe(303);
    const code = new URL(auth.headers.get('location') ?? '').searchParams.get('code') ?? '';
    const token = (await (
      await fetch(
        `${server.issuer}/token`,
        form({
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT,
          client_id: 'twin-app',
          code_verifier: verifier,
        })
      )
    ).json()) as TokenResponse;
    expect(token.patient).toBe('pat-b');
    expect((await get(server, 'Observation/obs-b', token.access_token)).status).toBe(200);
    expect((await get(server, 'Observation/obs-a', token.access_token)).status).toBe(404);
    // A launch is single-use.
    const again = await fetch(authorizeUrl(server, { ...params, state: randomUUID() }), { redirect: 'manual' });
    expect(new URL(again.headers.get('location') ?? 'http://x/').searchParams.get('error')).toBe('invalid_request');
  });

  test('Backend Services: a valid private_key_jwt assertion gets a system token; expired, > 5 min, replayed, wrong aud and unknown key are refused', async () => {
    const assertion = backendAssertion(server);
    const ok = await backendToken(server, assertion);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as TokenResponse;
    expect(body.scope).toBe('system/*.rs');
    const all = await get(server, 'Observation', body.access_token);
    expect(all.status).toBe(200);
    expect(((await all.json()) as Bundle).entry?.length).toBeGreaterThanOrEqual(2);
    // The scope grants reads, not writes.
    expect((await post(server, 'Patient', { resourceType: 'Patient' }, body.access_token)).status).toBe(403);

    const refused = async (a: string): Promise<string> => {
      const res = await backendToken(server, a);
      expect(res.status).toBe(401);
      return ((await res.json()) as { error: string }).error;
    };
    expect(await refused(assertion)).toBe('invalid_client'); // replayed jti
    const now = Math.floor(server.clock.now.getTime() / 1000);
    expect(await refused(backendAssertion(server, { exp: now - 10 }))).toBe('invalid_client');
    expect(await refused(backendAssertion(server, { exp: now + 600 }))).toBe('invalid_client');
    expect(await refused(backendAssertion(server, { aud: `${server.baseUrl}` }))).toBe('invalid_client');
    expect(await refused(backendAssertion(server, {}, 'unknown-kid'))).toBe('invalid_client');
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(await refused(backendAssertion(server, {}, backendKid, stranger.privateKey))).toBe('invalid_client');
    expect(await refused(backendAssertion(server, { iss: 'nobody', sub: 'nobody' }))).toBe('invalid_client');
  });

  test("the engine's own Backend Services client (src/fhir/smart) gets a system token from the embedded server by discovery and reads through HttpFhirClient", async () => {
    const auth = new BackendServicesAuth({
      fhirBase: server.baseUrl,
      clientId: 'twin-bot',
      key: { kid: backendKid, alg: 'ES384', key: backendKeys.privateKey },
      scopes: ['system/*.rs'],
      now: () => server.clock.now.getTime(),
    });
    const client = new HttpFhirClient({ baseUrl: server.baseUrl, authorization: () => auth.authorization() });
    const patients = await client.searchAll<Patient>('Patient', {});
    expect(patients.map((p) => p.id)).toEqual(expect.arrayContaining(['pat-a', 'pat-b']));
    // The same read without the client's token is refused.
    await expect(new HttpFhirClient({ baseUrl: server.baseUrl }).searchAll<Patient>('Patient', {})).rejects.toThrow();
    // A scope the server does not grant this client is not obtained by asking for it.
    const greedy = new BackendServicesAuth({
      fhirBase: server.baseUrl,
      clientId: 'other-bot',
      key: { kid: backendKid, alg: 'ES384', key: backendKeys.privateKey },
      scopes: ['system/Patient.cud'],
      now: () => server.clock.now.getTime(),
    });
    await expect(greedy.authorization()).rejects.toThrow();
  });

  test('Bulk export status and files are readable only by the client that started the export', async () => {
    const tokenOf = async (clientId: string): Promise<string> => {
      const res = await backendToken(server, backendAssertion(server, { iss: clientId, sub: clientId }));
      return ((await res.json()) as TokenResponse).access_token;
    };
    const owner = await tokenOf('twin-bot');
    const other = await tokenOf('other-bot');
    const kickoff = await get(server, 'Patient/$export', owner, { Prefer: 'respond-async' });
    expect(kickoff.status).toBe(202);
    const status = kickoff.headers.get('content-location') ?? '';
    expect(status).toContain('$export-status/');
    const poll = (token: string): Promise<Response> => fetch(status, { headers: { Authorization: `Bearer ${token}` } });
    expect([200, 202]).toContain((await poll(owner)).status);
    expect((await poll(other)).status).toBe(404);
    const { access_token: patientToken } = await standaloneLogin(server, 'pat-a');
    expect((await poll(patientToken)).status).toBe(403);
    expect((await fetch(status)).status).toBe(401);
  });

  test('introspection answers holders of a valid token; garbage is inactive', async () => {
    const { access_token: token } = await standaloneLogin(server, 'pat-a');
    const introspect = (auth: string | undefined, t: string): Promise<Response> =>
      fetch(`${server.issuer}/introspect`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          ...(auth ? { Authorization: `Bearer ${auth}` } : {}),
        },
        body: new URLSearchParams({ token: t }).toString(),
      });
    const active = (await (await introspect(token, token)).json()) as Record<string, unknown>;
    expect(active).toMatchObject({ active: true, patient: 'pat-a', client_id: 'twin-app' });
    expect(await (await introspect(token, 'garbage')).json()).toEqual({ active: false });
    expect((await introspect(undefined, token)).status).toBe(401);
  });

  test('CORS: an allowed origin gets its preflight answered; a foreign origin gets neither a preflight nor a write', async () => {
    const preflight = await fetch(`${server.baseUrl}/Patient/pat-a`, {
      method: 'OPTIONS',
      headers: {
        Origin: APP_ORIGIN,
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('Authorization');
    const foreign = await fetch(`${server.baseUrl}/Patient/pat-a`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' },
    });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const { access_token: token } = await standaloneLogin(server, 'pat-a');
    const write = await fetch(`${server.baseUrl}/CarePlan`, {
      method: 'POST',
      headers: { Origin: 'https://evil.example', 'Content-Type': FHIR_JSON, Authorization: `Bearer ${token}` },
      body: JSON.stringify({
        resourceType: 'CarePlan',
        status: 'draft',
        intent: 'proposal',
        subject: { reference: 'Patient/pat-a' },
      }),
    });
    expect(write.status).toBe(403);
    const read = await get(server, 'Patient/pat-a', token);
    expect(read.headers.get('x-content-type-options')).toBe('nosniff');
    expect(read.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});
