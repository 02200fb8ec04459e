import { TWIN_CANONICAL_BASE, TWIN_PROFILE } from '../../fhir/codes/twinCodes';

/**
 * Plain-language descriptions of what an export holds, for the person who takes a copy of their record and for the
 * software that reads it. They travel in the complete-status manifest's `extension` (Bulk Data Access IG v2.0.0,
 * export.html#response---complete-status: the name `extension` is reserved for servers "to provide custom behavior
 * and information"), keyed by this URL. A Bulk client that does not know it ignores it: `output` keeps exactly the
 * IG's shape and every NDJSON file holds only resources of its type.
 */
export const RESOURCE_DESCRIPTIONS_EXTENSION = `${TWIN_CANONICAL_BASE}/bulk/resource-descriptions`;

export interface OutputDescription {
  readonly type: string;
  readonly description: string;
  /** What the twin writes of this type, by profile (docs/twin-data-contract.md). */
  readonly twin?: ReadonlyArray<{ readonly profile: string; readonly description: string }>;
}

const GENERAL: Readonly<Record<string, string>> = Object.freeze({
  Patient: 'You: the person this record is about (name, birth date and other details the server holds).',
  Observation:
    'Measurements and results: what your wearables and your care team recorded (heart rate, sleep, steps, pain, ...), ' +
    'and the figures the recovery twin computed from them.',
  RiskAssessment:
    'Findings: days on which the recovery twin saw your measurements leave your personal normal range, with how ' +
    'confident it was; and simulations of how your recovery could go.',
  CarePlan:
    'Care plans: rehabilitation plans the recovery twin proposed for a clinician to review, and plans a clinician ' +
    'approved.',
  Task: 'Tasks: requests for a clinician to review a finding or a proposed plan, and what became of them.',
  Provenance:
    'Provenance: who or what created or changed each item, when and why (for example "computed by the recovery ' +
    'twin", "approved by a clinician", "withdrawn after consent was withdrawn").',
  Device:
    'Devices: the software models that computed the twin figures and findings (name, version and a fingerprint of ' +
    'the model), so a result can be traced to exactly what produced it.',
  Condition: 'Conditions: diagnoses and problems recorded by your care team (for example an injury).',
  Procedure: 'Procedures: operations and treatments you had.',
  DocumentReference: 'Documents: clinical notes and other documents in your record.',
  Consent: 'Consents: what you agreed to or refused, such as processing of your data by the recovery twin.',
  ServiceRequest: 'Orders: requests for services that came from an approved plan.',
  Goal: 'Goals: the goals of your care (for example returning to sport).',
  Encounter: 'Encounters: visits and contacts with your care team.',
  DetectedIssue: 'Detected issues: problems a system flagged for a clinician to look at.',
  Communication: 'Communications: messages sent about your care.',
});

const TWIN: Readonly<Record<string, OutputDescription['twin']>> = Object.freeze({
  Observation: [
    {
      profile: TWIN_PROFILE.baseline,
      description:
        'Personal baseline: your usual value of one measurement over 28 days and your personal normal range.',
    },
    {
      profile: TWIN_PROFILE.recoveryState,
      description:
        'Daily recovery state: for one day, how far each measurement was from your personal normal, and a recovery ' +
        'index summing them up.',
    },
  ],
  RiskAssessment: [
    {
      profile: TWIN_PROFILE.anomalyRiskAssessment,
      description: 'Finding: a period the twin flagged as unusual for you, waiting for or after clinician review.',
    },
    {
      profile: TWIN_PROFILE.simulatedRecovery,
      description: 'Simulation: a what-if projection of your recovery; not a prediction a clinician confirmed.',
    },
  ],
  CarePlan: [
    {
      profile: TWIN_PROFILE.carePlanProposal,
      description:
        'Proposed plan: a plan the twin matched to your situation; it applies only once a clinician approves.',
    },
  ],
  Task: [
    { profile: TWIN_PROFILE.reviewTask, description: 'Review request: a clinician is asked to review a twin output.' },
  ],
  Device: [
    { profile: TWIN_PROFILE.modelDevice, description: 'Model: the detector or model that computed a twin output.' },
  ],
});

/** One description per exported type, in the manifest's order; a type without its own text gets a generic one. */
export function describeOutputs(types: readonly string[]): OutputDescription[] {
  return [...new Set(types)].map((type) => {
    const twin = TWIN[type];
    return {
      type,
      description: GENERAL[type] ?? `${type} resources of your record (FHIR R4 ${type.toLowerCase()}.html).`,
      ...(twin ? { twin } : {}),
    };
  });
}
