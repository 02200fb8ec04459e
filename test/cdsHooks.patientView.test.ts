import type { CarePlan, RiskAssessment, Task } from '@medplum/fhirtypes';
import jwt from 'jsonwebtoken';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { FeedbackRecord } from '../src/cdsHooks/cdsFeedback';
import { cdsHooksService, PATIENT_VIEW_SERVICE_ID } from '../src/cdsHooks/cdsHooksService';
import { TWIN_PROFILE } from '../src/fhir/codes/twinCodes';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { startDoorServer, type DoorServer } from './support/doorServer';

const EHR = 'https://ehr.example';
const ehrKeys = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const ehrJwk = {
  ...(ehrKeys.publicKey.export({ format: 'jwk' }) as Record<string, unknown>),
  kid: 'ehr-1',
  alg: 'ES384',
  use: 'sig',
};

const finding: RiskAssessment = {
  resourceType: 'RiskAssessment',
  id: 'ra-1',
  meta: { profile: [TWIN_PROFILE.anomalyRiskAssessment] },
  status: 'preliminary',
  subject: { reference: 'Patient/pat-a' },
  occurrenceDateTime: '2025-01-01',
  prediction: [{ outcome: { text: 'possible overreaching' } }],
};
const carePlan: CarePlan = {
  resourceType: 'CarePlan',
  id: 'cp-1',
  status: 'draft',
  intent: 'proposal',
  title: 'Return-to-run programme after ankle sprain',
  subject: { reference: 'Patient/pat-a' },
};
const reviewTask: Task = {
  resourceType: 'Task',
  id: 'task-1',
  meta: { profile: [TWIN_PROFILE.reviewTask] },
  status: 'requested',
  intent: 'order',
  for: { reference: 'Patient/pat-a' },
  focus: { reference: 'CarePlan/cp-1' },
};

describe('CDS Hooks 2.0 patient-view service', () => {
  let server: DoorServer;
  const feedback: FeedbackRecord[] = [];
  let serviceUrl = '';

  beforeAll(async () => {
    server = await startDoorServer({
      seed: [
        { resourceType: 'Patient', id: 'pat-a' },
        { resourceType: 'Patient', id: 'pat-b' },
        finding,
        carePlan,
        reviewTask,
      ],
      mounts: (origin, world) => [
        cdsHooksService({
          origin,
          fhirBaseUrl: `${origin}/fhir/R4`,
          appLaunchUrl: `${origin}/app/launch.html`,
          trustedClients: [{ iss: EHR, jwks: { keys: [ehrJwk] } }],
          client: new LocalFhirClient(world.repo, world.router),
          now: world.now,
          recordFeedback: (r) => feedback.push(r),
        }),
      ],
    });
    serviceUrl = `${server.origin}/cds-services/${PATIENT_VIEW_SERVICE_ID}`;
  });

  afterAll(async () => {
    await server.close();
  });

  function ehrJwt(overrides: Record<string, unknown> = {}, header: Record<string, unknown> = { kid: 'ehr-1' }): string {
    const now = Math.floor(Date.now() / 1000);
    return jwt.sign(
      { iss: EHR, sub: 'ehr-client', aud: serviceUrl, iat: now, exp: now + 120, jti: randomUUID(), ...overrides },
      ehrKeys.privateKey,
      {
        algorithm: 'ES384',
        header: { alg: 'ES384', typ: 'JWT', ...header },
      }
    );
  }

  function call(token: string | undefined, body: Record<string, unknown>, url = serviceUrl): Promise<Response> {
    return fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  }

  const hook = (patientId: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { patientId, userId: 'Practitioner/prac-1' },
    ...extra,
  });

  interface Card {
    uuid: string;
    summary: string;
    indicator: string;
    source: { label: string };
    links: Array<{ type: string; url: string }>;
    suggestions?: Array<{ uuid: string; actions: Array<{ type: string; resource: Task }> }>;
  }

  test('discovery lists the patient-view service with its prefetch templates; CORS open to any origin', async () => {
    const res = await fetch(`${server.origin}/cds-services`, { headers: { Origin: 'https://somewhere.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const body = (await res.json()) as {
      services: Array<{ hook: string; id: string; prefetch: Record<string, string> }>;
    };
    expect(body.services[0]).toMatchObject({ hook: 'patient-view', id: PATIENT_VIEW_SERVICE_ID });
    expect(body.services[0]?.prefetch.patient).toBe('Patient/{{context.patientId}}');
    const preflight = await fetch(serviceUrl, {
      method: 'OPTIONS',
      headers: { Origin: EHR, 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('Authorization');
  });

  test('cards only when there is something to act on: a finding and a proposal for A, nothing for B', async () => {
    const res = await call(ehrJwt(), hook('pat-a'));
    expect(res.status).toBe(200);
    const { cards } = (await res.json()) as { cards: Card[] };
    expect(cards).toHaveLength(2);
    for (const card of cards) {
      expect(card.summary.length).toBeLessThan(140);
      expect(card.source.label).toContain('recovery-twin');
      expect(card.links[0]).toMatchObject({ type: 'smart', url: `${server.origin}/app/launch.html` });
    }
    expect(cards[0]?.indicator).toBe('warning');
    expect(cards[1]?.summary).toContain('Return-to-run programme');
    const action = cards[1]?.suggestions?.[0]?.actions[0];
    // The suggestion takes the review; it never activates the plan.
    expect(action?.type).toBe('update');
    expect(action?.resource).toMatchObject({ resourceType: 'Task', id: 'task-1', status: 'accepted' });

    const none = (await (await call(ehrJwt(), hook('pat-b'))).json()) as { cards: Card[] };
    expect(none.cards).toEqual([]);

    // Prefetch is used when sent: empty bundles mean nothing to say, even though the store has data.
    const empty = { resourceType: 'Bundle', type: 'searchset', entry: [] };
    const prefetched = await call(
      ehrJwt(),
      hook('pat-a', {
        prefetch: { patient: { resourceType: 'Patient', id: 'pat-a' }, findings: empty, reviews: empty },
      })
    );
    expect(((await prefetched.json()) as { cards: Card[] }).cards).toEqual([]);
  });

  test('412 when required prefetch is missing for a FHIR server the service cannot read', async () => {
    const res = await call(
      ehrJwt(),
      hook('pat-a', {
        fhirServer: 'https://other-ehr.example/fhir',
        prefetch: { patient: { resourceType: 'Patient', id: 'pat-a' } },
      })
    );
    expect(res.status).toBe(412);
  });

  test('refused: no JWT, alg=none, HMAC, wrong aud, replayed jti, untrusted iss, no kid, expired, too long-lived', async () => {
    expect((await call(undefined, hook('pat-a'))).status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: EHR, sub: 'ehr-client', aud: serviceUrl, iat: now, exp: now + 120, jti: randomUUID() };
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: 'ehr-1' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    expect((await call(none, hook('pat-a'))).status).toBe(401);
    const publicPem = ehrKeys.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const hmac = jwt.sign({ ...claims, jti: randomUUID() }, publicPem, {
      algorithm: 'HS256',
      header: { alg: 'HS256', kid: 'ehr-1' },
    });
    expect((await call(hmac, hook('pat-a'))).status).toBe(401);
    expect((await call(ehrJwt({ aud: `${server.origin}/cds-services/other` }), hook('pat-a'))).status).toBe(401);
    const once = ehrJwt();
    expect((await call(once, hook('pat-a'))).status).toBe(200);
    expect((await call(once, hook('pat-a'))).status).toBe(401);
    expect((await call(ehrJwt({ iss: 'https://stranger.example' }), hook('pat-a'))).status).toBe(401);
    expect((await call(ehrJwt({}, {}), hook('pat-a'))).status).toBe(401);
    expect((await call(ehrJwt({ iat: now - 600, exp: now - 300 }), hook('pat-a'))).status).toBe(401);
    expect((await call(ehrJwt({ exp: now + 3600 }), hook('pat-a'))).status).toBe(401);
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const forged = jwt.sign({ ...claims, jti: randomUUID() }, stranger.privateKey, {
      algorithm: 'ES384',
      header: { alg: 'ES384', kid: 'ehr-1' },
    });
    expect((await call(forged, hook('pat-a'))).status).toBe(401);
  });

  test('feedback records accepted and overridden cards; an unknown card is refused', async () => {
    const { cards } = (await (await call(ehrJwt(), hook('pat-a'))).json()) as { cards: Card[] };
    const feedbackUrl = `${serviceUrl}/feedback`;
    const res = await call(
      ehrJwt({ aud: feedbackUrl }),
      {
        feedback: [
          {
            card: cards[1]?.uuid,
            outcome: 'accepted',
            acceptedSuggestions: [{ id: cards[1]?.suggestions?.[0]?.uuid }],
            outcomeTimestamp: '2025-01-02T10:00:00Z',
          },
          {
            card: cards[0]?.uuid,
            outcome: 'overridden',
            overrideReason: {
              reason: { code: 'already-addressed', system: 'http://example.org' },
              userComment: 'seen',
            },
            outcomeTimestamp: '2025-01-02T10:01:00Z',
          },
        ],
      },
      feedbackUrl
    );
    expect(res.status).toBe(200);
    expect(feedback).toHaveLength(2);
    expect(feedback[0]).toMatchObject({ about: 'proposal', outcome: 'accepted' });
    expect(feedback[1]).toMatchObject({ about: 'finding', outcome: 'overridden', overrideReason: 'already-addressed' });
    // Free text is not recorded (it may name the patient).
    expect(JSON.stringify(feedback)).not.toContain('seen');
    const unknown = await call(
      ehrJwt({ aud: feedbackUrl }),
      { feedback: [{ card: randomUUID(), outcome: 'accepted' }] },
      feedbackUrl
    );
    expect(unknown.status).toBe(404);
  });
});
