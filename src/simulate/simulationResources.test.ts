import type { RiskAssessment } from '@medplum/fhirtypes';
import { loadProtocolLibrary } from '../protocols/protocolLibrary';
import { createValidator } from '../fhir/validation';
import { runSimulation } from './runSimulation';
import { resolveScenarios } from './scenarioSchedule';
import { buildSimulationRiskAssessment, buildSimulatorDevice, type SimulationIdentity } from './simulationResources';

const library = loadProtocolLibrary();
const validator = createValidator();
const TODAY = 20_500;

const scenarios = resolveScenarios(
  [
    { protocol: 'ankle-sprain', levers: {} },
    { protocol: 'ankle-sprain', levers: { illness: { startDay: 2, days: 7, loadFactor: 1.5 } } },
  ],
  library
);
const outcome = runSimulation({
  history: { asOfDay: TODAY, series: {}, load: { days: [], values: [] }, eventDay: TODAY - 3 },
  scenarios,
  horizon: 60,
  trajectories: 1000,
  seed: 3,
});
const identity: SimulationIdentity = {
  patientId: 'p-1',
  asOfDay: TODAY,
  seed: 3,
  trajectories: 1000,
  historyDigest: 'a'.repeat(64),
};

function assessment(i = 0, id: SimulationIdentity = identity): RiskAssessment {
  return buildSimulationRiskAssessment(id, outcome, outcome.results[i], { reference: 'Device/sim-1' });
}

function errorsOf(resource: RiskAssessment): string {
  try {
    validator.validate(resource);
    return '';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

describe('simulation RiskAssessment', () => {
  test('validates against its profile and says what it predicts, in days from today', () => {
    const ra = assessment();
    expect(errorsOf(ra)).toBe('');
    expect(ra.occurrenceDateTime).toBe('2026-02-16');
    expect(ra.identifier?.[0]?.value).toMatch(/^simulation\/p-1\/[0-9a-f]{24}$/);
    const [withinTarget, ...rest] = ra.prediction ?? [];
    expect(withinTarget.whenRange?.high?.value).toBe(39); // 42-day protocol, sprain 3 days ago
    expect(withinTarget.probabilityDecimal).toBeCloseTo(outcome.results[0].summary.probabilityWithinTarget, 3);
    expect(rest.at(-1)?.outcome?.text).toMatch(/^Setback/);
    expect(ra.note?.[0]?.text).toContain('Computed by simulation, not measured');
    expect(ra.note?.[0]?.text).toContain('resting-heart-rate 0 days');
    expect(errorsOf({ ...buildSimulatorDevice(), resourceType: 'Device' } as unknown as RiskAssessment)).toBe('');
  });

  test('the profile refuses a missing AI label, a probability above 1 and a whenRange not in days', () => {
    const ra = assessment();
    expect(errorsOf({ ...ra, meta: { ...ra.meta, security: [] } })).toMatch(/twin-sim-1/);
    const prediction = ra.prediction ?? [];
    expect(errorsOf({ ...ra, prediction: [{ ...prediction[0], probabilityDecimal: 1.2 }] })).toMatch(/twin-sim-5/);
    const hours = {
      ...prediction[0],
      whenRange: { low: { value: 0, system: 'http://unitsofmeasure.org', code: 'h' } },
    };
    expect(errorsOf({ ...ra, prediction: [hours] })).toMatch(/twin-sim-6/);
    expect(errorsOf({ ...ra, performer: { reference: 'Practitioner/x' } })).toMatch(/twin-sim-4/);
  });

  test('the identifier is the same for the same inputs and differs by scenario, seed and history', () => {
    expect(assessment().identifier).toEqual(assessment().identifier);
    expect(assessment(1).identifier).not.toEqual(assessment(0).identifier);
    expect(assessment(0, { ...identity, seed: 4 }).identifier).not.toEqual(assessment().identifier);
    expect(assessment(0, { ...identity, historyDigest: 'b'.repeat(64) }).identifier).not.toEqual(
      assessment().identifier
    );
  });
});
