/**
 * "Take a copy": a patient with a patient-level SMART token (patient/*.rs) kicks off Bulk Data `Patient/$export`
 * (Bulk Data Access IG v2.0.0) and gets their own compartment: the twin's outputs (states, baselines, findings, the
 * proposal and its review Task), their Provenance and the model Devices they reference, and plain-language
 * descriptions in the manifest's `extension`; nothing of another patient. `_typeFilter` on `_profile` asks for the
 * twin alone.
 */
import type { Observation, Provenance, Resource, RiskAssessment, Task, CarePlan } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signAccessToken } from '../src/auth/accessToken';
import { ProtocolMatcher } from '../src/evidence/match/protocolMatcher';
import { TWIN_PROFILE, TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';
import type { BulkExportManifest } from '../src/fhir/bulk/bulkManifest';
import { LocalFhirClient } from '../src/fhir/localFhirClient';
import { runBulkExport } from '../src/ingest/bulk/bulkExportClient';
import { loadProtocolLibrary } from '../src/protocols/protocolLibrary';
import { RESOURCE_DESCRIPTIONS_EXTENSION, type OutputDescription } from '../src/server/bulk/exportDescriptions';
import { openSqliteStore, type SqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';
import { startDoorServer, type DoorServer } from './support/doorServer';
import { seedClinicianScenario, type ClinicianScenario } from './support/clinicianScenario';

let dir: string;
let store: SqliteStore;
let server: DoorServer;
let scenario: ClinicianScenario;
let client: LocalFhirClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twin-patient-copy-'));
  store = await openSqliteStore(join(dir, 'store'), { baseUrl: 'http://127.0.0.1/fhir/R4', durability: 'normal' });
  const router = createEmbeddedRouter();
  const library = loadProtocolLibrary();
  const matcher = await ProtocolMatcher.create(library);
  scenario = await seedClinicianScenario(store.repo, router, { library, matcher }, new Date('2026-03-02T10:00:00Z'));
  client = new LocalFhirClient(store.repo, router);
  server = await startDoorServer({ repo: store.repo, router, bulkDir: join(dir, 'bulk') });
}, 120_000);

afterAll(async () => {
  await server.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function patientToken(patient: string, scope = 'launch/patient patient/*.rs'): string {
  const now = Math.floor(server.clock.now.getTime() / 1000);
  return signAccessToken(
    server.signingKey,
    { iss: server.issuer, aud: server.baseUrl, sub: `Patient/${patient}`, client_id: 'twin-app', scope, patient },
    now,
    600
  );
}

interface Copy {
  manifest: BulkExportManifest;
  resources: Resource[];
  text: string;
}

async function exportWith(token: string, query = ''): Promise<Copy> {
  const auth = { Authorization: `Bearer ${token}` };
  const kickoff = await fetch(`${server.baseUrl}/Patient/$export${query}`, {
    headers: { ...auth, Accept: 'application/fhir+json', Prefer: 'respond-async' },
  });
  expect(kickoff.status).toBe(202);
  const status = kickoff.headers.get('content-location') ?? '';
  let manifest: BulkExportManifest | undefined;
  for (let i = 0; i < 2000 && !manifest; i++) {
    const res = await fetch(status, { headers: auth });
    if (res.status === 200) {
      manifest = (await res.json()) as BulkExportManifest;
    } else {
      expect(res.status).toBe(202);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  if (!manifest) {
    throw new Error('the export did not complete');
  }
  let text = '';
  for (const item of manifest.output) {
    const file = await fetch(item.url, { headers: auth });
    expect(file.status).toBe(200);
    text += await file.text();
  }
  const resources = text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Resource);
  return { manifest, resources, text };
}

/** What the twin wrote for a patient, read straight from the store. */
async function twinOf(patient: string): Promise<Resource[]> {
  const twin = { identifier: `${TWIN_RESOURCE_SYSTEM}|` };
  const subject = `Patient/${patient}`;
  return [
    ...(await client.searchAll<Observation>('Observation', { ...twin, subject })),
    ...(await client.searchAll<RiskAssessment>('RiskAssessment', { ...twin, subject })),
    ...(await client.searchAll<CarePlan>('CarePlan', { ...twin, subject })),
    ...(await client.searchAll<Task>('Task', { ...twin, patient: subject })),
  ];
}

const key = (r: Resource): string => `${r.resourceType}/${r.id}`;

test("a patient's token exports every twin resource of that patient, their Provenance and model Devices, nothing of another patient", async () => {
  const a = scenario.patientId;
  const b = scenario.otherPatientId;
  const twinA = await twinOf(a);
  const twinB = await twinOf(b);
  expect(new Set(twinA.map((r) => r.resourceType))).toEqual(
    new Set(['Observation', 'RiskAssessment', 'CarePlan', 'Task'])
  );
  expect(twinB.length).toBeGreaterThan(0);

  const copy = await exportWith(patientToken(a));
  const exported = new Set(copy.resources.map(key));
  expect(twinA.map(key).filter((k) => !exported.has(k))).toEqual([]);
  expect(twinB.map(key).filter((k) => exported.has(k))).toEqual([]);
  expect(copy.text).not.toContain(`Patient/${b}"`);
  expect(copy.resources.filter((r) => r.resourceType === 'Patient').map((r) => r.id)).toEqual([a]);
  // The wearable data the twin was computed from are A's too.
  expect(copy.resources.some((r) => r.resourceType === 'Observation' && !twinA.some((t) => key(t) === key(r)))).toBe(
    true
  );

  // Provenance of the proposal (it targets the CarePlan, not the patient) and the Devices referenced.
  const provenance = copy.resources.filter((r): r is Provenance => r.resourceType === 'Provenance');
  expect(provenance.some((p) => p.target.some((t) => t.reference === `CarePlan/${scenario.carePlanId}`))).toBe(true);
  const referencedDevices = new Set(
    copy.text.match(/"reference":"Device\/[^"]+"/g)?.map((m) => m.slice('"reference":"'.length, -1)) ?? []
  );
  expect(referencedDevices.size).toBeGreaterThan(0);
  for (const device of referencedDevices) {
    expect(exported.has(device)).toBe(true);
  }
  expect(
    copy.resources
      .filter((r) => r.resourceType === 'Device')
      .every((d) => d.meta?.profile?.[0] === TWIN_PROFILE.modelDevice)
  ).toBe(true);

  // Plain-language descriptions, one per output type, in the manifest's reserved `extension`.
  const descriptions = copy.manifest.extension?.[RESOURCE_DESCRIPTIONS_EXTENSION] as OutputDescription[];
  expect(descriptions.map((d) => d.type).sort()).toEqual([...new Set(copy.manifest.output.map((o) => o.type))].sort());
  expect(descriptions.every((d) => d.description.length > 20)).toBe(true);
  expect(descriptions.find((d) => d.type === 'RiskAssessment')?.twin?.[0]?.profile).toBe(
    TWIN_PROFILE.anomalyRiskAssessment
  );
  // The manifest stays what the IG defines (export.html#response---complete-status).
  // The files sit behind the access guard: a Bulk client must send its token with each file request.
  expect(copy.manifest.requiresAccessToken).toBe(true);
  expect((await fetch(copy.manifest.output[0]?.url ?? '')).status).toBe(401);
  expect(copy.manifest.error).toEqual([]);
  for (const item of copy.manifest.output) {
    expect(Object.keys(item).sort()).toEqual(['count', 'type', 'url']);
  }
}, 60_000);

test('_typeFilter on _profile exports the twin alone: no wearable data, no Patient', async () => {
  const a = scenario.patientId;
  const filters = [
    `Observation?_profile=${TWIN_PROFILE.baseline},${TWIN_PROFILE.recoveryState}`,
    `RiskAssessment?_profile=${TWIN_PROFILE.anomalyRiskAssessment},${TWIN_PROFILE.simulatedRecovery}`,
    `CarePlan?_profile=${TWIN_PROFILE.carePlanProposal}`,
    `Task?_profile=${TWIN_PROFILE.reviewTask}`,
  ];
  const query =
    `?_type=Observation,RiskAssessment,CarePlan,Task,Device&includeAssociatedData=RelevantProvenanceResources&` +
    filters.map((f) => `_typeFilter=${encodeURIComponent(f)}`).join('&');
  const copy = await exportWith(patientToken(a), query);
  const twinA = await twinOf(a);
  const exported = new Set(copy.resources.map(key));
  expect(twinA.map(key).filter((k) => !exported.has(k))).toEqual([]);
  const notTwin = copy.resources.filter(
    (r) => r.resourceType !== 'Provenance' && r.resourceType !== 'Device' && !twinA.some((t) => key(t) === key(r))
  );
  expect(notTwin).toEqual([]);
  expect(copy.manifest.output.map((o) => o.type)).toContain('Provenance');
  expect(copy.manifest.output.map((o) => o.type)).toContain('Device');
}, 60_000);

test("a patient's export job is the patient's: another patient's token of the same client does not see it; Group export stays closed", async () => {
  const auth = (t: string): Record<string, string> => ({ Authorization: `Bearer ${t}` });
  const kickoff = await fetch(`${server.baseUrl}/Patient/$export`, {
    headers: { ...auth(patientToken(scenario.patientId)), Prefer: 'respond-async' },
  });
  expect(kickoff.status).toBe(202);
  const status = kickoff.headers.get('content-location') ?? '';
  expect((await fetch(status, { headers: auth(patientToken(scenario.otherPatientId)) })).status).toBe(404);
  const group = await fetch(`${server.baseUrl}/Group/g1/$export`, {
    headers: { ...auth(patientToken(scenario.patientId)), Prefer: 'respond-async' },
  });
  expect(group.status).toBe(403);
  // A token without patient/*.rs cannot take a copy.
  const narrow = await fetch(`${server.baseUrl}/Patient/$export`, {
    headers: { ...auth(patientToken(scenario.patientId, 'patient/Observation.rs')), Prefer: 'respond-async' },
  });
  expect(narrow.status).toBe(403);
  // Let the job finish before the server closes.
  for (let i = 0; i < 2000; i++) {
    const res = await fetch(status, { headers: auth(patientToken(scenario.patientId)) });
    if (res.status !== 202) {
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
});

test("a Bulk client that follows the IG (the project's own) takes the patient's copy with the patient's token", async () => {
  const run = await runBulkExport({
    baseUrl: server.baseUrl,
    path: 'Patient/$export',
    headers: { Authorization: `Bearer ${patientToken(scenario.patientId)}` },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 5))),
  });
  const manifest = await run.manifest();
  expect(manifest.requiresAccessToken).toBe(true);
  const types = new Set<string>();
  for await (const resource of run.resources()) {
    types.add(resource.resourceType);
  }
  expect([...types]).toEqual(
    expect.arrayContaining(['Patient', 'Observation', 'RiskAssessment', 'Provenance', 'Device'])
  );
}, 60_000);
