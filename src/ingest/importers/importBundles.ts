import type { Bundle, BundleEntry, Patient, Reference } from '@medplum/fhirtypes';
import { checkMetricValue } from '../../fhir/metricCatalogue';
import type { ImportIssue, ParsedSource } from './importRecord';
import { buildMetricObservation, conditionalCreateEntry, SUBJECT_KEY_SYSTEM } from './metricObservation';
import { invalidInput } from '../../fhir/outcomes';

export interface ImportBundleOptions {
  /** Existing Patient id: every value is written for `Patient/<id>` (single-subject sources only). */
  readonly patientId?: string;
  /** Maximum entries per transaction Bundle (server limits); default 1000. */
  readonly maxEntries?: number;
}

export interface NamedBundle {
  readonly name: string;
  readonly bundle: Bundle;
  readonly observations: number;
}

export interface BuiltImport {
  readonly bundles: NamedBundle[];
  readonly imported: number;
  /** Parse issues plus values refused here (out of bounds, unknown unit, duplicates). */
  readonly issues: ImportIssue[];
}

/**
 * Turns parsed records into transaction Bundles of Observations, one subject at a time, each Observation
 * conditionally created on its deterministic record key (re-import creates nothing new). Values outside the
 * catalogue's plausible bounds become issues with their location, never clamped.
 */
export function buildImportBundles(parsed: ParsedSource, options: ImportBundleOptions = {}): BuiltImport {
  const issues: ImportIssue[] = [...parsed.issues];
  const maxEntries = options.maxEntries ?? 1000;
  const subjects = new Set(parsed.records.map((r) => r.subjectKey));
  if (options.patientId !== undefined && subjects.size > 1) {
    throw invalidInput(`--patient-id needs a single-subject source; this one holds ${subjects.size} subjects`);
  }
  const bySubject = new Map<string, typeof parsed.records>();
  for (const record of parsed.records) {
    const list = bySubject.get(record.subjectKey) ?? [];
    list.push(record);
    bySubject.set(record.subjectKey, list);
  }

  const bundles: NamedBundle[] = [];
  let imported = 0;
  for (const [subjectKey, records] of bySubject) {
    let patientEntry: BundleEntry<Patient> | undefined;
    let subject: Reference<Patient>;
    if (options.patientId !== undefined) {
      subject = { reference: `Patient/${options.patientId}` };
    } else {
      const value = parsed.subjectNamespace ? `${parsed.subjectNamespace}/${subjectKey}` : subjectKey;
      patientEntry = conditionalCreateEntry<Patient>({
        resourceType: 'Patient',
        identifier: [{ system: SUBJECT_KEY_SYSTEM, value }],
      });
      subject = { reference: patientEntry.fullUrl };
    }
    const seen = new Set<string>();
    let chunk: BundleEntry[] = [];
    let chunkObservations = 0;
    const flush = (): void => {
      if (chunkObservations === 0) {
        return;
      }
      const part = bundles.filter((b) => b.name.startsWith(`${parsed.source}-${subjectKey}-`)).length + 1;
      bundles.push({
        name: `${parsed.source}-${subjectKey}-${part}`,
        bundle: { resourceType: 'Bundle', type: 'transaction', entry: patientEntry ? [patientEntry, ...chunk] : chunk },
        observations: chunkObservations,
      });
      chunk = [];
      chunkObservations = 0;
    };
    for (const record of records) {
      const key = `${record.metric}|${record.day}`;
      if (seen.has(key)) {
        issues.push({
          file: record.file,
          location: record.location,
          reason: `second ${record.metric} value for ${record.day}`,
        });
        continue;
      }
      const checked = checkMetricValue(record.metric, record.value, record.unit);
      if (!checked.ok) {
        issues.push({ file: record.file, location: record.location, reason: checked.reason });
        continue;
      }
      seen.add(key);
      const observation = buildMetricObservation({
        source: parsed.source,
        subjectKey,
        subject,
        metric: record.metric,
        day: record.day,
        value: checked.value,
      });
      chunk.push(conditionalCreateEntry(observation, false));
      chunkObservations++;
      imported++;
      if (chunk.length + 1 >= maxEntries) {
        flush();
      }
    }
    flush();
  }
  return { bundles, imported, issues };
}
