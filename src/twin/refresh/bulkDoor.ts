import type { Condition, Consent, Observation, Procedure, Resource } from '@medplum/fhirtypes';
import { runBulkExport, type BulkExportClientOptions } from '../../ingest/bulk/bulkExportClient';
import {
  refreshPatientTwin,
  type PatientDataSource,
  type RefreshDeps,
  type RefreshSummary,
} from './refreshPatientTwin';
import { tallyRefreshes, windowFromDay } from './refreshRunner';
import { TWIN_RESOURCE_SYSTEM } from '../../fhir/codes/twinCodes';
import { observationDay, observationPatientId } from '../../calendar/observationDay';

export interface BulkIngestOptions extends Pick<
  BulkExportClientOptions,
  'baseUrl' | 'path' | 'since' | 'fetch' | 'sleep' | 'headers' | 'maxWaitMs'
> {
  readonly windowDays?: number;
}

export interface BulkIngestSummary {
  /** The manifest's transactionTime: the `_since` of the next incremental export. */
  readonly transactionTime: string;
  readonly resources: number;
  readonly badLines: number;
  readonly patientsRefreshed: number;
  readonly skippedConsent: number;
  readonly failedPatients: number;
}

const TYPES = ['Patient', 'Observation', 'Condition', 'Procedure', 'Consent'] as const;

/**
 * Door 3: a FHIR Bulk Data export (Bulk Data Access IG, export.html) of the patients' Observations and context.
 *
 * A full export (no `since`) holds every measurement of every exported patient, so each twin is computed straight
 * from the export, with no per-patient searches. An incremental export (`since` = the previous transactionTime)
 * holds only what changed, so its patients get the same windowed refresh as the poll door. The twin is written back
 * to the same server through `deps.client`. Bad NDJSON lines are counted (file and line number stay in the client's
 * lineErrors), never dropped silently.
 */
export async function ingestBulkExport(options: BulkIngestOptions, deps: RefreshDeps): Promise<BulkIngestSummary> {
  const windowDays = options.windowDays ?? 28;
  const run = await runBulkExport({ ...options, types: TYPES, onLineError: () => undefined });
  const manifest = await run.manifest();
  const byPatient = new Map<string, PatientExport>();
  const ensure = (id: string): PatientExport => {
    let p = byPatient.get(id);
    if (!p) {
      p = { observations: [], consents: [], conditions: [], procedures: [] };
      byPatient.set(id, p);
    }
    return p;
  };
  let resources = 0;
  for await (const resource of run.resources()) {
    resources++;
    collect(resource, ensure);
  }
  const refreshes: (() => Promise<RefreshSummary>)[] = [];
  for (const [patientId, data] of [...byPatient.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (!options.since) {
      refreshes.push(() => refreshPatientTwin(patientId, deps, undefined, exportSource(data)));
      continue;
    }
    const first = data.observations
      .map(observationDay)
      .filter((d): d is string => !!d)
      .sort()[0];
    if (first) {
      refreshes.push(() => refreshPatientTwin(patientId, deps, windowFromDay(first, windowDays)));
    }
  }
  const { refreshed, skippedConsent, failed } = await tallyRefreshes(refreshes);
  return {
    transactionTime: manifest.transactionTime,
    resources,
    badLines: run.lineErrors.length,
    patientsRefreshed: refreshed,
    skippedConsent,
    failedPatients: failed,
  };
}

interface PatientExport {
  observations: Observation[];
  consents: Consent[];
  conditions: Condition[];
  procedures: Procedure[];
}

function collect(resource: Resource, ensure: (id: string) => PatientExport): void {
  switch (resource.resourceType) {
    case 'Patient':
      if (resource.id) {
        ensure(resource.id);
      }
      return;
    case 'Observation': {
      const id = observationPatientId(resource);
      // The twin's own resources are in the export too; they are outputs, not changes to ingest.
      if (id && !resource.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM)) {
        ensure(id).observations.push(resource);
      }
      return;
    }
    case 'Consent': {
      const id = patientOf(resource.patient?.reference);
      if (id) {
        ensure(id).consents.push(resource);
      }
      return;
    }
    case 'Condition': {
      const id = patientOf(resource.subject?.reference);
      if (id) {
        ensure(id).conditions.push(resource);
      }
      return;
    }
    case 'Procedure': {
      const id = patientOf(resource.subject?.reference);
      if (id) {
        ensure(id).procedures.push(resource);
      }
      return;
    }
    default:
      return;
  }
}

function patientOf(reference: string | undefined): string | undefined {
  return observationPatientId({ resourceType: 'Observation', status: 'final', code: {}, subject: { reference } });
}

function exportSource(data: PatientExport): PatientDataSource {
  return {
    observations: async () => data.observations,
    consents: async () => data.consents,
    conditions: async () => data.conditions,
    procedures: async () => data.procedures,
  };
}
