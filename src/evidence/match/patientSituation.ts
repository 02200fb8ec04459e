import type {
  CodeableConcept,
  Condition,
  DocumentReference,
  Goal,
  Observation,
  OperationOutcomeIssue,
  Procedure,
  RiskAssessment,
} from '@medplum/fhirtypes';
import { OperationOutcomeError } from '@medplum/core';
import type { FhirClient } from '../../fhir/fhirClient';
import { getMetric } from '../../fhir/metricCatalogue';
import { extractConcepts, type ExtractedConcept } from '../notes/conceptExtractor';
import { noteText } from '../notes/noteText';
import { verifiedDisplay } from './codedConditions';

/** One input the matcher used, as a reference the proposal's supportingInfo and Provenance entities can name. */
export interface SituationInput {
  readonly reference: string;
  /** Words to match on: code text and displays, outcome text; never logged. */
  readonly text: string;
  /** Concepts read from the text (for notes: with context; for coded resources: read from their code text). */
  readonly concepts: readonly ExtractedConcept[];
  /** When it happened (onset, performed, note date), ISO; feeds %daysSinceEvent of the protocol criteria. */
  readonly date?: string;
  /** How a clinician names it: the code's text or first display, or the verified display of its code. */
  readonly label?: string;
  /** Findings: still open (RiskAssessment status preliminary). */
  readonly open?: boolean;
}

/** What the matcher knows of a patient: the clinical picture the protocols are ranked against. */
export interface PatientSituation {
  readonly patientId: string;
  /** The instant the situation was read (ISO); what "current" and "recent" are measured from. */
  readonly asOf?: string;
  readonly conditions: readonly SituationInput[];
  readonly procedures: readonly SituationInput[];
  readonly notes: readonly SituationInput[];
  /** The twin's findings (anomaly RiskAssessments), newest first. */
  readonly findings: readonly SituationInput[];
  readonly goals: readonly SituationInput[];
  /** The most recent patient-reported pain (0-10 NRS) of the last 7 days, for the protocols' %painScore. */
  readonly latestPain?: { readonly value: number; readonly date: string };
  /** Warnings met while reading (a note in an undeclared encoding...), with no note text. */
  readonly issues: readonly OperationOutcomeIssue[];
}

export interface SituationResources {
  readonly conditions: readonly Condition[];
  readonly procedures: readonly Procedure[];
  readonly notes: readonly DocumentReference[];
  readonly findings: readonly RiskAssessment[];
  readonly goals: readonly Goal[];
  /** Pain-severity Observations (any period; the newest is used). */
  readonly pain?: readonly Observation[];
}

/**
 * Reads the patient's situation from the server: active Conditions, Procedures, current notes (DocumentReference), the
 * twin's RiskAssessments and active Goals. Clinical status filters follow FHIR R4 condition.html (clinical-status
 * active/recurrence/relapse) and documentreference.html (status current).
 */
export async function readPatientSituation(
  client: FhirClient,
  patientId: string,
  now: string
): Promise<PatientSituation> {
  const patient = `Patient/${patientId}`;
  const pain = getMetric('pain-severity').codings[0];
  const weekAgo = new Date(Date.parse(now) - 7 * 86_400_000).toISOString().slice(0, 10);
  const [conditions, procedures, notes, findings, goals, painObservations] = await Promise.all([
    client.searchAll<Condition>('Condition', { subject: patient }),
    client.searchAll<Procedure>('Procedure', { subject: patient }),
    client.searchAll<DocumentReference>('DocumentReference', { subject: patient, status: 'current' }),
    client.searchAll<RiskAssessment>('RiskAssessment', { subject: patient }),
    client.searchAll<Goal>('Goal', { subject: patient }),
    pain
      ? client.searchAll<Observation>('Observation', {
          subject: patient,
          code: `${pain.system ?? ''}|${pain.code ?? ''}`,
          date: `ge${weekAgo}`,
        })
      : Promise.resolve([]),
  ]);
  return {
    ...situationFromResources(patientId, { conditions, procedures, notes, findings, goals, pain: painObservations }),
    asOf: now,
  };
}

/** The pure part: resources to situation. */
export function situationFromResources(patientId: string, r: SituationResources): PatientSituation {
  const issues: OperationOutcomeIssue[] = [];
  const activeConditions = r.conditions.filter((c) => {
    const status = c.clinicalStatus?.coding?.[0]?.code;
    return c.verificationStatus?.coding?.[0]?.code !== 'entered-in-error' &&
      c.verificationStatus?.coding?.[0]?.code !== 'refuted'
      ? status === undefined || status === 'active' || status === 'recurrence' || status === 'relapse'
      : false;
  });
  const procedures = r.procedures.filter((p) => p.status === 'completed' || p.status === 'in-progress');
  const notes: SituationInput[] = [];
  for (const d of r.notes) {
    try {
      const read = noteText(d);
      issues.push(...read.issues.map((i) => ({ ...i, diagnostics: `DocumentReference/${d.id ?? ''}` })));
      notes.push({
        reference: `DocumentReference/${d.id ?? ''}`,
        text: read.text,
        concepts: extractConcepts(read.text),
        ...(d.date ? { date: d.date } : {}),
      });
    } catch (err) {
      // One unreadable note must not hide the others; the matcher reports it.
      const outcome = err instanceof OperationOutcomeError ? err.outcome.issue : undefined;
      issues.push(
        ...(outcome ?? [{ severity: 'error' as const, code: 'processing' as const }]).map((i) => ({
          ...i,
          severity: 'warning' as const,
          diagnostics: `DocumentReference/${d.id ?? ''} was not read`,
        }))
      );
    }
  }
  const findings = r.findings
    .filter((f) => f.status !== 'entered-in-error' && f.status !== 'cancelled')
    .sort((a, b) => (b.occurrenceDateTime ?? '').localeCompare(a.occurrenceDateTime ?? ''))
    .map((f) => ({
      ...coded(
        `RiskAssessment/${f.id ?? ''}`,
        f.prediction?.map((p) => p.outcome),
        f.occurrenceDateTime
      ),
      open: f.status === 'preliminary',
    }));
  return {
    patientId,
    conditions: activeConditions.map((c) =>
      coded(`Condition/${c.id ?? ''}`, [c.code, ...(c.bodySite ?? [])], c.onsetDateTime ?? c.recordedDate)
    ),
    procedures: procedures.map((p) =>
      coded(`Procedure/${p.id ?? ''}`, [p.code, ...(p.bodySite ?? [])], p.performedDateTime ?? p.performedPeriod?.start)
    ),
    notes,
    findings,
    goals: r.goals
      .filter((g) => g.lifecycleStatus !== 'cancelled' && g.lifecycleStatus !== 'entered-in-error')
      .map((g) => coded(`Goal/${g.id ?? ''}`, [g.description])),
    ...latestPainOf(r.pain ?? []),
    issues,
  };
}

function latestPainOf(observations: readonly Observation[]): Pick<PatientSituation, 'latestPain'> {
  const valid = observations
    .filter((o) => (o.status === 'final' || o.status === 'amended' || o.status === 'corrected') && o.effectiveDateTime)
    .filter((o) => typeof o.valueQuantity?.value === 'number' || typeof o.valueInteger === 'number')
    .sort((a, b) => (b.effectiveDateTime ?? '').localeCompare(a.effectiveDateTime ?? ''));
  const newest = valid[0];
  if (!newest) {
    return {};
  }
  const value = newest.valueQuantity?.value ?? newest.valueInteger ?? 0;
  return value >= 0 && value <= 10 ? { latestPain: { value, date: newest.effectiveDateTime ?? '' } } : {};
}

/**
 * A coded resource's words: CodeableConcept.text, every coding's display (FHIR R4 datatypes.html#CodeableConcept),
 * and, for a coding that arrives without a display, the display of its code where the code is one the project has
 * verified (codedConditions.ts): an EHR that sends only "S06.0" still says "Concussion".
 */
function coded(
  reference: string,
  concepts: readonly (CodeableConcept | undefined)[] | undefined,
  date?: string
): SituationInput {
  const words = (concepts ?? [])
    .flatMap((c) => [
      c?.text,
      ...(c?.coding ?? []).map((k) => k.display),
      ...(c?.coding ?? []).map((k) => verifiedDisplay(k.system, k.code)),
    ])
    .filter((w): w is string => typeof w === 'string' && w.trim() !== '');
  const unique = [...new Set(words)];
  const text = unique.join('. ');
  return {
    reference,
    text,
    concepts: extractConcepts(text),
    ...(date ? { date } : {}),
    ...(unique[0] ? { label: unique[0] } : {}),
  };
}
