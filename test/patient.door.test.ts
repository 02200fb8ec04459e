import type { AuditEvent, Bundle, Observation, Patient, Practitioner } from '@medplum/fhirtypes';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { PublicClient } from '../src/authServer/registeredClients';
import { patientUserScopes } from '../src/authServer/patientUserGrant';
import { signAccessToken } from '../src/auth/accessToken';
import { AUDIT_COUNT_EXTENSION } from '../src/auth/readAuditTrail';
import { startDoorServer, type DoorServer } from './support/doorServer';

const FHIR_JSON = 'application/fhir+json';
const REDIRECT = 'http://app.example/app/index.html';

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

const client: PublicClient = {
  type: 'public',
  clientId: 'twin-app',
  name: 'Recovery twin',
  redirectUris: [REDIRECT],
  allowedScopes:
    'launch launch/patient openid fhirUser online_access offline_access patient/*.rs patient/CarePlan.u patient/Task.u user/Task.rs user/Patient.rs user/*.rs',
};

interface TokenResponse {
  access_token: string;
  scope: string;
  patient?: string;
  id_token?: string;
}

function form(body: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
    redirect: 'manual',
  };
}

/** The authorize page of a standalone launch, and its request id. */
async function authorizePage(server: DoorServer, scope: string): Promise<{ html: string; requestId: string }> {
  const verifier = randomBytes(48).toString('base64url');
  verifiers.push(verifier);
  const url = new URL(`${server.issuer}/authorize`);
  const params: Record<string, string> = {
    response_type: 'code',
    client_id: 'twin-app',
    redirect_uri: REDIRECT,
    scope,
    state: randomUUID(),
    aud: server.baseUrl,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  };
  for (const [k, v] of Object.entries(params)) {
    url.searchParams.set(k, v);
  }
  const page = await fetch(url, { redirect: 'manual' });
  expect(page.status).toBe(200);
  const html = await page.text();
  return { html, requestId: /name="request_id" value="([^"]+)"/.exec(html)?.[1] ?? '' };
}
const verifiers: string[] = [];

/** Standalone launch by a patient: authorize -> "I am the patient" -> code -> token. */
async function patientLogin(server: DoorServer, patientUser: string, scope: string): Promise<TokenResponse> {
  const { html, requestId } = await authorizePage(server, scope);
  expect(html).toContain('I am the patient');
  const verifier = verifiers[verifiers.length - 1] ?? '';
  const login = await fetch(`${server.issuer}/authorize`, form({ request_id: requestId, patient_user: patientUser }));
  expect(login.status).toBe(303);
  const back = new URL(login.headers.get('location') ?? '');
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
  return (await token.json()) as TokenResponse;
}

function get(server: DoorServer, path: string, token: string): Promise<Response> {
  return fetch(`${server.baseUrl}/${path}`, { headers: { Accept: FHIR_JSON, Authorization: `Bearer ${token}` } });
}

function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
}

describe("the patient's own door: patient sign-in, confinement, read audit trail", () => {
  let server: DoorServer;

  beforeAll(async () => {
    server = await startDoorServer({
      clients: () => [client],
      seed: [patientA, patientB, practitioner, observation('obs-a', 'pat-a'), observation('obs-b', 'pat-b')],
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  test('a patient user gets only patient-level read scopes, and is the patient in context (v2 and v1 syntax)', async () => {
    for (const requested of ['patient/*.rs', 'patient/*.read']) {
      const token = await patientLogin(
        server,
        'pat-a',
        `launch/patient openid fhirUser ${requested} patient/CarePlan.u user/*.rs user/Task.rs`
      );
      expect(token.patient).toBe('pat-a');
      expect(token.scope.split(' ').sort()).toEqual(['fhirUser', 'launch/patient', 'openid', 'patient/*.rs']);
      const c = claims(token.access_token);
      expect(c.fhirUser).toBe('Patient/pat-a');
      expect(c.patient).toBe('pat-a');
      expect(claims(token.id_token ?? '').fhirUser).toBe(`${server.baseUrl}/Patient/pat-a`);
    }
  });

  test('a patient user can name no one else: unknown patient refused, the EHR launcher refuses patient sign-in', async () => {
    const { requestId } = await authorizePage(server, 'launch/patient openid fhirUser patient/*.rs');
    const refused = await fetch(`${server.issuer}/authorize`, form({ request_id: requestId, patient_user: 'pat-zz' }));
    expect(refused.status).toBe(400);
    // A tampered form with both a practitioner and a patient: the patient sign-in wins, context is that patient.
    const { requestId: second } = await authorizePage(server, 'launch/patient openid fhirUser patient/*.rs');
    const both = await fetch(
      `${server.issuer}/authorize`,
      form({ request_id: second, patient_user: 'pat-a', practitioner: 'Practitioner/prac-1', patient: 'pat-b' })
    );
    expect(both.status).toBe(303);
    const launcher = await fetch(
      `${server.issuer}/launcher`,
      form({ app: 'twin-app', practitioner: 'Practitioner/prac-1', patient: 'pat-b', patient_user: 'pat-a' })
    );
    expect(launcher.status).toBe(400);
  });

  test("patient A's token reaches A only: B's Observation by id and by search, and B's twin operation, refused", async () => {
    const { access_token: token } = await patientLogin(server, 'pat-a', 'launch/patient openid fhirUser patient/*.rs');
    expect((await get(server, 'Observation/obs-a', token)).status).toBe(200);
    expect((await get(server, 'Observation/obs-b', token)).status).toBe(404);
    expect((await get(server, 'Observation?patient=pat-b', token)).status).toBe(403);
    expect((await get(server, 'Observation?subject=Patient/pat-b', token)).status).toBe(403);
    expect((await get(server, 'Patient/pat-b', token)).status).toBe(404);
    const own = (await (await get(server, 'Observation?patient=pat-a', token)).json()) as Bundle<Observation>;
    expect((own.entry ?? []).map((e) => e.resource?.id)).toEqual(['obs-a']);
    const op = await fetch(`${server.baseUrl}/Patient/pat-b/$twin-refresh`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': FHIR_JSON, Accept: FHIR_JSON },
      body: JSON.stringify({ resourceType: 'Parameters' }),
    });
    expect([403, 404]).toContain(op.status);
    // Read-only: the patient does not write their own record either.
    const write = await fetch(`${server.baseUrl}/Observation/obs-a`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': FHIR_JSON },
      body: JSON.stringify(observation('obs-a', 'pat-a')),
    });
    expect(write.status).toBe(403);
  });

  test('reads are audited per user, patient and day; the patient reads the AuditEvents about them, not others', async () => {
    await server.auditTrail?.flush();
    const { access_token: tokenA } = await patientLogin(server, 'pat-a', 'launch/patient openid fhirUser patient/*.rs');
    const { access_token: tokenB } = await patientLogin(server, 'pat-b', 'launch/patient openid fhirUser patient/*.rs');
    const countOf = (e: AuditEvent | undefined): number =>
      e?.extension?.find((x) => x.url === AUDIT_COUNT_EXTENSION)?.valueInteger ?? 0;
    const isARead = (e: AuditEvent): boolean =>
      e.agent?.[0]?.who?.reference === 'Patient/pat-a' && e.subtype?.[0]?.code === 'read';
    const before = await server.repo.searchResources<AuditEvent>({ resourceType: 'AuditEvent' });
    for (let i = 0; i < 3; i++) {
      expect((await get(server, 'Observation/obs-a', tokenA)).status).toBe(200);
    }
    expect((await get(server, 'Observation?patient=pat-b', tokenB)).status).toBe(200);
    // Refused reads record nothing.
    expect((await get(server, 'Observation/obs-b', tokenA)).status).toBe(404);
    expect(server.auditTrail?.pendingKeys).toBe(2);
    await server.auditTrail?.flush();
    // Replaying a flush with nothing pending writes nothing.
    await server.auditTrail?.flush();
    const all = await server.repo.searchResources<AuditEvent>({ resourceType: 'AuditEvent' });
    // At most one new AuditEvent per key (B's first search today); A's reads went to today's record of A's reads.
    expect(all.length - before.length).toBeLessThanOrEqual(2);
    const aRead = all.find(isARead) as AuditEvent;
    expect(countOf(aRead)).toBe(countOf(before.find(isARead)) + 3);
    expect(aRead.type).toEqual({
      system: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
      code: 'rest',
      display: 'RESTful Operation',
    });
    expect(aRead.subtype).toEqual([
      { system: 'http://hl7.org/fhir/restful-interaction', code: 'read', display: 'read' },
    ]);
    expect(aRead.action).toBe('R');
    expect(aRead.outcome).toBe('0');
    expect(aRead.entity?.[0]?.what?.reference).toBe('Patient/pat-a');
    expect(aRead.agent?.[0]?.who?.display).toBe('Ada Able');
    expect(aRead.agent?.[1]?.who?.display).toBe('twin-app');
    const bSearch = all.find(
      (e) => e.agent?.[0]?.who?.reference === 'Patient/pat-b' && e.subtype?.[0]?.code === 'search-type'
    );
    expect(bSearch?.entity?.[0]?.what?.reference).toBe('Patient/pat-b');

    // Two more reads the same day: the same AuditEvent, count 5 (one resource per user, patient, day, interaction).
    await get(server, 'Observation/obs-a', tokenA);
    await get(server, 'Patient/pat-a', tokenA);
    await server.auditTrail?.flush();
    const again = await server.repo.readResource<AuditEvent>('AuditEvent', aRead.id ?? '');
    expect(countOf(again)).toBe(countOf(aRead) + 2);

    // The patient's own view of the trail: theirs only; they cannot write to it.
    const mine = (await (await get(server, 'AuditEvent?patient=pat-a', tokenA)).json()) as Bundle<AuditEvent>;
    const entities = (mine.entry ?? []).map((e) => e.resource?.entity?.[0]?.what?.reference);
    expect(entities.length).toBeGreaterThan(0);
    expect(new Set(entities)).toEqual(new Set(['Patient/pat-a']));
    expect((await get(server, 'AuditEvent?patient=pat-b', tokenA)).status).toBe(403);
    const bEvent = all.find((e) => e.entity?.[0]?.what?.reference === 'Patient/pat-b') as AuditEvent;
    expect((await get(server, `AuditEvent/${bEvent.id ?? ''}`, tokenA)).status).toBe(404);
    const forged = await fetch(`${server.baseUrl}/AuditEvent`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokenA}`, 'Content-Type': FHIR_JSON },
      body: JSON.stringify({ ...aRead, id: undefined }),
    });
    expect(forged.status).toBe(403);
    // No health data in the server's log lines (no name, no audit line).
    expect(server.logLines.join('\n')).not.toMatch(/Ada|Baker|audit/);
  });

  test("a clinician's search across patients is a read of each; patient A sees the clinician in their trail", async () => {
    const now = Math.floor(server.clock.now.getTime() / 1000);
    const clinician = signAccessToken(
      server.signingKey,
      {
        iss: server.issuer,
        aud: server.baseUrl,
        sub: 'Practitioner/prac-1',
        client_id: 'twin-app',
        scope: 'openid fhirUser user/*.rs',
        fhirUser: 'Practitioner/prac-1',
      },
      now,
      300
    );
    expect((await get(server, 'Observation', clinician)).status).toBe(200);
    // A search that matches nothing reads no one.
    expect((await get(server, 'Observation?patient=nobody', clinician)).status).toBe(200);
    await server.auditTrail?.flush();
    const events = await server.repo.searchResources<AuditEvent>({ resourceType: 'AuditEvent' });
    const byClinician = events.filter((e) => e.agent?.[0]?.who?.reference === 'Practitioner/prac-1');
    expect(byClinician.map((e) => e.entity?.[0]?.what?.reference).sort()).toEqual(['Patient/pat-a', 'Patient/pat-b']);
    expect(byClinician[0]?.agent?.[0]?.who?.display).toBe('Casey Clinician');
    expect(byClinician[0]?.subtype?.[0]?.code).toBe('search-type');
    const { access_token: tokenA } = await patientLogin(server, 'pat-a', 'launch/patient openid fhirUser patient/*.rs');
    const mine = (await (await get(server, 'AuditEvent?patient=pat-a', tokenA)).json()) as Bundle<AuditEvent>;
    expect((mine.entry ?? []).some((e) => e.resource?.agent?.[0]?.who?.display === 'Casey Clinician')).toBe(true);
  });
});

describe('a patient user from another issuer (e.g. a patient portal) with user-level scopes', () => {
  let server: DoorServer;
  beforeAll(async () => {
    server = await startDoorServer({
      clients: () => [client],
      seed: [patientA, patientB, observation('obs-a', 'pat-a'), observation('obs-b', 'pat-b')],
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  const token = (extra: { patient?: string }): string =>
    signAccessToken(
      server.signingKey,
      {
        iss: server.issuer,
        aud: server.baseUrl,
        sub: 'Patient/pat-a',
        client_id: 'twin-app',
        scope: 'openid fhirUser user/*.rs',
        fhirUser: 'Patient/pat-a',
        ...extra,
      },
      Math.floor(server.clock.now.getTime() / 1000),
      300
    );

  test('user/ scopes of a patient user reach only their own compartment', async () => {
    const t = token({});
    expect((await get(server, 'Observation/obs-a', t)).status).toBe(200);
    expect((await get(server, 'Observation/obs-b', t)).status).toBe(404);
    expect((await get(server, 'Observation?patient=pat-b', t)).status).toBe(403);
    expect((await get(server, 'Observation', t)).status).toBe(403);
  });

  test("a patient user's token with another patient in context is refused", async () => {
    expect((await get(server, 'Observation/obs-b', token({ patient: 'pat-b' }))).status).toBe(403);
  });
});

test('what the audit trail holds is written when the server shuts down', async () => {
  const server = await startDoorServer({ clients: () => [client], seed: [patientA, observation('obs-a', 'pat-a')] });
  const { access_token: t } = await patientLogin(server, 'pat-a', 'launch/patient openid fhirUser patient/*.rs');
  expect((await get(server, 'Observation/obs-a', t)).status).toBe(200);
  expect(server.auditTrail?.pendingKeys).toBe(1);
  await server.close();
  const events = await server.repo.searchResources<AuditEvent>({ resourceType: 'AuditEvent' });
  expect(events.map((e) => e.agent?.[0]?.who?.reference)).toEqual(['Patient/pat-a']);
});

describe('patientUserScopes', () => {
  test('keeps patient-level read and search and identity scopes; drops user/system levels and writes', () => {
    expect(
      patientUserScopes(
        'launch launch/patient openid fhirUser online_access patient/*.rs patient/CarePlan.rus patient/Task.u user/*.rs system/*.rs'
      )
    ).toBe('launch/patient openid fhirUser online_access patient/*.rs patient/CarePlan.rs');
  });
});
