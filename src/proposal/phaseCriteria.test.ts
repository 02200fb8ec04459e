import type { PlanDefinition } from '@medplum/fhirtypes';
import { situationFromResources } from '../evidence/match/patientSituation';
import type { ProtocolMatch } from '../evidence/match/protocolMatcher';
import { assessPhases, currentPhase, recordVariables } from './phaseCriteria';
import { loadProtocolLibrary } from '../evidence/protocols/protocolLibrary';

const library = loadProtocolLibrary();
const protocol = (id: string): PlanDefinition => library.get(id) as PlanDefinition;

function ankle(noteText: string, onset: string) {
  const situation = situationFromResources('p1', {
    conditions: [
      {
        resourceType: 'Condition',
        id: 'c1',
        subject: { reference: 'Patient/p1' },
        code: { text: 'Sprain of ankle' },
        onsetDateTime: onset,
      },
    ],
    procedures: [],
    notes: [
      {
        resourceType: 'DocumentReference',
        id: 'n1',
        status: 'current',
        content: [{ attachment: { contentType: 'text/plain', data: Buffer.from(noteText).toString('base64') } }],
      },
    ],
    findings: [],
    goals: [],
  });
  const match = { planDefinition: protocol('ankle-sprain'), supportedBy: ['Condition/c1'] } as unknown as ProtocolMatch;
  return recordVariables(situation, match, '2026-03-10T12:00:00Z');
}

describe('protocol phase criteria on the record', () => {
  test('variables: days since the condition onset; swelling affirmed or negated; unknown when not mentioned', () => {
    expect(ankle('Ankle swollen.', '2026-03-07')).toEqual({
      '%daysSinceEvent': { type: 'integer', value: 3 },
      '%swelling': { type: 'boolean', value: true },
    });
    expect(ankle('No swelling, no fever.', '2026-03-07')).toMatchObject({
      '%swelling': { value: false },
      '%fever': { value: false },
    });
    expect(ankle('Walking better.', '2026-03-07')['%swelling']).toBeUndefined();
    expect(ankle('DVT confirmed.', '2026-03-07')['%redFlags']).toEqual({ type: 'boolean', value: true });
  });

  test('an ankle sprain 3 days old starts at phase 1; at 20 days with no progress recorded the clinician chooses', () => {
    const early = assessPhases(protocol('ankle-sprain'), ankle('Ankle swollen.', '2026-03-07'));
    // Phase 4 needs "no swelling": the affirmed swelling refutes it even though the other criteria are unknown.
    expect(early.map((p) => p.status)).toEqual(['met', 'unknown', 'unknown', 'not-met']);
    expect(currentPhase(early)).toBe(0);
    const late = assessPhases(protocol('ankle-sprain'), ankle('Ankle swollen.', '2026-02-18'));
    expect(late[0]?.status).toBe('not-met');
    expect(currentPhase(late)).toBeUndefined();
    expect(late[1]?.missing).toEqual(expect.arrayContaining(['%fullWeightBearing', '%painScore']));
  });

  test('the last phase whose criteria are met is where the plan starts', () => {
    const vars = {
      '%daysSinceEvent': { type: 'integer', value: 100 },
      '%clinicianClearance': { type: 'boolean', value: true },
    };
    const phases = assessPhases(protocol('rotator-cuff-repair'), vars);
    // Phase 4 needs day 180: on day 100 it is refuted, whatever the other criteria.
    expect(phases.map((p) => p.status)).toEqual(['met', 'met', 'unknown', 'not-met']);
    expect(currentPhase(phases)).toBe(1);
  });

  test('%painScore is the newest final pain score (0-10); a cancelled one is ignored', () => {
    const pain = (value: number, at: string, status: 'final' | 'cancelled' = 'final') => ({
      resourceType: 'Observation' as const,
      status,
      code: { text: 'pain' },
      effectiveDateTime: at,
      valueQuantity: { value, unit: '{score}' },
    });
    const s = situationFromResources('p1', {
      conditions: [],
      procedures: [],
      notes: [],
      findings: [],
      goals: [],
      pain: [
        pain(6, '2026-03-08T08:00:00Z'),
        pain(2, '2026-03-09T08:00:00Z'),
        pain(9, '2026-03-10T08:00:00Z', 'cancelled'),
      ],
    });
    expect(s.latestPain).toEqual({ value: 2, date: '2026-03-09T08:00:00Z' });
    const match = { planDefinition: protocol('ankle-sprain'), supportedBy: [] } as unknown as ProtocolMatch;
    expect(recordVariables(s, match, '2026-03-10T12:00:00Z')['%painScore']).toEqual({ type: 'decimal', value: 2 });
  });

  test('nothing known at all: start at the beginning', () => {
    expect(currentPhase(assessPhases(protocol('low-back-pain'), {}))).toBe(0);
  });
});
