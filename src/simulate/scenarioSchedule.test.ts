import { OperationOutcomeError } from '@medplum/core';
import { createPrng } from '../cohort/prng';
import { loadProtocolLibrary } from '../protocols/protocolLibrary';
import { fitPersonalModel } from './personalFit';
import { buildSchedule, describeScenario, phasesOf, resolveScenarios } from './scenarioSchedule';

const library = loadProtocolLibrary();

function issuesOf(fn: () => unknown): { text?: string; expression?: string[] }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return (err.outcome.issue ?? []).map((i) => ({ text: i.details?.text, expression: i.expression }));
    }
    throw err;
  }
  throw new Error('expected an OperationOutcomeError');
}

describe('scenarios', () => {
  test('an unknown protocol and negative durations are refused together, each with its parameter', () => {
    const issues = issuesOf(() =>
      resolveScenarios(
        [
          { protocol: 'no-such-protocol', levers: {} },
          { protocol: 'ankle-sprain', levers: { restDays: -2, illness: { startDay: 3, days: -1, loadFactor: 0 } } },
        ],
        library
      )
    );
    expect(issues.map((i) => i.expression?.[0])).toEqual([
      'scenario[0].protocol',
      'scenario[1].restDays',
      'scenario[1].illnessDays',
    ]);
    expect(issues[0].text).toContain("Unknown scenario protocol 'no-such-protocol'");
  });

  test('protocols resolve by id, reference or canonical; an ActivityDefinition is not a scenario', () => {
    const [byId, byCanonical] = resolveScenarios(
      [
        { protocol: 'acl-reconstruction', levers: {} },
        { protocol: 'https://recovery-twin.dev/fhir/PlanDefinition/ankle-sprain', levers: {} },
      ],
      library
    );
    expect(byId.protocol.id).toBe('acl-reconstruction');
    expect(byCanonical.protocol.id).toBe('ankle-sprain');
    expect(issuesOf(() => resolveScenarios([{ protocol: 'physiotherapy-session', levers: {} }], library))).toHaveLength(
      1
    );
  });

  test("phases and target time come from the protocol's timingDuration; load steps up from 20% to 100%", () => {
    const protocol = library.get('ankle-sprain');
    if (protocol?.resourceType !== 'PlanDefinition') {
      throw new Error('ankle-sprain missing');
    }
    const phases = phasesOf(protocol);
    expect(phases.map((p) => p.plannedDays)).toEqual([7, 14, 21, undefined]);
    expect(phases.map((p) => Math.round(p.loadShare * 100))).toEqual([20, 47, 73, 100]);
    const [scenario] = resolveScenarios([{ protocol: 'ankle-sprain', levers: {} }], library);
    expect(scenario.targetDays).toBe(42);
  });

  test('the schedule follows sessions a week, rest days, progression and illness', () => {
    const posterior = fitPersonalModel(
      { asOfDay: 100, series: {}, load: { days: [], values: [] }, eventDay: 100 },
      { expectedRecoveryDays: 42, draws: 10, prng: createPrng(1) }
    );
    const [three, two, rested, fast, ill] = resolveScenarios(
      [
        { protocol: 'ankle-sprain', levers: {} },
        { protocol: 'ankle-sprain', levers: { sessionsPerWeek: 2 } },
        { protocol: 'ankle-sprain', levers: { restDays: 5 } },
        { protocol: 'ankle-sprain', levers: { progressionRate: 2 } },
        { protocol: 'ankle-sprain', levers: { illness: { startDay: 8, days: 7, loadFactor: 0 } } },
      ],
      library
    );
    const sessions = (s: typeof three, days: number): number =>
      [...buildSchedule(s, posterior, days).load].filter((w) => w > 0).length;
    expect(sessions(three, 28)).toBe(12);
    expect(sessions(two, 28)).toBe(8);
    expect([...buildSchedule(rested, posterior, 10).load.slice(0, 5)]).toEqual([0, 0, 0, 0, 0]);
    const ref = posterior.loadReference;
    // Day 30 after the event: phase 3 as planned (73%), the last phase at double speed (100%).
    expect(Math.max(...buildSchedule(three, posterior, 35).load.slice(28, 35)) / ref).toBeCloseTo(0.733, 2);
    expect(Math.max(...buildSchedule(fast, posterior, 35).load.slice(28, 35)) / ref).toBeCloseTo(1, 5);
    const illSchedule = buildSchedule(ill, posterior, 20);
    expect([...illSchedule.illness.slice(7, 14)]).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(illSchedule.load.slice(7, 14).every((w) => w === 0)).toBe(true);
    expect(describeScenario(ill)).toContain('an illness on days 8-14 with 0% of the planned load');
  });
});
