import type { CarePlan, RiskAssessment, Task } from '@medplum/fhirtypes';
import { TWIN_PROFILE } from '../fhir/codes/twinCodes';

/** A CDS Hooks 2.0 card (https://cds-hooks.hl7.org/2.0/#card-attributes), the members this service fills. */
export interface CdsCard {
  readonly uuid: string;
  /** "<140-character summary message for display to the user"; plain text. */
  readonly summary: string;
  readonly detail?: string;
  readonly indicator: 'info' | 'warning' | 'critical';
  readonly source: {
    readonly label: string;
    readonly url?: string;
    readonly topic?: { system: string; code: string; display: string };
  };
  readonly suggestions?: readonly CdsSuggestion[];
  readonly selectionBehavior?: 'at-most-one' | 'any';
  readonly links?: readonly CdsLink[];
}

export interface CdsSuggestion {
  readonly label: string;
  readonly uuid: string;
  readonly isRecommended?: boolean;
  readonly actions: ReadonlyArray<{
    readonly type: 'create' | 'update' | 'delete';
    readonly description: string;
    readonly resource?: Task;
  }>;
}

export interface CdsLink {
  readonly label: string;
  readonly url: string;
  /** `smart`: the EHR launches the URL as a SMART app (CDS Hooks 2.0, "Link"). */
  readonly type: 'absolute' | 'smart';
}

/** Statuses of a review Task still waiting for a clinician (reviewStateMachine.ts). */
const AWAITING: ReadonlySet<string> = new Set(['requested', 'received', 'accepted', 'in-progress']);

/** Cuts text to the CDS Hooks summary limit (< 140 characters) on a word boundary. */
export function summaryOf(text: string, limit = 139): string {
  if (text.length <= limit) {
    return text;
  }
  const cut = text.slice(0, limit - 1);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), limit - 20)).trimEnd()}…`;
}

/** An open finding: the twin's anomaly RiskAssessment still `preliminary` (findingResources.ts). */
export function isOpenFinding(r: RiskAssessment): boolean {
  return r.status === 'preliminary' && (r.meta?.profile ?? []).includes(TWIN_PROFILE.anomalyRiskAssessment);
}

/** A proposal awaiting review: the twin's review Task about a CarePlan, not yet decided. */
export function isProposalAwaitingReview(t: Task): boolean {
  return (
    (t.meta?.profile ?? []).includes(TWIN_PROFILE.reviewTask) &&
    AWAITING.has(t.status) &&
    (t.focus?.reference ?? '').startsWith('CarePlan/')
  );
}

export interface CardInputs {
  readonly findings: readonly RiskAssessment[];
  readonly reviews: readonly Task[];
  /** Proposed CarePlans by id, for their titles. */
  readonly carePlans: ReadonlyMap<string, CarePlan>;
  /** The SMART app's launch URL (the EHR adds launch and iss). */
  readonly appUrl: string;
  /** The clinician the EHR names in `context.userId`, e.g. `Practitioner/123`. */
  readonly userId?: string;
  /** A fresh id per card and suggestion (the world's randomness, injected for tests). */
  readonly newId: () => string;
}

const SOURCE = { label: 'recovery-twin (AI-assisted, needs clinician review)' } as const;

/**
 * The patient-view cards: one for the open findings, one per proposal awaiting review, and an empty list when there
 * is nothing to act on (CDS Hooks 2.0 answers `{"cards": []}` then), so the EHR shows no noise. Approval itself
 * happens in the app, where the clinician sees the plan, its evidence and what approval orders; the suggestion only
 * takes the review (Task accepted, reviewStateMachine.ts "accept"), which changes no plan.
 */
export function patientViewCards(inputs: CardInputs): CdsCard[] {
  const cards: CdsCard[] = [];
  const link: CdsLink = { label: 'Open the recovery twin', url: inputs.appUrl, type: 'smart' };
  // Ongoing episodes, and ended ones whose review Task still waits: both need the clinician (the app shows both).
  const awaitingReview = new Set(
    inputs.reviews
      .filter((t) => (t.meta?.profile ?? []).includes(TWIN_PROFILE.reviewTask) && AWAITING.has(t.status))
      .map((t) => t.focus?.reference ?? '')
  );
  const ongoing = inputs.findings.filter(isOpenFinding);
  const ended = inputs.findings.filter(
    (f) =>
      f.status === 'final' &&
      (f.meta?.profile ?? []).includes(TWIN_PROFILE.anomalyRiskAssessment) &&
      awaitingReview.has(`RiskAssessment/${f.id ?? ''}`)
  );
  const open = [...ongoing, ...ended];
  if (open.length > 0) {
    const since = (ongoing.length > 0 ? ongoing : ended)
      .map((f) => f.occurrenceDateTime ?? '')
      .filter((d) => d)
      .sort()[0];
    const outcomes = [
      ...new Set(open.map((f) => f.prediction?.[0]?.outcome?.text).filter((t): t is string => Boolean(t))),
    ];
    cards.push({
      uuid: inputs.newId(),
      summary: summaryOf(
        ongoing.length > 0
          ? `Recovery twin: ${ongoing.length === 1 ? 'an early-warning finding is' : `${ongoing.length} early-warning findings are`} open${since ? ` since ${since.slice(0, 10)}` : ''}` +
              (ended.length > 0 ? `; ${ended.length} ended, awaiting review` : '')
          : `Recovery twin: ${ended.length === 1 ? 'an early-warning finding awaits' : `${ended.length} early-warning findings await`} review${since ? ` (episodes since ${since.slice(0, 10)})` : ''}`
      ),
      detail:
        (outcomes.length > 0 ? `Flagged: ${outcomes.join('; ')}. ` : '') +
        'Computed from wearable and self-reported data against the personal baseline; not a diagnosis. Review the data in the app.',
      indicator: 'warning',
      source: SOURCE,
      links: [link],
    });
  }
  for (const task of inputs.reviews.filter(isProposalAwaitingReview)) {
    const carePlanId = (task.focus?.reference ?? '').slice('CarePlan/'.length);
    const plan = inputs.carePlans.get(carePlanId);
    const title = plan?.title ?? 'a recovery care plan';
    const suggestions: CdsSuggestion[] =
      inputs.userId && (task.status === 'requested' || task.status === 'received') && task.id
        ? [
            {
              label: 'Take this review (approval happens in the app)',
              uuid: inputs.newId(),
              actions: [
                {
                  type: 'update',
                  description: 'Marks the review Task accepted by you; the care plan stays a draft proposal.',
                  resource: {
                    ...task,
                    status: 'accepted',
                    businessStatus: { text: 'under review' },
                    owner: task.owner ?? { reference: inputs.userId },
                  },
                },
              ],
            },
          ]
        : [];
    cards.push({
      uuid: inputs.newId(),
      summary: summaryOf(`Recovery twin proposes ${title}: awaiting your review`),
      detail:
        'An AI-assisted proposal matched to the recovery protocol library. Nothing is ordered until a clinician approves it in the app.',
      indicator: 'info',
      source: SOURCE,
      links: [link],
      ...(suggestions.length > 0 ? { suggestions, selectionBehavior: 'at-most-one' as const } : {}),
    });
  }
  return cards;
}
