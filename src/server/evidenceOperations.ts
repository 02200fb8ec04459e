import { allOk, badRequest, normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouter } from '@medplum/fhir-router';
import type { Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import type { ProtocolMatcher } from '../evidence/match/protocolMatcher';
import { inProcessClient, type OperationClient } from './operations/operationClient';
import { proposeCarePlan } from '../proposal/proposalWriter';
import type { ProtocolLibrary } from '../protocols/protocolLibrary';
import { applyReviewDecision } from '../review/reviewDecision';
import { dispatchFindingReview } from '../review/findingReview';
import { REVIEW_DECISIONS, type ReviewDecision } from '../review/reviewStateMachine';

export interface EvidenceOperationDeps {
  readonly library: ProtocolLibrary;
  readonly matcher: ProtocolMatcher;
  readonly denseModel?: string;
  readonly validate?: (resource: Resource) => void;
  /** The clock (ISO instant). */
  readonly now: () => string;
  /** Review Task owner when the request names none. */
  readonly defaultOwner?: string;
  /** Where the patient's data is (default: this server's store). */
  readonly clientOf?: OperationClient;
}

/**
 * `POST [base]/Patient/{id}/$match-evidence` and `POST [base]/Task/{id}/$review` (OperationDefinitions
 * Patient-match-evidence and Task-review in fhir-profiles/). Input and output are Parameters (FHIR R4
 * operations.html#request, #response); errors are OperationOutcomes with their HTTP status.
 */
export function registerEvidenceOperations(router: FhirRouter, deps: EvidenceOperationDeps): void {
  router.add(
    'POST',
    ':resourceType/:id/$match-evidence',
    async (req, repo, r): Promise<FhirResponse> => {
      if (req.params.resourceType !== 'Patient') {
        return [badRequest('$match-evidence is defined on Patient only')];
      }
      try {
        const client = (deps.clientOf ?? inProcessClient)(repo, r);
        await client.read('Patient', req.params.id);
        const input = parametersOf(req);
        const owner = input.find((p) => p.name === 'owner')?.valueReference?.reference ?? deps.defaultOwner;
        const outcome = await proposeCarePlan(req.params.id, { ...deps, client }, { owner });
        const parameter: ParametersParameter[] = [{ name: 'status', valueCode: outcome.status }];
        if (outcome.status !== 'skipped-consent') {
          if (outcome.status !== 'no-match') {
            parameter.push({ name: 'carePlan', valueReference: { reference: outcome.carePlan } });
            if (outcome.task) {
              parameter.push({ name: 'task', valueReference: { reference: outcome.task } });
            }
            parameter.push({
              name: 'startPhase',
              valueString: outcome.startPhase ?? 'to be chosen by the clinician at approval',
            });
            parameter.push({ name: 'phaseReason', valueString: outcome.phaseReason });
            parameter.push(...outcome.overdue.map((o) => ({ name: 'overdue', valueString: o })));
          }
          for (const m of outcome.match.matches) {
            parameter.push({
              name: 'match',
              part: [
                { name: 'protocol', valueCanonical: m.planDefinition.url },
                { name: 'score', valueDecimal: Number(m.score.toFixed(4)) },
                { name: 'rationale', valueString: m.rationale },
              ],
            });
          }
          const cautions = outcome.status === 'no-match' ? outcome.match.cautions : outcome.cautions;
          parameter.push(...cautions.map((c) => ({ name: 'caution', valueString: c })));
          parameter.push(
            ...outcome.match.unmatchedConditions.map((u) => ({ name: 'noProtocol', valueString: u.statement }))
          );
          parameter.push(
            ...outcome.careTeamTasks.map((t) => ({ name: 'careTeamTask', valueReference: { reference: t } }))
          );
          if (outcome.match.noMatchReason) {
            parameter.push({ name: 'noMatchReason', valueString: outcome.match.noMatchReason });
          }
        }
        parameter.push({ name: 'ranking', valueString: deps.matcher.retrieverDescription });
        return [allOk, { resourceType: 'Parameters', parameter } satisfies Parameters];
      } catch (err) {
        return [err instanceof OperationOutcomeError ? err.outcome : normalizeOperationOutcome(err)];
      }
    },
    'operation'
  );

  router.add(
    'POST',
    ':resourceType/:id/$review',
    async (req, repo, r): Promise<FhirResponse> => {
      if (req.params.resourceType !== 'Task') {
        return [badRequest('$review is defined on Task only')];
      }
      try {
        const input = parametersOf(req);
        const client = (deps.clientOf ?? inProcessClient)(repo, r);
        // A finding's review Task (focus RiskAssessment) is confirmed or dismissed (src/review/findingReview.ts).
        const finding = await dispatchFindingReview(client, req.params.id, input, deps.now(), deps.validate);
        if (finding) {
          return [allOk, finding];
        }
        const decision = input.find((p) => p.name === 'decision')?.valueCode;
        if (!decision || !(REVIEW_DECISIONS as readonly string[]).includes(decision)) {
          return [badRequest(`decision must be one of ${REVIEW_DECISIONS.join(', ')}`, 'Parameters.parameter')];
        }
        const result = await applyReviewDecision(
          client,
          {
            taskId: req.params.id,
            decision: decision as ReviewDecision,
            practitioner: input.find((p) => p.name === 'practitioner')?.valueReference?.reference,
            reason: input.find((p) => p.name === 'reason')?.valueString,
            note: input.find((p) => p.name === 'note')?.valueString,
            removeActivities: input
              .filter((p) => p.name === 'removeActivity')
              .map((p) => p.valueInteger)
              .filter((v): v is number => v !== undefined),
            phase: phaseParameter(input.find((p) => p.name === 'phase')),
          },
          deps.now(),
          deps.validate,
          deps.library
        );
        return [
          allOk,
          {
            resourceType: 'Parameters',
            parameter: [
              { name: 'taskStatus', valueCode: result.taskStatus },
              { name: 'carePlanStatus', valueCode: result.carePlanStatus },
              ...result.requested.map((ref) => ({ name: 'requested', valueReference: { reference: ref } })),
              ...result.goals.map((ref) => ({ name: 'goal', valueReference: { reference: ref } })),
              ...(result.phase ? [{ name: 'phaseInForce', valueString: result.phase }] : []),
              ...(result.provenance ? [{ name: 'provenance', valueReference: { reference: result.provenance } }] : []),
            ],
          } satisfies Parameters,
        ];
      } catch (err) {
        return [err instanceof OperationOutcomeError ? err.outcome : normalizeOperationOutcome(err)];
      }
    },
    'operation'
  );
}

/** `phase` as the clinician gives it: a phase number (valueInteger) or a phase id (valueString / valueCode). */
function phaseParameter(p: ParametersParameter | undefined): string | undefined {
  if (!p) {
    return undefined;
  }
  return p.valueInteger !== undefined ? String(p.valueInteger) : (p.valueString ?? p.valueCode);
}

/** The request's Parameters; an empty body means no input parameters (R4 operations.html#request). */
function parametersOf(req: FhirRequest): ParametersParameter[] {
  const body = req.body as Partial<Parameters> | undefined;
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) {
    return [];
  }
  if (body.resourceType !== 'Parameters') {
    throw new OperationOutcomeError(badRequest('The request body must be a Parameters resource'));
  }
  return body.parameter ?? [];
}
