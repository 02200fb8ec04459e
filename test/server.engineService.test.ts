/**
 * The engine as a service against another FHIR server: `twin serve --fhir URL` (the "hospital" here is a second real
 * `twin serve`, with its own SMART authorization server) reads and writes the patient data there as a SMART Backend
 * Services client (private_key_jwt, ES384, system scopes), serves its operations on its own base, and refuses to serve
 * the data itself, naming where it is. Both are real processes started from the CLI, as hospital IT starts them.
 */
import type { Bundle, CapabilityStatement, Observation, OperationOutcome, Parameters } from '@medplum/fhirtypes';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDays } from '../src/calendar/calendarDay';
import { TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';
import { HttpFhirClient } from '../src/fhir/httpFhirClient';
import { BackendServicesAuth } from '../src/fhir/smart/backendServicesAuth';
import { buildMetricObservation, conditionalCreateEntry } from '../src/ingest/importers/metricObservation';

jest.setTimeout(240_000);

const ROOT = join(__dirname, '..');
const keys = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const KID = 'engine-key-1';
const publicJwk = { ...(keys.publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: KID, alg: 'ES384' };
const privateJwk = {
  ...(keys.privateKey.export({ format: 'jwk' }) as Record<string, unknown>),
  kid: KID,
  alg: 'ES384',
};

interface Served {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  readonly output: () => string;
}

function serve(args: string[], env: Record<string, string>): Promise<Served> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ORT_DISABLE_TELEMETRY: '1', ...env },
  });
  let out = '';
  return new Promise<Served>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 90_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /FHIR R4 base:\s+(\S+)/.exec(out);
      if (m && out.includes('Ready.')) {
        clearTimeout(timer);
        resolve({ child, baseUrl: m[1], output: () => out });
      }
    });
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}):\n${out}`));
    });
  });
}

async function stop(served: Served | undefined): Promise<void> {
  if (!served || served.child.exitCode !== null) {
    return;
  }
  const exited = new Promise((r) => served.child.once('exit', r));
  served.child.kill('SIGTERM');
  await exited;
}

/** 40 days of resting heart rate and HRV for one patient, as a wearable bridge would send them. */
function wearableDays(subject: string): Bundle {
  const entry = [];
  for (let d = 0; d < 40; d++) {
    const day = addDays('2026-01-01', d);
    for (const [metric, value] of [
      ['resting-heart-rate', 55 + (d % 4)],
      ['hrv-rmssd', 60 - (d % 5)],
    ] as const) {
      entry.push(
        conditionalCreateEntry(
          buildMetricObservation({
            source: 'test',
            subjectKey: 'p',
            subject: { reference: subject },
            metric,
            day,
            value,
          })
        )
      );
    }
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

describe('twin serve --fhir: the engine service on another FHIR server', () => {
  let dir: string;
  let hospital: Served | undefined;
  let engine: Served | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'twin-engine-service-'));
    const jwksFile = join(dir, 'engine-private-jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [privateJwk] }), { mode: 0o600 });
    const backendClients = [
      {
        clientId: 'recovery-twin-engine',
        name: 'recovery-twin engine service',
        jwks: { keys: [publicJwk] },
        allowedScopes: 'system/*.rs system/*.cud',
      },
    ];
    // The hospital's server: tokens required, the engine registered as a backend client with its public key.
    hospital = await serve(['--port', '0', '--data-dir', join(dir, 'hospital'), '--no-seed', '--auth', 'local'], {
      TWIN_BACKEND_CLIENTS: JSON.stringify(backendClients),
    });
    engine = await serve(
      ['--port', '0', '--data-dir', join(dir, 'engine'), '--auth', 'open', '--fhir', hospital.baseUrl],
      {
        SMART_CLIENT_ID: 'recovery-twin-engine',
        SMART_JWKS_FILE: jwksFile,
        SMART_ALG: 'ES384',
        SMART_SCOPES: 'system/*.rs system/*.cud',
      }
    );
  });

  afterAll(async () => {
    await stop(engine);
    await stop(hospital);
    rmSync(dir, { recursive: true, force: true });
  });

  test('operations run on the hospital server with the backend-services identity; the data is not served here', async () => {
    // The test loads the patient into the hospital as another backend client would.
    const auth = new BackendServicesAuth({
      fhirBase: hospital!.baseUrl,
      clientId: 'recovery-twin-engine',
      key: { kid: KID, alg: 'ES384', key: keys.privateKey },
      scopes: ['system/*.rs', 'system/*.cud'],
    });
    const ehr = new HttpFhirClient({ baseUrl: hospital!.baseUrl, authorization: () => auth.authorization() });
    const created = await ehr.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }],
    });
    const patientId = /Patient\/([^/]+)/.exec(created.entry?.[0]?.response?.location ?? '')?.[1] ?? '';
    await ehr.transaction(wearableDays(`Patient/${patientId}`));
    // Without a token the hospital refuses: the engine's writes below can only have come with its token.
    expect((await fetch(`${hospital!.baseUrl}/Observation?subject=Patient/${patientId}`)).status).toBe(401);

    const refresh = await fetch(`${engine!.baseUrl}/Patient/${patientId}/$twin-refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Parameters' }),
    });
    expect(refresh.status).toBe(200);
    const answer = (await refresh.json()) as Parameters;
    expect(answer.parameter?.find((p) => p.name === 'status')?.valueCode).toBe('refreshed');
    const twin = await ehr.searchAll<Observation>('Observation', {
      subject: `Patient/${patientId}`,
      identifier: `${TWIN_RESOURCE_SYSTEM}|`,
    });
    expect(twin.length).toBeGreaterThan(0);

    // Detection too: the learned detector runs here (a bot's runtime cannot), the findings land on the hospital.
    const findings = await fetch(`${engine!.baseUrl}/Patient/${patientId}/$twin-findings`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Parameters' }),
    });
    expect(findings.status).toBe(200);
    const detected = (await findings.json()) as Parameters;
    expect(detected.parameter?.find((p) => p.name === 'learnedDetector')?.valueString).toBe('ran');
    expect((await ehr.searchAll('Device', {})).length).toBeGreaterThanOrEqual(2);

    // An unknown patient is the hospital's 404, passed on.
    const unknown = await fetch(`${engine!.baseUrl}/Patient/no-such-patient/$twin-refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Parameters' }),
    });
    expect(unknown.status).toBe(404);

    // The engine service does not serve the data: read and search are refused, naming the hospital server.
    for (const path of [`Patient/${patientId}`, `Observation?subject=Patient/${patientId}`]) {
      const res = await fetch(`${engine!.baseUrl}/${path}`);
      expect([404, 405]).toContain(res.status);
      const outcome = (await res.json()) as OperationOutcome;
      expect(outcome.resourceType).toBe('OperationOutcome');
    }
    const read = (await (await fetch(`${engine!.baseUrl}/Patient/${patientId}`)).json()) as OperationOutcome;
    expect(read.issue?.[0]?.details?.text).toContain(hospital!.baseUrl);
    // Its CapabilityStatement says so: Patient with its operations and no interaction; no batch or transaction.
    const metadata = (await (await fetch(`${engine!.baseUrl}/metadata`)).json()) as CapabilityStatement;
    const patient = metadata.rest?.[0]?.resource?.find((r) => r.type === 'Patient');
    expect(patient?.interaction).toBeUndefined();
    expect(patient?.operation?.map((o) => o.name)).toEqual(expect.arrayContaining(['twin-refresh', 'twin-findings']));
    expect(metadata.rest?.[0]?.interaction).toBeUndefined();
    expect(metadata.rest?.[0]?.resource?.map((r) => r.type)).not.toContain('Observation');
    expect(engine!.output()).toContain(`Engine service: the patient data is on ${hospital!.baseUrl}`);
  });
});
