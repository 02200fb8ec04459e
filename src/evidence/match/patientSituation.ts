import type {
  CodeableConcept,
  Condition,
  DocumentReference,
  Goal,
  OperationOutcomeIssue,
  Procedure,
  RiskAssessment,
} from '@medplum/fhirtypes';
import { OperationOutcomeError } from '@medplum/core';
import type { FhirClient } from '../../fhir/fhirClient';
import { extractConcepts, type ExtractedConcept } from '../notes/conceptExtractor';
import { noteText } from '../notes/noteText';

/** One input the matcher used, as a reference the proposal's supportingInfo and Provenance entities can name. */
export interface SituationInput {
  readonly reference: string;
  /** Words to match on: code text and displays, outcome text; never logged. */
  readonly text: string;
  /** Concepts read from the text (for notes: with context; for coded resources: read from their code text). */
  readonly concepts: readonly ExtractedConcept[];
  /** When it happened (onset, performed, note date), ISO; feeds %daysSinceEvent of the protocol criteria. */
  readonly date?: string;
}

/** What the matcher knows of a patient: the clinical picture the protocols are ranked against. */
export interface PatientSituation {
  readonly patientId: string;
  readonly conditions: readonly SituationInput[];
  readonly procedures: readonly SituationInput[];
  readonly notes: readonly SituationInput[];
  /** The twin's findings (anomaly RiskAssessments), newest first. */
  readonly findings: readonly SituationInput[];
  readonly goals: readonly SituationInput[];
  /** Warnings met while reading (a note in an undeclared encoding...), with no note text. */
  readonly issues: readonly OperationOutcomeIssue[];
}

export interface SituationResources {
  readonly conditions: readonly Condition[];
  readonly procedures: readonly Procedure[];
  readonly notes: readonly DocumentReference[];
  readonly findings: readonly RiskAssessment[];
  readonly goals: readonly Goal[];
}

/**
 * Reads the patient's situation from the server: active Conditions, Procedures, current notes (DocumentReference), the
 * twin's RiskAssessments and active Goals. Clinical status filters follow FHIR R4 condition.html (clinical-status
 * active/recurrence/relapse) and documentreference.html (status current).
 */
export async function readPatientSituation(client: FhirClient, patientId: string): Promise<PatientSituation> {
  const patient = `Patient/${patientId}`;
  const [conditions, procedures, notes, findings, goals] = await Promise.all([
    client.searchAll<Condition>('Condition', { subject: patient }),
    client.searchAll<Procedure>('Procedure', { subject: patient }),
    client.searchAll<DocumentReference>('DocumentReference', { subject: patient, status: 'current' }),
    client.searchAll<RiskAssessment>('RiskAssessment', { subject: patient }),
    client.searchAll<Goal>('Goal', { subject: patient }),
  ]);
  return situationFromResources(patientId, { conditions, procedures, notes, findings, goals });
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
    .map((f) =>
      coded(
        `RiskAssessment/${f.id ?? ''}`,
        f.prediction?.map((p) => p.outcome)
      )
    );
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
    issues,
  };
}

/** A coded resource's words: CodeableConcept.text and every coding's display (FHIR R4 datatypes.html#CodeableConcept). */
function coded(
  reference: string,
  concepts: readonly (CodeableConcept | undefined)[] | undefined,
  date?: string
): SituationInput {
  const words = (concepts ?? [])
    .flatMap((c) => [c?.text, ...(c?.coding ?? []).map((k) => k.display)])
    .filter((w): w is string => typeof w === 'string' && w.trim() !== '');
  const text = [...new Set(words)].join('. ');
  return { reference, text, concepts: extractConcepts(text), ...(date ? { date } : {}) };
}
