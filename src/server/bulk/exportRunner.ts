import { notFound, Operator, OperationOutcomeError } from '@medplum/core';
import { httpStatusOf } from '../../fhir/outcomes';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Device, Group, Resource } from '@medplum/fhirtypes';
import { join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { FileCipher } from '../../store/sealedFile';
import { AtomicFileWriter } from './atomicFile';
import { ASSOCIATED_TYPES, type ExportSpec } from './exportKickoff';
import type { ExportOutputFile } from './exportJobStore';
import { lastUpdatedPages, type LastUpdatedWindow } from './lastUpdatedPages';
import { patientCompartmentLinks } from './patientCompartment';
import { passesTypeFilters } from './typeFilter';

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
 *
 * Besides the Patient compartment, an export carries what makes it readable on its own: the Provenance of the
 * exported resources (found by their `target`, when Provenance is asked for or includeAssociatedData names it) and
 * the Devices they reference (when Device is asked for, or `_type` is omitted): the twin's findings and states name
 * the model Device that computed them, and a model Device belongs to no patient's compartment.
 */
export async function runExport(ctx: ExportRunContext): Promise<ExportOutputFile[]> {
  const window: LastUpdatedWindow = {
    ...(ctx.spec.since ? { after: Date.parse(ctx.spec.since) } : {}),
    upTo: ctx.transactionTime.getTime(),
  };
  const patients = ctx.spec.patient ? [ctx.spec.patient] : await patientIds(ctx);
  const requested = ctx.spec.types ?? [...new Set([...(await typesHoldingData(ctx, window)), ...ASSOCIATED_TYPES])];
  const compartmentTypes = requested.filter((t) => !ASSOCIATED_TYPES.has(t));
  const withProvenance = requested.includes('Provenance') || ctx.spec.relevantProvenance === true;
  const withDevices = requested.includes('Device');
  const outputs: ExportOutputFile[] = [];
  const progress = { written: 0, step: 0, steps: compartmentTypes.length + (withProvenance ? 1 : 0) + 1 };
  const report = (type: string): void =>
    ctx.onProgress(`${type} (${progress.step} of ${progress.steps} types), ${progress.written} resources written`);

  // Provenance is written while the resources it targets are exported (export.html#query-parameters,
  // includeAssociatedData RelevantProvenanceResources: "all Provenance resources associated with each of the
  // non-provenance resources being returned"), into its own file; ids seen keep each Provenance once.
  const provenance = withProvenance ? await OutputFile.open(ctx, 'Provenance') : undefined;
  const provenanceIds = new Set<string>();
  const deviceIds = new Set<string>();
  try {
    const writeProvenance = async (page: readonly Resource[]): Promise<void> => {
      if (provenance) {
        const fresh = page.filter(
          (r) => r.id && !provenanceIds.has(r.id) && passesTypeFilters(r, ctx.spec.typeFilters)
        );
        fresh.forEach((r) => provenanceIds.add(r.id as string));
        fresh.forEach((r) => collectDeviceIds(r, deviceIds));
        await provenance.write(fresh);
        progress.written += fresh.length;
      }
    };
    for (const type of compartmentTypes) {
      progress.step++;
      const file = await OutputFile.open(ctx, type);
      await file.run(async () => {
        for await (const page of resourcePages(ctx, type, patients, window)) {
          ctx.signal.throwIfAborted();
          const kept = page.filter((r) => passesTypeFilters(r, ctx.spec.typeFilters));
          await file.write(kept);
          progress.written += kept.length;
          kept.forEach((r) => collectDeviceIds(r, deviceIds));
          if (provenance && type !== 'Patient' && kept.length > 0) {
            await writeProvenance(await provenanceTargeting(ctx, kept, window));
          }
          report(type);
          await yieldToEventLoop();
        }
      });
      await file.finish(outputs);
    }
    if (provenance) {
      progress.step++;
      await provenance.run(async () => {
        if (requested.includes('Provenance')) {
          // Provenance linked to the patient itself (compartmentdefinition-patient.html: Provenance.patient).
          for await (const page of resourcePages(ctx, 'Provenance', patients, window)) {
            ctx.signal.throwIfAborted();
            await writeProvenance(page);
            report('Provenance');
          }
        }
      });
      await provenance.finish(outputs);
    }
    progress.step++;
    if (withDevices) {
      const file = await OutputFile.open(ctx, 'Device');
      await file.run(async () => {
        for await (const page of referencedDevices(ctx, [...deviceIds], window)) {
          ctx.signal.throwIfAborted();
          // A Device assigned to a patient outside this export stays out of it (a model Device has no patient).
          const kept = page.filter(
            (d) =>
              passesTypeFilters(d, ctx.spec.typeFilters) &&
              (!d.patient?.reference || patients.some((id) => d.patient?.reference === `Patient/${id}`))
          );
          await file.write(kept);
          progress.written += kept.length;
          report('Device');
        }
      });
      await file.finish(outputs);
    }
  } catch (err) {
    await provenance?.abort();
    throw err;
  }
  return outputs;
}

/**
 * One output file being written: appears only once complete (temporary name, then rename); a type with no resources
 * gets no file and no output entry (export.html#response---complete-status: "the server SHOULD NOT return an output
 * item for that resource").
 */
class OutputFile {
  private count = 0;
  private done = false;

  private constructor(
    private readonly ctx: ExportRunContext,
    readonly type: string,
    private readonly writer: AtomicFileWriter
  ) {}

  static async open(ctx: ExportRunContext, type: string): Promise<OutputFile> {
    return new OutputFile(
      ctx,
      type,
      await AtomicFileWriter.open(join(ctx.dir, `${type}.ndjson`), ctx.fileCipher?.sealer())
    );
  }

  async write(resources: readonly Resource[]): Promise<void> {
    if (resources.length > 0) {
      await this.writer.write(resources.map((r) => `${JSON.stringify(r)}\n`).join(''));
      this.count += resources.length;
    }
  }

  /** Runs `work`; on failure the file is dropped and the failure named by type (never by content). */
  async run(work: () => Promise<void>): Promise<void> {
    try {
      await work();
      this.ctx.signal.throwIfAborted();
    } catch (err) {
      await this.abort();
      if (err instanceof ExportFailure || this.ctx.signal.aborted) {
        throw err;
      }
      throw new ExportFailure(`Exporting ${this.type} resources failed`, { cause: err });
    }
  }

  async finish(outputs: ExportOutputFile[]): Promise<void> {
    if (this.done) {
      return;
    }
    this.done = true;
    if (this.count > 0) {
      await this.writer.commit();
      outputs.push({ type: this.type, file: `${this.type}.ndjson`, count: this.count });
    } else {
      await this.writer.abort();
    }
  }

  async abort(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.writer.abort();
    }
  }
}

const DEVICE_REFERENCE = /^Device\/([A-Za-z0-9\-.]{1,64})$/;

/** Ids of the Devices a resource references (a model Device named by a finding, a Provenance agent, ...). */
function collectDeviceIds(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    value.forEach((v) => collectDeviceIds(v, into));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'reference' && typeof v === 'string') {
        const id = DEVICE_REFERENCE.exec(v)?.[1];
        if (id) {
          into.add(id);
        }
      } else {
        collectDeviceIds(v, into);
      }
    }
  }
}

/** Provenance whose `target` is one of `resources` (R4 provenance.html, search parameter `target`). */
async function provenanceTargeting(
  ctx: ExportRunContext,
  resources: readonly Resource[],
  window: LastUpdatedWindow
): Promise<Resource[]> {
  const found: Resource[] = [];
  for (let i = 0; i < resources.length; i += ID_CHUNK) {
    const targets = resources
      .slice(i, i + ID_CHUNK)
      .map((r) => `${r.resourceType}/${r.id}`)
      .join(',');
    const filters = [{ code: 'target', operator: Operator.EQUALS, value: targets }];
    for await (const page of lastUpdatedPages(
      ctx.repo,
      { resourceType: 'Provenance', filters },
      window,
      ctx.pageSize
    )) {
      found.push(...page);
    }
  }
  return found;
}

/** The Devices named by id, a chunk of ids per search. */
async function* referencedDevices(
  ctx: ExportRunContext,
  ids: readonly string[],
  window: LastUpdatedWindow
): AsyncGenerator<Device[]> {
  for (let i = 0; i < ids.length; i += ID_CHUNK) {
    const filters = [{ code: '_id', operator: Operator.EQUALS, value: ids.slice(i, i + ID_CHUNK).join(',') }];
    yield* lastUpdatedPages<Device>(ctx.repo, { resourceType: 'Device', filters }, window, ctx.pageSize);
  }
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
    if (ctx.spec.level === 'patient' && !ctx.spec.patient) {
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
