import type { ActivityDefinition, CarePlan, CarePlanActivityDetail } from '@medplum/fhirtypes';
import { loadProtocolLibrary } from '../protocols/protocolLibrary';
import { orderForActivity, timingOf } from './phaseOrders';
import { activityKind } from './planApplier';

const library = loadProtocolLibrary();
const template = (id: string): ActivityDefinition =>
  library.get(`https://recovery-twin.dev/fhir/ActivityDefinition/${id}`) as ActivityDefinition;
const NOW = '2026-03-02T10:00:00Z';

describe('orders of an approved phase', () => {
  test('each template becomes the right request kind; nutrition is a ServiceRequest, education a CommunicationRequest', () => {
    expect(activityKind(template('patient-education'))).toBe('CommunicationRequest');
    expect(activityKind(template('nutrition-measure'))).toBe('ServiceRequest');
    expect(activityKind(template('clinical-review-point'))).toBe('Task');
    expect(activityKind(template('symptom-monitoring'))).toBe('Task');
    expect(activityKind(template('physiotherapy-session'))).toBe('ServiceRequest');
    expect(activityKind(undefined)).toBe('ServiceRequest');
  });

  test('Timing: the template frequency, or the frequency the activity states, bounded by the phase; else bounds only', () => {
    const detail = (text: string, description: string): CarePlanActivityDetail => ({
      status: 'not-started',
      code: { text },
      description,
    });
    const phase = { timingDuration: { value: 2, unit: 'weeks', system: 'http://unitsofmeasure.org', code: 'wk' } };
    expect(timingOf(detail('Daily check-in', ''), template('symptom-monitoring'), { phase, now: NOW })).toEqual({
      repeat: { frequency: 1, period: 1, periodUnit: 'd', boundsPeriod: { start: '2026-03-02', end: '2026-03-16' } },
    });
    expect(
      timingOf(detail('Supervised strength sessions', 'One to three sessions a week: loading.'), undefined, {
        phase,
        now: NOW,
      })
    ).toEqual({
      repeat: {
        boundsPeriod: { start: '2026-03-02', end: '2026-03-16' },
        frequency: 1,
        frequencyMax: 3,
        period: 1,
        periodUnit: 'wk',
      },
    });
    expect(
      timingOf(detail('Fracture screen', 'Apply the Ottawa ankle rules.'), template('clinical-review-point'), {
        now: NOW,
      })
    ).toEqual({
      repeat: { count: 1, boundsPeriod: { start: '2026-03-02' } },
    });
    expect(timingOf(detail('Functional support', 'Brace or tape.'), undefined, { now: NOW })).toEqual({
      repeat: { boundsPeriod: { start: '2026-03-02' } },
    });
  });

  test('a nutrition order points back to the plan and to the condition (R4 NutritionOrder could not)', () => {
    const carePlan: CarePlan = {
      resourceType: 'CarePlan',
      id: 'cp1',
      status: 'active',
      intent: 'plan',
      subject: { reference: 'Patient/p1' },
    };
    const order = orderForActivity(
      {
        status: 'not-started',
        kind: 'ServiceRequest',
        code: { text: 'Fluids and nutrition' },
        instantiatesCanonical: ['https://recovery-twin.dev/fhir/ActivityDefinition/nutrition-measure'],
      },
      {
        carePlan,
        requester: 'Practitioner/dr1',
        conditions: [{ reference: 'Condition/c1' }],
        otherReasons: [],
        reasonText: 'Viral illness',
        activityDefinitions: (c) => library.get(c) as ActivityDefinition | undefined,
        now: NOW,
      }
    );
    expect(order).toMatchObject({
      resourceType: 'ServiceRequest',
      status: 'active',
      intent: 'order',
      basedOn: [{ reference: 'CarePlan/cp1' }],
      reasonReference: [{ reference: 'Condition/c1' }],
      performerType: { text: 'Dietitian' },
      requester: { reference: 'Practitioner/dr1' },
    });
  });
});
