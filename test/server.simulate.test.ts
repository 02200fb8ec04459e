import type { Condition, Observation, Parameters, RiskAssessment } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../src/cli/serveCommand';
import { loadProtocolLibrary } from '../src/protocols/protocolLibrary';
import { TWIN_PROFILE } from '../src/fhir/codes/twinCodes';
import { HttpFhirClient } from '../src/fhir/httpFhirClient';
import { buildMetricObservation } from '../src/ingest/importers/metricObservation';
import { registerSimulateOperation } from '../src/server/simulateOperation';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';

type Running = Awaited<ReturnType<typeof startServer>>;
type Answer = Parameters & { issue?: { details?: { text?: string }; expression?: string[] }[] };

const TODAY = '2026-03-01';

describe('$simulate over HTTP', () => {
  let dir: string;
  let running: Running;
  let client: HttpFhirClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'twin-simulate-op-'));
    const library = loadProtocolLibrary();
    running = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      seed: false,
      log: () => undefined,
      openRepository: async (dataDir, { baseUrl }) => {
        const store = await openSqliteStore(dataDir, { baseUrl, durability: 'normal' });
        const router = createEmbeddedRouter();
        // The default runner: a worker thread per request (the path the server uses).
        registerSimulateOperation(router, { library, today: () => TODAY });
        return {
          repo: store.repo,
          close: () => store.close(),
          supports: store.supports,
          router,
          systemInteractions: ['transaction', 'batch'],
        };
      },
    });
    client = new HttpFhirClient({ baseUrl: running.baseUrl });
  });

  afterAll(async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function post(path: string, body?: Parameters): Promise<{ status: number; json: Answer }> {
    const res = await fetch(`${running.baseUrl}/${path}`, {
      method: 'POST',
      headers: { accept: 'application/fhir+json', 'content-type': 'application/fhir+json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Answer };
  }

  async function createPatient(withData: boolean): Promise<string> {
    const patientUrl = 'urn:uuid:5e3c0a7d-0000-4000-8000-000000000001';
    const condition: Condition = {
      resourceType: 'Condition',
      subject: { reference: patientUrl },
      code: { text: 'Ankle sprain' },
      onsetDateTime: '2026-02-20',
    };
    const observations: Observation[] = [];
    if (withData) {
      for (let i = 0; i < 40; i++) {
        const day = new Date(Date.parse('2026-01-21T00:00:00Z') + i * 86_400_000).toISOString().slice(0, 10);
        observations.push(
          buildMetricObservation({
            source: 'test',
            subjectKey: 'sim-1',
            subject: { reference: patientUrl },
            metric: 'resting-heart-rate',
            day,
            value: 54 + (i >= 30 ? 5 * Math.exp(-(i - 30) / 8) : 0) + ((i * 7) % 5) * 0.4,
          })
        );
      }
    }
    const created = await client.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: patientUrl, resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
        { resource: condition, request: { method: 'POST', url: 'Condition' } },
        ...observations.map((o) => ({ resource: o, request: { method: 'POST' as const, url: 'Observation' } })),
      ],
    });
    return /Patient\/([^/]+)/.exec(created.entry?.[0]?.response?.location ?? '')?.[1] as string;
  }

  const scenario = (label: string, loadFactor: number): NonNullable<Parameters['parameter']>[number] => ({
    name: 'scenario',
    part: [
      { name: 'protocol', valueString: 'ankle-sprain' },
      { name: 'label', valueString: label },
      { name: 'illnessStartDay', valueInteger: 3 },
      { name: 'illnessDays', valueInteger: 7 },
      { name: 'illnessLoadFactor', valueDecimal: loadFactor },
    ],
  });

  test('simulates two scenarios, writes profiled RiskAssessments once, and ranks training through illness worse', async () => {
    const patientId = await createPatient(true);
    const body: Parameters = {
      resourceType: 'Parameters',
      parameter: [
        scenario('rest while ill', 0),
        scenario('more load while ill', 1.5),
        { name: 'trajectories', valueInteger: 3000 },
        { name: 'horizonDays', valueInteger: 60 },
        { name: 'seed', valueInteger: 5 },
      ],
    };
    const first = await post(`Patient/${patientId}/$simulate`, body);
    expect(first.status).toBe(200);
    const results = first.json.parameter?.filter((p) => p.name === 'result') ?? [];
    expect(results).toHaveLength(2);
    const part = (r: (typeof results)[number], name: string): unknown => {
      const p = r.part?.find((x) => x.name === name);
      return p?.valueInteger ?? p?.valueDecimal ?? p?.valueString ?? p?.valueReference?.reference;
    };
    expect(part(results[0], 'rank')).toBe(1);
    expect(part(results[1], 'rank')).toBe(2);
    expect(Number(part(results[1], 'probabilitySetback'))).toBeGreaterThan(
      Number(part(results[0], 'probabilitySetback'))
    );
    expect(results[0].part?.filter((p) => p.name === 'band')).toHaveLength(60);

    const written =
      first.json.parameter?.filter((p) => p.name === 'riskAssessment').map((p) => p.resource as RiskAssessment) ?? [];
    expect(written).toHaveLength(2);
    expect(written[0].meta?.profile).toEqual([TWIN_PROFILE.simulatedRecovery]);
    expect(written[0].meta?.security?.[0]?.code).toBe('AIAST');
    // Ankle sprain 9 days ago; the protocol plans 42 days to its last phase: 33 days from today.
    expect(written[0].prediction?.[0]?.whenRange?.high).toEqual({
      value: 33,
      unit: 'd',
      system: 'http://unitsofmeasure.org',
      code: 'd',
    });
    expect(written[0].occurrenceDateTime).toBe(TODAY);

    const again = await post(`Patient/${patientId}/$simulate`, body);
    expect(again.status).toBe(200);
    expect(again.json.parameter?.filter((p) => p.name === 'result').map((r) => part(r, 'riskAssessment'))).toEqual(
      results.map((r) => part(r, 'riskAssessment'))
    );
    const onServer = await client.searchAll<RiskAssessment>('RiskAssessment', { subject: `Patient/${patientId}` });
    expect(onServer).toHaveLength(2);
  });

  test('an unknown scenario and a negative duration are refused with one 400 OperationOutcome naming both', async () => {
    const patientId = await createPatient(false);
    const bad = await post(`Patient/${patientId}/$simulate`, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'scenario', part: [{ name: 'protocol', valueString: 'knee-magic' }] },
        {
          name: 'scenario',
          part: [
            { name: 'protocol', valueString: 'ankle-sprain' },
            { name: 'illnessStartDay', valueInteger: 2 },
            { name: 'illnessDays', valueInteger: -3 },
          ],
        },
        { name: 'horizonDays', valueInteger: -5 },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.resourceType).toBe('OperationOutcome');
    const expressions = bad.json.issue?.map((i) => i.expression?.[0]);
    expect(expressions).toEqual(
      expect.arrayContaining(['horizonDays', 'scenario[0].protocol', 'scenario[1].illnessDays'])
    );
    expect(JSON.stringify(bad.json)).toContain("Unknown scenario protocol 'knee-magic'");
    const onServer = await client.searchAll<RiskAssessment>('RiskAssessment', { subject: `Patient/${patientId}` });
    expect(onServer).toHaveLength(0);
  });

  test('malformed parameters, a missing scenario and an unknown patient', async () => {
    const patientId = await createPatient(false);
    const typed = await post(`Patient/${patientId}/$simulate`, {
      resourceType: 'Parameters',
      parameter: [
        {
          name: 'scenario',
          part: [
            { name: 'protocol', valueString: 'ankle-sprain' },
            { name: 'sessionsPerWeek', valueString: 'three' },
          ],
        },
        { name: 'colour', valueString: 'blue' },
      ],
    });
    expect(typed.status).toBe(400);
    expect(typed.json.issue).toHaveLength(2);
    const none = await post(`Patient/${patientId}/$simulate`, { resourceType: 'Parameters', parameter: [] });
    expect(none.status).toBe(400);
    expect(JSON.stringify(none.json)).toContain('no draft proposal');
    const unknown = await post('Patient/does-not-exist/$simulate', {
      resourceType: 'Parameters',
      parameter: [{ name: 'scenario', part: [{ name: 'protocol', valueString: 'ankle-sprain' }] }],
    });
    expect(unknown.status).toBe(404);
  });
});
