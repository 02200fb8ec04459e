import type { OperationDefinition, OperationDefinitionParameter } from '@medplum/fhirtypes';
import {
  MATCH_EVIDENCE_OPERATION,
  REVIEW_OPERATION,
  TWIN_FINDINGS_OPERATION,
  TWIN_REFRESH_OPERATION,
} from '../../src/fhir/codes/twinCodes';
import { simulateOperationDefinition } from '../../src/server/simulateOperation';
import { CONFORMANCE_VERSION, PUBLISHER } from './twinTerminology';

/**
 * `POST [base]/Patient/{id}/$twin-refresh` (FHIR R4 operationdefinition.html): recomputes one patient's twin
 * (baselines and daily recovery states) from the Observations on the server and writes it back. No input parameter;
 * the output is a Parameters resource of counts and of the inputs it had to ignore (src/server/twinRefreshOperation.ts).
 */
export function twinRefreshOperation(): OperationDefinition {
  const count = (name: string, documentation: string): OperationDefinitionParameter => ({
    name,
    use: 'out',
    min: 1,
    max: '1',
    type: 'integer',
    documentation,
  });
  return {
    resourceType: 'OperationDefinition',
    id: 'Patient-twin-refresh',
    url: TWIN_REFRESH_OPERATION,
    version: CONFORMANCE_VERSION,
    name: 'TwinRefresh',
    title: "Refresh a patient's recovery twin",
    status: 'active',
    kind: 'operation',
    experimental: false,
    publisher: PUBLISHER,
    description:
      "Recomputes the patient's personal baselines and daily recovery states from the Observations on this server " +
      'and writes them as profiled Observations (twin-baseline, twin-recovery-state) by conditional update in one ' +
      'transaction. Idempotent: the same Observations give the same twin, however often it runs. A patient whose ' +
      'active Consent denies this processing is skipped. The response says what was read, used and written, and ' +
      'which inputs were ignored, per code, reason and unit (no values).',
    affectsState: true,
    code: 'twin-refresh',
    resource: ['Patient'],
    system: false,
    type: false,
    instance: true,
    parameter: [
      { name: 'status', use: 'out', min: 1, max: '1', type: 'code', documentation: 'refreshed | skipped-consent' },
      count('observationsRead', "Observations read (the twin's own excluded)."),
      count('accepted', 'Measurements used after de-duplication.'),
      count('duplicates', 'Copies of a measurement already counted.'),
      count('retracted', 'Observations withdrawn (entered-in-error).'),
      count('rejected', 'Observations ignored; the ignored parameters say which and why.'),
      count('baselinesWritten', 'Current baselines written or changed.'),
      count('baselinesInForceWritten', 'Baselines in force on a past day written or changed.'),
      count('statesWritten', 'Daily recovery states written or changed.'),
      count('removed', 'Twin resources removed because their data were withdrawn.'),
      {
        name: 'ignored',
        use: 'out',
        min: 0,
        max: '*',
        documentation: 'One per kind of ignored input, most frequent first.',
        part: [
          { name: 'code', use: 'out', min: 1, max: '1', type: 'string', documentation: 'system|code of the input.' },
          { name: 'reason', use: 'out', min: 1, max: '1', type: 'string', documentation: 'Why it was ignored.' },
          { name: 'unit', use: 'out', min: 0, max: '1', type: 'string', documentation: 'The unit it carried.' },
          { name: 'count', use: 'out', min: 1, max: '1', type: 'integer', documentation: 'How many.' },
        ],
      },
    ],
  };
}

/**
 * `POST [base]/Patient/{id}/$match-evidence`: ranks the protocol library against the patient's situation and writes the
 * proposal for the best match (CarePlan draft/proposal, review Task, Provenance), or says there is no match.
 */
export function matchEvidenceOperation(): OperationDefinition {
  return {
    resourceType: 'OperationDefinition',
    id: 'Patient-match-evidence',
    url: MATCH_EVIDENCE_OPERATION,
    version: CONFORMANCE_VERSION,
    name: 'MatchEvidence',
    title: 'Match evidence-based recovery protocols and propose a care plan',
    status: 'active',
    kind: 'operation',
    experimental: false,
    publisher: PUBLISHER,
    description:
      "Ranks the recovery protocol library against the patient's current Conditions (text or verified SNOMED CT / " +
      'ICD-10 codes), Procedures and clinical notes; twin findings and goals only raise the rank of a protocol the ' +
      'record supports. Writes the best protocol as a proposal for clinician review: a CarePlan (status draft, intent ' +
      'proposal) starting at the phase the record places the patient in, with its stop rules, red flags and sources, ' +
      'a review Task and a Provenance, all labelled AIAST, in one transaction. An active condition with no protocol ' +
      'in the library is said plainly (noProtocol) and raises a Task for the care team. Idempotent: a proposal that ' +
      'awaits review is returned, not written again; a plan in force is proposed its next phase when the record ' +
      'reaches it. Nothing becomes active without a clinician approving it through $review.',
    affectsState: true,
    code: 'match-evidence',
    resource: ['Patient'],
    system: false,
    type: false,
    instance: true,
    parameter: [
      { name: 'owner', use: 'in', min: 0, max: '1', type: 'Reference', documentation: 'Who reviews the proposal.' },
      {
        name: 'status',
        use: 'out',
        min: 1,
        max: '1',
        type: 'code',
        documentation: 'created | progression-proposed | exists | in-force | no-match | skipped-consent',
      },
      { name: 'carePlan', use: 'out', min: 0, max: '1', type: 'Reference', documentation: 'The proposed CarePlan.' },
      { name: 'task', use: 'out', min: 0, max: '1', type: 'Reference', documentation: 'Its review Task.' },
      {
        name: 'startPhase',
        use: 'out',
        min: 0,
        max: '1',
        type: 'string',
        documentation: 'The phase the record places the patient in, or that the clinician must choose it.',
      },
      { name: 'phaseReason', use: 'out', min: 0, max: '1', type: 'string', documentation: 'Why that phase.' },
      { name: 'overdue', use: 'out', min: 0, max: '*', type: 'string', documentation: 'Reviews due or past due.' },
      {
        name: 'match',
        use: 'out',
        min: 0,
        max: '*',
        documentation:
          'Ranked protocols with concept support: protocol (canonical), score (decimal), rationale (string).',
        part: [
          { name: 'protocol', use: 'out', min: 1, max: '1', type: 'canonical' },
          { name: 'score', use: 'out', min: 1, max: '1', type: 'decimal' },
          { name: 'rationale', use: 'out', min: 1, max: '1', type: 'string' },
        ],
      },
      {
        name: 'caution',
        use: 'out',
        min: 0,
        max: '*',
        type: 'string',
        documentation: 'Contraindications noted, and the stop rules and red flags of the protocol.',
      },
      {
        name: 'noProtocol',
        use: 'out',
        min: 0,
        max: '*',
        type: 'string',
        documentation: 'An active condition the library has no protocol for, said plainly.',
      },
      {
        name: 'careTeamTask',
        use: 'out',
        min: 0,
        max: '*',
        type: 'Reference',
        documentation: 'The Task raised for the care team about a condition with no protocol.',
      },
      { name: 'noMatchReason', use: 'out', min: 0, max: '1', type: 'string', documentation: 'Why nothing matched.' },
      { name: 'ranking', use: 'out', min: 1, max: '1', type: 'string', documentation: 'What ranked the protocols.' },
    ],
  };
}

/** `POST [base]/Task/{id}/$review`: a clinician's decision on a proposal's review Task (src/review/). */
export function reviewOperation(): OperationDefinition {
  return {
    resourceType: 'OperationDefinition',
    id: 'Task-review',
    url: REVIEW_OPERATION,
    version: CONFORMANCE_VERSION,
    name: 'Review',
    title: "Record a clinician's review decision on a proposed care plan",
    status: 'active',
    kind: 'operation',
    experimental: false,
    publisher: PUBLISHER,
    description:
      'accept | start | approve | modify | reject | cancel a proposal through its review Task. Only valid transitions ' +
      'of the Task state machine are carried out (approving twice, approving a revoked plan or approving without a ' +
      'Practitioner are refused with an OperationOutcome). approve makes the CarePlan active and requests the ' +
      'activities of the phase it starts at; modify writes a new CarePlan version; reject revokes it with the reason. ' +
      "A finding's review Task (focus an anomaly RiskAssessment) takes confirm | dismiss instead: the Task is " +
      'completed with the decision, the clinician and the reason (required to dismiss); the finding is not changed.',
    affectsState: true,
    code: 'review',
    resource: ['Task'],
    system: false,
    type: false,
    instance: true,
    parameter: [
      {
        name: 'decision',
        use: 'in',
        min: 1,
        max: '1',
        type: 'code',
        documentation: 'proposal: accept | start | approve | modify | reject | cancel; finding: confirm | dismiss',
      },
      {
        name: 'practitioner',
        use: 'in',
        min: 0,
        max: '1',
        type: 'Reference',
        documentation: 'The deciding clinician (required except to cancel).',
      },
      {
        name: 'reason',
        use: 'in',
        min: 0,
        max: '1',
        type: 'string',
        documentation: 'Why (required to reject or dismiss).',
      },
      {
        name: 'removeActivity',
        use: 'in',
        min: 0,
        max: '*',
        type: 'integer',
        documentation: 'modify: index of a CarePlan.activity to drop.',
      },
      { name: 'note', use: 'in', min: 0, max: '1', type: 'string', documentation: 'modify: a note for the CarePlan.' },
      {
        name: 'phase',
        use: 'in',
        min: 0,
        max: '1',
        type: 'string',
        documentation:
          'approve: the phase to start from (its number from 1, or its id); required when the record cannot decide.',
      },
      { name: 'taskStatus', use: 'out', min: 1, max: '1', type: 'code' },
      { name: 'carePlanStatus', use: 'out', min: 0, max: '1', type: 'code', documentation: 'Proposals only.' },
      {
        name: 'findingDecision',
        use: 'out',
        min: 0,
        max: '1',
        type: 'code',
        documentation: 'Findings only: confirmed | dismissed.',
      },
      {
        name: 'requested',
        use: 'out',
        min: 0,
        max: '*',
        type: 'Reference',
        documentation: 'Requests created on approval.',
      },
      { name: 'goal', use: 'out', min: 0, max: '*', type: 'Reference', documentation: 'Goals created on approval.' },
      {
        name: 'phaseInForce',
        use: 'out',
        min: 0,
        max: '1',
        type: 'string',
        documentation: 'approve: the phase in force.',
      },
      {
        name: 'provenance',
        use: 'out',
        min: 0,
        max: '1',
        type: 'Reference',
        documentation: 'The Provenance of this decision.',
      },
    ],
  };
}

/**
 * `POST [base]/Patient/{id}/$simulate`: defined next to its handler (src/server/simulateOperation.ts), so the
 * published OperationDefinition and what the server accepts cannot drift apart; published here with the version and
 * publisher of every conformance resource.
 */
export function simulateOperation(): OperationDefinition {
  const { resourceType, id, url, ...rest } = simulateOperationDefinition();
  return { resourceType, id, url, version: CONFORMANCE_VERSION, ...rest, publisher: PUBLISHER };
}

/**
 * `POST [base]/Patient/{id}/$twin-findings`: runs early-warning detection for one patient with every detector the
 * engine service has (the statistical ensemble, and the learned detector when its model is installed and matches its
 * card) and writes the findings (src/server/operations/twinFindingsOperation.ts). Medplum bots call it, since a bot
 * runtime cannot run the learned model. No input parameter; the output is counts per detector (no values).
 */
export function twinFindingsOperation(): OperationDefinition {
  return {
    resourceType: 'OperationDefinition',
    id: 'Patient-twin-findings',
    url: TWIN_FINDINGS_OPERATION,
    version: CONFORMANCE_VERSION,
    name: 'TwinFindings',
    title: "Early-warning findings for a patient's recovery twin",
    status: 'active',
    kind: 'operation',
    experimental: false,
    publisher: PUBLISHER,
    description:
      "Runs early-warning detection over the patient's Observations with every detector this engine service has (the " +
      'statistical ensemble, and the learned detector when its model is installed and matches its model card) and ' +
      'writes the findings as profiled RiskAssessments, with review Tasks where the likelihood warrants one. ' +
      'Idempotent: a rerun over the same data writes nothing. A patient whose active Consent denies this processing is ' +
      'skipped. The response gives counts per detector (no values).',
    affectsState: true,
    code: 'twin-findings',
    resource: ['Patient'],
    system: false,
    type: false,
    instance: true,
    parameter: [
      {
        name: 'detector',
        use: 'out',
        min: 1,
        max: '*',
        documentation: 'One per detector run: its name, the status and the counts of what was written.',
        part: [
          { name: 'name', use: 'out', min: 1, max: '1', type: 'string', documentation: 'The detector.' },
          {
            name: 'status',
            use: 'out',
            min: 1,
            max: '1',
            type: 'code',
            documentation: 'written | skipped-consent',
          },
          { name: 'episodes', use: 'out', min: 1, max: '1', type: 'integer', documentation: 'Alarm episodes.' },
          {
            name: 'findingsWritten',
            use: 'out',
            min: 1,
            max: '1',
            type: 'integer',
            documentation: 'Findings written or changed.',
          },
          {
            name: 'tasksCreated',
            use: 'out',
            min: 1,
            max: '1',
            type: 'integer',
            documentation: 'Review Tasks created.',
          },
        ],
      },
      {
        name: 'learnedDetector',
        use: 'out',
        min: 1,
        max: '1',
        type: 'string',
        documentation: 'Whether the learned detector ran, and if not, why.',
      },
    ],
  };
}
