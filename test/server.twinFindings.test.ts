/**
 * `POST Patient/{id}/$twin-findings` over HTTP: what a Medplum bot calls on the engine service, since a bot runtime
 * cannot run the learned detector (bots/lib/patientDetection.ts). Detection with the ensemble and, when its model is
 * installed, the learned detector; findings written once; counts only in the answer.
 */
import type { Bundle, Parameters, Patient, RiskAssessment } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDays } from '../src/calendar/calendarDay';
import { startServer } from '../src/cli/serveCommand';
import { HttpFhirClient } from '../src/fhir/httpFhirClient';
import { buildMetricObservation, conditionalCreateEntry } from '../src/ingest/importers/metricObservation';
import { twinFindingsOperation } from '../src/server/operations/twinFindingsOperation';
import { openSqliteStore } from '../src/store/sqliteStore';
import { createEmbeddedRouter } from '../src/store/transactionBundle';

type Running = Awaited<ReturnType<typeof startServer>>;
const START = '2026-01-01';
const TODAY = '2026-03-01';

/** 50 ordinary days, then 6 days of resting HR up and HRV down together (what the ensemble alarms on). */
function deviatingPerson(subject: string): Bundle {
  const entry = [];
  for (let d = 0; d < 56; d++) {
    const day = addDays(START, d);
    const ill = d >= 50;
    const wobble = (d % 5) - 2;
    const values: [string, number][] = [
      ['resting-heart-rate', ill ? 68 + wobble : 55 + wobble * 0.5],
      ['hrv-rmssd', ill ? 30 + wobble : 60 + wobble],
      ['sleep-duration', 7.5 + wobble * 0.1],
    ];
    for (const [metric, value] of values) {
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

function part(answer: Parameters, detector: string, name: string): unknown {
  const found = answer.parameter?.find(
    (p) => p.name === 'detector' && p.part?.some((q) => q.name === 'name' && q.valueString === detector)
  );
  const value = found?.part?.find((q) => q.name === name);
  return value?.valueInteger ?? value?.valueCode ?? value?.valueString;
}

describe('$twin-findings over HTTP', () => {
  let dir: string;
  let running: Running;
  let client: HttpFhirClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'twin-findings-op-'));
    running = await startServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      seed: false,
      log: () => undefined,
      openRepository: async (dataDir, { baseUrl }) => {
        const store = await openSqliteStore(dataDir, { baseUrl, durability: 'normal' });
        return {
          repo: store.repo,
          close: () => store.close(),
          supports: store.supports,
          router: createEmbeddedRouter(),
          systemInteractions: ['transaction', 'batch'],
        };
      },
      // The learned detector's model ships in models/lstm-detector: it runs here.
      operations: [twinFindingsOperation({ today: () => TODAY })],
    });
    client = new HttpFhirClient({ baseUrl: running.baseUrl });
  });

  afterAll(async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function post(path: string, body?: unknown): Promise<{ status: number; json: Parameters }> {
    const res = await fetch(`${running.baseUrl}/${path}`, {
      method: 'POST',
      headers: { accept: 'application/fhir+json', 'content-type': 'application/fhir+json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as Parameters };
  }

  test('runs the ensemble and the learned detector, writes the findings once, answers counts', async () => {
    const created = await client.transaction({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Patient' } satisfies Patient, request: { method: 'POST', url: 'Patient' } }],
    });
    const patientId = /Patient\/([^/]+)/.exec(created.entry?.[0]?.response?.location ?? '')?.[1] ?? '';
    await client.transaction(deviatingPerson(`Patient/${patientId}`));

    const first = await post(`Patient/${patientId}/$twin-findings`, { resourceType: 'Parameters' });
    expect(first.status).toBe(200);
    expect(first.json.parameter?.find((p) => p.name === 'learnedDetector')?.valueString).toBe('ran');
    expect(part(first.json, 'ensemble', 'status')).toBe('written');
    expect(part(first.json, 'lstm', 'status')).toBe('written');
    expect(part(first.json, 'ensemble', 'findingsWritten')).toBeGreaterThanOrEqual(1);
    const findings = await client.searchAll<RiskAssessment>('RiskAssessment', { subject: `Patient/${patientId}` });
    expect(findings.length).toBeGreaterThanOrEqual(1);

    // A retried bot call writes nothing new.
    const again = await post(`Patient/${patientId}/$twin-findings`);
    expect(again.status).toBe(200);
    expect(part(again.json, 'ensemble', 'findingsWritten')).toBe(0);
    expect(part(again.json, 'lstm', 'findingsWritten')).toBe(0);
    expect(part(again.json, 'ensemble', 'tasksCreated')).toBe(0);
    const after = await client.searchAll<RiskAssessment>('RiskAssessment', { subject: `Patient/${patientId}` });
    expect(after.map((r) => `${r.id}@${r.meta?.versionId}`).sort()).toEqual(
      findings.map((r) => `${r.id}@${r.meta?.versionId}`).sort()
    );
  });

  test('an unknown patient is 404, a body that is not Parameters is 400', async () => {
    expect((await post('Patient/no-such-patient/$twin-findings')).status).toBe(404);
    expect((await post('Patient/x/$twin-findings', { resourceType: 'Patient' })).status).toBe(400);
  });
});
