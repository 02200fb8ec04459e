import { notFound, Operator, OperationOutcomeError } from '@medplum/core';
import { httpStatusOf } from '../../fhir/outcomes';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Group, Resource } from '@medplum/fhirtypes';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { FileCipher } from '../../store/sealedFile';
import { AtomicFileWriter } from './atomicFile';
import type { ExportSpec } from './exportKickoff';
import type { ExportOutputFile } from './exportJobStore';
import { lastUpdatedPages, type LastUpdatedWindow } from './lastUpdatedPages';
import { patientCompartmentLinks } from './patientCompartment';

export interface ExportRunContext {
  readonly repo: FhirRepository;
  readonly spec: ExportSpec;
  /** The manifest's transactionTime: nothing updated later is exported. */
  readonly transactionTime: Date;
  /** The job's folder; one `<Type>.ndjson` per exported type is written there. */
  readonly dir: string;
  readonly pageSize: number;
  /** Seals each file at rest when the store is encrypted. */
  readonly fileCipher?: FileCipher;
  readonly signal: AbortSignal;
  /** A short status line for `X-Progress` (export.html#response---in-progress-status: under 100 characters). */
  readonly onProgress: (progress: string) => void;
}

/** A failure with a message safe to show the client and the log: it names a type or a step, never content. */
export class ExportFailure extends Error {}

/** Group members per `_id=` search when exporting the members' Patient resources. */
const ID_CHUNK = 100;
const PATIENT_REFERENCE = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})$/;

/**
 * Runs one export: reads the repository page by page and writes one NDJSON file per resource type
 * (export.html#response---complete-status: "Each file SHALL contain resources of only one type"). A type with no
 * resources gets no file and no output entry ("the server SHOULD NOT return an output item for that resource").
 *
 * Each file appears only once complete (temporary name, then rename). Between pages the runner yields to the event
 * loop, so the server keeps answering while an export runs, and checks `signal` so a DELETE stops it promptly.
 */
export async function runExport(ctx: ExportRunContext): Promise<ExportOutputFile[]> {
  const window: LastUpdatedWindow = {
    ...(ctx.spec.since ? { after: Date.parse(ctx.spec.since) } : {}),
    upTo: ctx.transactionTime.getTime(),
  };
  const patients = await patientIds(ctx);
  const types = ctx.spec.types ?? (await typesHoldingData(ctx, window));
  const outputs: ExportOutputFile[] = [];
  let written = 0;
  for (const [i, type] of types.entries()) {
    const file = `${type}.ndjson`;
    const writer = await AtomicFileWriter.open(join(ctx.dir, file), ctx.fileCipher?.sealer());
    let count = 0;
    try {
      for await (const page of resourcePages(ctx, type, patients, window)) {
        ctx.signal.throwIfAborted();
        await writer.write(page.map((r) => `${JSON.stringify(r)}\n`).join(''));
        count += page.length;
        written += page.length;
        ctx.onProgress(`${type} (${i + 1} of ${types.length} types), ${written} resources written`);
        await yieldToEventLoop();
      }
      ctx.signal.throwIfAborted();
      if (count > 0) {
        await writer.commit();
        outputs.push({ type, file, count });
      } else {
        await writer.abort();
      }
    } catch (err) {
      await writer.abort();
      if (err instanceof ExportFailure || ctx.signal.aborted) {
        throw err;
      }
      throw new ExportFailure(`Exporting ${type} resources failed`, { cause: err });
    }
  }
  return outputs;
}

/**
 * The patients whose compartments are exported. For Patient/$export every live Patient, whatever its lastUpdated:
 * a patient updated after `_since` or after transactionTime still owns Observations that fall inside the window.
 */
async function patientIds(ctx: ExportRunContext): Promise<string[]> {
  if (ctx.spec.level === 'group') {
    return groupMembers(ctx.repo, ctx.spec.groupId ?? '');
  }
  const ids = new Set<string>();
  for await (const page of lastUpdatedPages(ctx.repo, { resourceType: 'Patient' }, {}, ctx.pageSize)) {
    ctx.signal.throwIfAborted();
    for (const patient of page) {
      ids.add(patient.id as string);
    }
  }
  return [...ids];
}

/**
 * Patients named by `Group.member.entity` (export.html#endpoint---group-of-patients), skipping members marked
 * `inactive` (R4 Group.member.inactive: "no longer a member"). References to anything but a Patient are ignored.
 */
export async function groupMembers(repo: FhirRepository, groupId: string): Promise<string[]> {
  let group: Group;
  try {
    group = await repo.readResource<Group>('Group', groupId);
  } catch (err) {
    if (err instanceof OperationOutcomeError && httpStatusOf(err.outcome) < 500) {
      throw new OperationOutcomeError({
        ...notFound,
        issue: [{ severity: 'error', code: 'not-found', details: { text: `Group ${groupId} not found` } }],
      });
    }
    throw err;
  }
  const ids = new Set<string>();
  for (const member of group.member ?? []) {
    const match = PATIENT_REFERENCE.exec(member.entity?.reference ?? '');
    if (match && member.inactive !== true) {
      ids.add(match[1]);
    }
  }
  return [...ids];
}

/**
 * `_type` omitted: export.html#query-parameters lets the server return "all supported resources"; here that is
 * Patient plus every followed Patient-compartment type (patientCompartment.ts) of which the store holds at least one
 * resource in the window. Checking costs one small query per type, and saves one query per patient per empty type.
 */
async function typesHoldingData(ctx: ExportRunContext, window: LastUpdatedWindow): Promise<string[]> {
  const types: string[] = [];
  for (const type of [...patientCompartmentLinks().keys()].sort()) {
    const first = await lastUpdatedPages(
      ctx.repo,
      { resourceType: type as Resource['resourceType'] },
      window,
      1
    ).next();
    if (!first.done) {
      types.push(type);
    }
  }
  return ['Patient', ...types];
}

async function* resourcePages(
  ctx: ExportRunContext,
  type: string,
  patients: readonly string[],
  window: LastUpdatedWindow
): AsyncGenerator<Resource[]> {
  const resourceType = type as Resource['resourceType'];
  if (type === 'Patient') {
    if (ctx.spec.level === 'patient') {
      yield* lastUpdatedPages(ctx.repo, { resourceType }, window, ctx.pageSize);
      return;
    }
    for (let i = 0; i < patients.length; i += ID_CHUNK) {
      const ids = patients.slice(i, i + ID_CHUNK).join(',');
      const filters = [{ code: '_id', operator: Operator.EQUALS, value: ids }];
      yield* lastUpdatedPages(ctx.repo, { resourceType, filters }, window, ctx.pageSize);
    }
    return;
  }
  const link = patientCompartmentLinks().get(type);
  if (!link) {
    throw new ExportFailure(`${type} is not in the Patient compartment`);
  }
  for (const id of patients) {
    ctx.signal.throwIfAborted();
    // e.g. Observation?subject=Patient/x (compartmentdefinition-patient.html)
    const filters = [{ code: link, operator: Operator.EQUALS, value: `Patient/${id}` }];
    yield* lastUpdatedPages(ctx.repo, { resourceType, filters }, window, ctx.pageSize);
  }
}
