import { normalizeErrorString } from '@medplum/core';
import type { Command } from 'commander';
import type { CliDependencies } from './commands';
import { openEngineTarget } from './engineTarget';

interface PlanFlags {
  readonly patient: string;
  readonly owner?: string;
  readonly fhir?: string;
  readonly dataDir: string;
}

interface ReviewFlags {
  readonly task: string;
  readonly decision: string;
  readonly practitioner?: string;
  readonly reason?: string;
  readonly removeActivity?: string[];
  readonly note?: string;
  readonly phase?: string;
  readonly fhir?: string;
  readonly dataDir: string;
}

/**
 * `twin plan --patient ID [--owner REF]`: matches the protocol library to the patient and writes the proposal
 * (CarePlan draft/proposal + review Task + Provenance) for clinician review; prints the ranking and what was written.
 * `twin review --task ID --decision approve --practitioner Practitioner/ID`: records a clinician's decision
 * (src/review/). Both work on the embedded store in --data-dir or on any FHIR server with --fhir.
 */
export function registerPlanCommands(program: Command, deps: CliDependencies): void {
  program
    .command('plan')
    .description('match evidence-based recovery protocols to a patient and write a care-plan proposal for review')
    .requiredOption('--patient <id>', 'Patient id')
    .option('--owner <reference>', 'who reviews: Practitioner/ID, PractitionerRole/ID, Organization/ID or CareTeam/ID')
    .option('--fhir <url>', 'FHIR R4 base URL of the server (default: the embedded store in --data-dir)')
    .option('--data-dir <dir>', 'embedded store folder (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .action(async (flags: PlanFlags, command: Command) => {
      try {
        const { openEvidenceEngine } = await import('../evidence/evidenceEngine');
        const { proposeCarePlan } = await import('../proposal/proposalWriter');
        const evidence = await openEvidenceEngine({ env: deps.env, log: (l) => void process.stderr.write(l + '\n') });
        const target = await openEngineTarget(flags);
        try {
          const outcome = await proposeCarePlan(
            flags.patient,
            { ...evidence, client: target.client, validate: target.validate, now: () => new Date().toISOString() },
            { owner: flags.owner }
          );
          deps.log(
            JSON.stringify(
              outcome.status === 'skipped-consent'
                ? outcome
                : {
                    status: outcome.status,
                    ...(outcome.status !== 'no-match'
                      ? {
                          carePlan: outcome.carePlan,
                          task: outcome.task,
                          startPhase: outcome.startPhase ?? 'to be chosen by the clinician at approval (--phase)',
                          phaseReason: outcome.phaseReason,
                          overdue: outcome.overdue,
                          cautions: outcome.cautions,
                        }
                      : { cautions: outcome.match.cautions }),
                    matches: outcome.match.matches.map((m) => ({ protocol: m.planDefinition.id, why: m.rationale })),
                    noProtocol: outcome.match.unmatchedConditions.map((u) => u.statement),
                    careTeamTasks: outcome.careTeamTasks,
                    ...(outcome.match.noMatchReason ? { noMatchReason: outcome.match.noMatchReason } : {}),
                    warnings: outcome.issues.map((i) => i.details?.text ?? i.diagnostics),
                  },
              null,
              2
            )
          );
        } finally {
          target.close();
        }
      } catch (err) {
        command.error(`twin plan: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });

  program
    .command('review')
    .description("record a clinician's decision on a review Task: a proposal's, or a finding's (confirm | dismiss)")
    .requiredOption('--task <id>', 'review Task id')
    .requiredOption(
      '--decision <decision>',
      'proposal: accept | start | approve | modify | reject | cancel; finding: confirm | dismiss'
    )
    .option('--practitioner <reference>', 'Practitioner/ID of the deciding clinician')
    .option('--reason <text>', 'why (required to reject or dismiss)')
    .option('--remove-activity <index...>', 'modify: CarePlan.activity indexes (0-based) to drop')
    .option('--note <text>', 'modify: a note for the CarePlan')
    .option(
      '--phase <n>',
      'approve: the phase to start from (number from 1, or phase id); needed when the record cannot decide'
    )
    .option('--fhir <url>', 'FHIR R4 base URL of the server (default: the embedded store in --data-dir)')
    .option('--data-dir <dir>', 'embedded store folder (env DATA_DIR)', deps.env.DATA_DIR ?? './data')
    .action(async (flags: ReviewFlags, command: Command) => {
      try {
        const { REVIEW_DECISIONS } = await import('../review/reviewStateMachine');
        const { applyReviewDecision } = await import('../review/reviewDecision');
        const { dispatchFindingReview } = await import('../review/findingReview');
        const target = await openEngineTarget(flags);
        try {
          // A finding's review Task (focus RiskAssessment): confirm | dismiss (src/review/findingReview.ts).
          const finding = await dispatchFindingReview(
            target.client,
            flags.task,
            [
              { name: 'decision', valueCode: flags.decision },
              ...(flags.practitioner
                ? [{ name: 'practitioner', valueReference: { reference: flags.practitioner } }]
                : []),
              ...(flags.reason ? [{ name: 'reason', valueString: flags.reason }] : []),
            ],
            new Date().toISOString(),
            target.validate
          );
          if (finding) {
            deps.log(JSON.stringify(finding));
            return;
          }
          const decision = REVIEW_DECISIONS.find((d) => d === flags.decision);
          if (!decision) {
            throw new Error(`--decision must be one of ${REVIEW_DECISIONS.join(', ')}`);
          }
          const result = await applyReviewDecision(
            target.client,
            {
              taskId: flags.task,
              decision,
              practitioner: flags.practitioner,
              reason: flags.reason,
              note: flags.note,
              removeActivities: flags.removeActivity?.map(Number),
              phase: flags.phase,
            },
            new Date().toISOString(),
            target.validate
          );
          deps.log(JSON.stringify(result));
        } finally {
          target.close();
        }
      } catch (err) {
        command.error(`twin review: ${normalizeErrorString(err)}`, { exitCode: 1 });
      }
    });
}
