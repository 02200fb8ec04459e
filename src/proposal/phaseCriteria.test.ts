import type { PlanDefinition } from '@medplum/fhirtypes';
import { situationFromResources } from '../evidence/match/patientSituation';
import type { ProtocolMatch } from '../evidence/match/protocolMatcher';
import { assessPhases, currentPhase, placePatient, recordVariables } from './phaseCriteria';
import { loadProtocolLibrary } from '../protocols/protocolLibrary';

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

  test('three-valued logic: one refuted criterion refutes the phase, one unknown leaves it unknown', () => {
    const acl = protocol('acl-reconstruction');
    const swollen = assessPhases(acl, { '%swelling': { type: 'boolean', value: true } });
    expect(swollen[1]?.status).toBe('not-met');
    const quiet = assessPhases(acl, { '%swelling': { type: 'boolean', value: false } });
    expect(quiet[1]?.status).toBe('unknown');
    expect(quiet[1]?.missingWords).toContain('knee extension compared with the other side');
  });

  test('time moves the start past a phase that is clearly over, by one phase only, and never past a refuted one', () => {
    const acl = protocol('acl-reconstruction');
    const day = (n: number, extra: Record<string, { type: string; value: unknown }> = {}) =>
      placePatient(acl, { '%daysSinceEvent': { type: 'integer', value: n }, ...extra });
    expect(day(10).start).toBe(0);
    expect(day(120).start).toBe(1);
    expect(day(120).reason).toMatch(/^Start at Phase 2: [^.]+\. Phase 1 \(.*\) is past \(day 120/);
    expect(day(400).start).toBe(1);
    // An effusion on day 120: phase 2 is refuted, the patient is not moved on.
    expect(day(120, { '%swelling': { type: 'boolean', value: true } }).start).toBe(0);
  });

  test('reviews that are due are surfaced: a review point named "by about 4 weeks", the next phase when due', () => {
    const concussion = placePatient(protocol('concussion-return-to-sport'), {
      '%daysSinceEvent': { type: 'integer', value: 43 },
    });
    expect(concussion.start).toBe(1);
    expect(concussion.overdue.map((o) => o.text)).toEqual([
      'Persisting symptoms review (Phase 2): due about day 28; today is day 43.',
    ]);
    const acl = placePatient(protocol('acl-reconstruction'), { '%daysSinceEvent': { type: 'integer', value: 60 } });
    expect(acl.overdue).toEqual([]);
  });

  test('notes: the newest mention wins; "reduced limp" is progress, "crutches" is a walking aid; denied systemic symptoms', () => {
    const vars = (text: string) => ankle(text, '2026-03-07');
    expect(vars('Reduced limp.')['%walkingWithoutAid']).toBeUndefined();
    expect(vars('Walking with crutches.')['%walkingWithoutAid']).toEqual({ type: 'boolean', value: false });
    expect(vars('Full weight bearing.')['%fullWeightBearing']).toEqual({ type: 'boolean', value: true });
    expect(vars('No fever. No signs of infection.')['%systemicSymptoms']).toEqual({ type: 'boolean', value: false });
    expect(vars('Muscle aches.')['%systemicSymptoms']).toEqual({ type: 'boolean', value: true });
  });
});
