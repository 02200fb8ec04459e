import type {
  ActivityDefinition,
  CarePlan,
  CarePlanActivityDetail,
  CodeableConcept,
  CommunicationRequest,
  PlanDefinitionAction,
  Reference,
  ServiceRequest,
  Task,
  Timing,
} from '@medplum/fhirtypes';
import { AIAST } from '../policy/aiTransparency';

/** What every order of an approved phase shares. */
export interface OrderContext {
  readonly carePlan: CarePlan;
  /** The approving clinician (Practitioner/...). */
  readonly requester: string;
  /** The Conditions the plan addresses; the orders' reason. */
  readonly conditions: readonly Reference[];
  /** Notes that support the plan, when no Condition does (a reason must still be given). */
  readonly otherReasons: readonly Reference[];
  /** The indication in words ("Total knee replacement"), the reason when nothing can be referenced. */
  readonly reasonText: string;
  /** The starting phase of the protocol (PlanDefinition.action), for its typical duration. */
  readonly phase?: PlanDefinitionAction;
  readonly activityDefinitions: (canonical: string) => ActivityDefinition | undefined;
  /** The clock (ISO instant). */
  readonly now: string;
}

export type PhaseOrder = ServiceRequest | Task | CommunicationRequest;

/**
 * Who carries an activity out, by its template (ActivityDefinition id), in plain words. Text only: no
 * performer-type code was verified for this project, and a wrong code is worse than none.
 */
const PERFORMER_TYPE: Readonly<Record<string, string>> = Object.freeze({
  'physiotherapy-session': 'Physiotherapist',
  'exercise-load-prescription': 'Physiotherapist',
  'return-to-sport-assessment': 'Physiotherapist',
  'clinical-review-point': 'Responsible clinician',
  'nutrition-measure': 'Dietitian',
  'patient-education': 'Responsible clinician',
});

/** Who performs it: the patient when the template names only the patient as participant, else by template. */
function performerOf(templateId: string, template: ActivityDefinition | undefined): string {
  const types = (template?.participant ?? []).map((p) => p.type);
  if (types.length > 0 && types.every((t) => t === 'patient')) {
    return 'Patient';
  }
  return PERFORMER_TYPE[templateId] ?? 'Responsible clinician';
}

/**
 * One approved activity of the starting phase as the request it stands for (FHIR R4 workflow: a request basedOn the
 * CarePlan that authorises it, request-pattern.html):
 * - ServiceRequest (therapy, exercise, assessment, sleep or nutrition advice): occurrenceTiming, performerType,
 *   reasonReference to the Conditions;
 * - Task (review points, the patient's daily check-in): the schedule as a Timing input (R4 Task has no timing element),
 *   restriction.period over the phase, performerType, reasonReference;
 * - CommunicationRequest (education): payload = what to tell the patient, recipient the patient, occurrencePeriod.
 * Every order carries the AIAST label: its content was drafted by the engine, even though a clinician ordered it.
 */
export function orderForActivity(detail: CarePlanActivityDetail, context: OrderContext): PhaseOrder {
  const canonical = detail.instantiatesCanonical?.[0];
  const template = canonical ? context.activityDefinitions(canonical) : undefined;
  const templateId = canonical?.split('/').pop()?.split('|')[0] ?? '';
  const timing = timingOf(detail, template, context);
  const period = timing.repeat?.boundsPeriod ?? { start: context.now };
  const performerType: CodeableConcept = { text: performerOf(templateId, template) };
  const basedOn = [{ reference: `CarePlan/${context.carePlan.id ?? ''}` }];
  const requester = { reference: context.requester };
  const subject = context.carePlan.subject;
  const reasons = context.conditions.length > 0 ? context.conditions : context.otherReasons;
  const { reasonText } = context;
  // R4 ServiceRequest/CommunicationRequest.reasonReference: Condition | Observation | DiagnosticReport | DocumentReference.
  const clinicalReasons = reasons
    .filter((r) => /^(Condition|DocumentReference)\//.test(r.reference ?? ''))
    .map((r) => ({ reference: r.reference }));
  const common = {
    meta: { security: [{ ...AIAST }] },
    basedOn,
    authoredOn: context.now,
    requester,
  };
  switch (detail.kind) {
    case 'Task':
      return {
        resourceType: 'Task',
        ...common,
        ...(canonical ? { instantiatesCanonical: canonical } : {}),
        status: 'requested',
        intent: 'order',
        priority: 'routine',
        code: detail.code,
        description: detail.description,
        for: subject,
        performerType: [performerType],
        ...(templateId === 'symptom-monitoring' && subject?.reference
          ? { owner: { reference: subject.reference } }
          : {}),
        ...(reasons[0] ? { reasonReference: reasons[0] } : { reasonCode: { text: reasonText } }),
        restriction: { period },
        input: [{ type: { text: 'Schedule' }, valueTiming: timing }],
      } satisfies Task;
    case 'CommunicationRequest':
      return {
        resourceType: 'CommunicationRequest',
        ...common,
        status: 'active',
        category: [{ text: 'Patient education' }],
        subject,
        ...(subject ? { recipient: [subject] } : {}),
        payload: [{ contentString: [detail.code?.text, detail.description].filter(Boolean).join(': ') }],
        occurrencePeriod: period,
        ...(clinicalReasons.length > 0 ? { reasonReference: clinicalReasons } : { reasonCode: [{ text: reasonText }] }),
      } satisfies CommunicationRequest;
    default:
      return {
        resourceType: 'ServiceRequest',
        ...common,
        ...(detail.instantiatesCanonical ? { instantiatesCanonical: detail.instantiatesCanonical } : {}),
        status: 'active',
        intent: 'order',
        code: detail.code,
        subject: subject ?? {},
        occurrenceTiming: timing,
        performerType,
        ...(clinicalReasons.length > 0 ? { reasonReference: clinicalReasons } : { reasonCode: [{ text: reasonText }] }),
        ...(detail.description ? { patientInstruction: detail.description } : {}),
      } satisfies ServiceRequest;
  }
}

/**
 * The schedule as a FHIR Timing (R4 datatypes.html#Timing): bounded by the phase's typical duration, with the
 * frequency the template gives (ActivityDefinition.timingTiming) or the activity's own words state ("once a day",
 * "one to three sessions a week", "2-3 times a week"). A review point happens once. Nothing is invented: with no
 * stated frequency the Timing holds the bounds only, and the description says what to do.
 */
export function timingOf(
  detail: CarePlanActivityDetail,
  template: ActivityDefinition | undefined,
  context: Pick<OrderContext, 'phase' | 'now'>
): Timing {
  const start = context.now.slice(0, 10);
  const duration = context.phase?.timingDuration;
  const days = duration?.value !== undefined ? durationInDays(duration.value, duration.code) : undefined;
  const end =
    days !== undefined ? new Date(Date.parse(start) + days * 86_400_000).toISOString().slice(0, 10) : undefined;
  const boundsPeriod = { start, ...(end ? { end } : {}) };
  const text = `${detail.code?.text ?? ''} ${detail.description ?? ''}`.toLowerCase();
  const words: Record<string, number> = { one: 1, two: 2, three: 3, four: 4, five: 5 };
  const num = (w: string | undefined): number => (w ? (words[w] ?? Number(w)) : NaN);
  if (template?.timingTiming?.repeat) {
    return { repeat: { ...template.timingTiming.repeat, boundsPeriod } };
  }
  if (
    (template?.id ?? '') === 'clinical-review-point' ||
    /\breview\b|\bcheck\b|\bscreen\b/.test(detail.code?.text?.toLowerCase() ?? '')
  ) {
    return { repeat: { count: 1, boundsPeriod } };
  }
  const range =
    /\b(one|two|three|four|five|\d)\s*(?:to|-)\s*(one|two|three|four|five|\d)\s+(?:sessions|times)\s+a\s+week\b/.exec(
      text
    );
  if (range) {
    return {
      repeat: { boundsPeriod, frequency: num(range[1]), frequencyMax: num(range[2]), period: 1, periodUnit: 'wk' },
    };
  }
  const weekly = /\b(once|twice|one|two|three|four|five|\d)\s*(?:times|sessions)?\s+a\s+week\b/.exec(text);
  if (weekly) {
    const n = weekly[1] === 'once' ? 1 : weekly[1] === 'twice' ? 2 : num(weekly[1]);
    return { repeat: { boundsPeriod, frequency: n, period: 1, periodUnit: 'wk' } };
  }
  if (/\bonce a day\b|\beach day\b|\bevery day\b|\bdaily\b/.test(text)) {
    return { repeat: { boundsPeriod, frequency: 1, period: 1, periodUnit: 'd' } };
  }
  return { repeat: { boundsPeriod } };
}

function durationInDays(value: number, code: string | undefined): number | undefined {
  const perDay: Record<string, number> = { d: 1, wk: 7, h: 1 / 24, mo: 30 };
  const factor = perDay[code ?? ''];
  return factor === undefined ? undefined : Math.max(1, Math.ceil(value * factor));
}
