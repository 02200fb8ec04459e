import { isCancelledByWithdrawal } from '../../policy/consentWithdrawalMarks';
import { badRequest, OperationOutcomeError } from '@medplum/core';
import type {
  Condition,
  Consent,
  Observation,
  Patient,
  Procedure,
  Resource,
  RiskAssessment,
  Task,
} from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import type { FhirClient } from '../../fhir/fhirClient';
import { ensureModelDevice } from '../../deliver/modelDevice';
import { contentOf } from '../../deliver/sameContent';
import { writeBack } from '../../deliver/writeBack';
import {
  createOnce,
  upsert,
  versionedUpdate,
  type PlannedWrite,
  type VersionedUpdateWrite,
} from '../../deliver/writePlan';
import { consentAllowsProcessing } from '../../policy/consentPolicy';
import { TWIN_RESOURCE_SYSTEM } from '../../fhir/codes/twinCodes';
import { DEFAULT_DETECTOR_OPTIONS, type DetectorName, type DetectorOptions } from '../causalScorer';
import { alarmEpisodes, DEFAULT_EPISODE_OPTIONS, type AlarmEpisode, type EpisodeOptions } from './alarmEpisodes';
import {
  attributeEpisode,
  dataGaps,
  DEFAULT_ATTRIBUTION_OPTIONS,
  deviceChanges,
  recordedEvents,
  type AttributionOptions,
} from './episodeAttribution';
import { episodeDeviations, type FindingOutcome } from './episodeExplanation';
import type { FindingLikelihood, QualitativeRisk } from './findingLikelihood';
import {
  buildFinding,
  buildReviewTask,
  findingReviewIdentifierValue,
  REVIEW_OWNER_PATTERN,
  type FindingContext,
} from './findingResources';
import { statisticalFindingSource, type FindingSource } from './findingSource';
import { findingsInput } from './findingsInput';
import { isoDay, parseDay } from '../../calendar/calendarDay';

export interface FindingsOptions {
  /** The statistical detector and its options: used when no `source` is given. */
  readonly detector: DetectorName;
  readonly detectorOptions: DetectorOptions;
  /**
   * Where the day scores and the model Device come from (e.g. lstmFindingSource.ts); default the statistical
   * detector above (statisticalFindingSource).
   */
  readonly source?: FindingSource;
  readonly episodes: EpisodeOptions;
  /**
   * A review Task is created for a finding whose calibrated probability is at least this (0..1); for a source
   * without calibration (all today), `taskRisk` decides.
   */
  readonly taskThreshold: number;
  /** Without calibration: the lowest qualitative likelihood that gets a review Task. */
  readonly taskRisk: QualitativeRisk;
  /** When a deviation counts as starting at a recorded event (episodeAttribution.ts). */
  readonly attribution: AttributionOptions;
  /**
   * A review Task nobody has picked up (still `requested`) is cancelled this many days after its episode closed, and
   * none is created for an episode closed longer ago (a first run over years of history must not flood the worklist).
   * The finding itself stays in the record. Undefined: never (the library default; `twin findings` uses 28).
   */
  readonly taskExpiryDays?: number;
  /** Reference of who reviews (Practitioner/..., PractitionerRole/..., Organization/..., CareTeam/...). */
  readonly taskOwner?: string;
  /** Activity-only episodes at least this many days long read as a recovery plateau. */
  readonly plateauDays: number;
  /** Most Observations a finding names in basis. */
  readonly maxBasis: number;
}

export const DEFAULT_FINDINGS_OPTIONS: Readonly<FindingsOptions> = Object.freeze({
  detector: 'ensemble',
  detectorOptions: DEFAULT_DETECTOR_OPTIONS,
  episodes: DEFAULT_EPISODE_OPTIONS,
  taskThreshold: 0.5,
  taskRisk: 'moderate',
  attribution: DEFAULT_ATTRIBUTION_OPTIONS,
  plateauDays: 14,
  maxBasis: 100,
});

export interface FindingsDeps {
  readonly client: FhirClient;
  /** Profile validation of every resource before it is sent (the embedded store validates again on write). */
  readonly validate?: (resource: Resource) => void;
  /** Today (YYYY-MM-DD), for consent periods. */
  readonly today: () => string;
}

/** The Device a run's findings name as performer: a literal reference and the version text. */
export interface DetectorDeviceRef {
  readonly reference: string;
  readonly version: string;
}

/** What one patient's run did: counts only, safe to log. */
export interface PatientFindingsSummary {
  readonly status: 'written' | 'skipped-consent';
  readonly scoredDays: number;
  readonly episodes: number;
  readonly openEpisodes: number;
  readonly findingsWritten: number;
  readonly findingsUnchanged: number;
  readonly findingsWithdrawn: number;
  /** Episodes attributed to a recorded condition, procedure or data gap (written, with that explanation). */
  readonly findingsAttributed: number;
  /** Episodes suppressed as starting at a device change (not written). */
  readonly findingsSuppressed: number;
  readonly tasksCreated: number;
  /** Open review Tasks cancelled: their finding was withdrawn, or nobody picked them up before they expired. */
  readonly tasksCancelled: number;
}

/** The source a run uses: the one given, else the statistical detector of the options. */
export function findingSourceOf(options: FindingsOptions): FindingSource {
  return options.source ?? statisticalFindingSource(options.detector, options.detectorOptions);
}

/**
 * Makes sure the source's model Device is on the server (conditional update on its sha256 identifier, FHIR R4
 * http.html#cond-update) and returns its literal reference. Sends nothing when the Device there is already equal.
 */
export async function ensureDetectorDevice(
  deps: Pick<FindingsDeps, 'client' | 'validate'>,
  source: FindingSource
): Promise<DetectorDeviceRef> {
  const { reference, version } = await ensureModelDevice(deps.client, source.device, deps.validate);
  return { reference, version };
}

/**
 * Detects one patient's alarm episodes from their Observations on the server and writes the findings in ONE
 * transaction (FHIR R4 http.html#transaction):
 * - each episode's RiskAssessment by conditional update on `finding/{patientId}/{detector}/{onsetDay}`; sent only when
 *   it differs from what the server holds, so a rerun over the same data sends nothing;
 * - a review Task for each finding whose probability reaches the threshold, by conditional create on
 *   `finding-review/...` (If-None-Exist, http.html#ccreate): created once, never rewritten, so a Task the care team
 *   has accepted or completed is not reset by the next run; a review cancelled by a consent withdrawal is renewed
 *   under its own identifier when the finding comes back (currentReview);
 * - a finding of this detector that the data no longer produce (values retracted or corrected) is withdrawn: its
 *   status becomes entered-in-error (kept for audit, not deleted).
 */
export async function writePatientFindings(
  patientId: string,
  device: DetectorDeviceRef,
  deps: FindingsDeps,
  options: FindingsOptions = DEFAULT_FINDINGS_OPTIONS
): Promise<PatientFindingsSummary> {
  const { client } = deps;
  const source = findingSourceOf(options);
  const subject = `Patient/${patientId}`;
  const consents = await client.searchAll<Consent>('Consent', { patient: subject });
  if (!consentAllowsProcessing(consents, deps.today())) {
    return { ...EMPTY, status: 'skipped-consent' };
  }
  if (options.taskOwner !== undefined && !REVIEW_OWNER_PATTERN.test(options.taskOwner)) {
    throw new OperationOutcomeError(
      badRequest('Task owner must be a Practitioner, PractitionerRole, Organization or CareTeam reference', 'owner')
    );
  }
  const [observations, existingFindings, existingTasks, conditions, procedures] = await Promise.all([
    client.searchAll<Observation>('Observation', { subject }),
    client.searchAll<RiskAssessment>('RiskAssessment', { subject, identifier: `${TWIN_RESOURCE_SYSTEM}|` }),
    client.searchAll<Task>('Task', { subject, identifier: `${TWIN_RESOURCE_SYSTEM}|` }),
    client.searchAll<Condition>('Condition', { subject }),
    client.searchAll<Procedure>('Procedure', { subject }),
  ]);
  const input = findingsInput(patientId, observations);
  const scores = await source.score(input.series);
  const episodes = alarmEpisodes(scores, options.episodes);
  const knownEvents = [
    ...recordedEvents(conditions, procedures),
    ...dataGaps(
      scores.map((s) => s.day),
      options.attribution
    ),
    ...deviceChanges(input.sources),
  ];

  const findingPrefix = `finding/${patientId}/${source.detector}/`;
  const onServer = new Map<string, RiskAssessment>();
  for (const ra of existingFindings) {
    const key = twinKey(ra);
    if (key?.startsWith(findingPrefix)) {
      onServer.set(key, ra);
    }
  }
  const tasksOnServer = new Map<string, Task>();
  for (const task of existingTasks) {
    const key = twinKey(task);
    if (key !== undefined) {
      tasksOnServer.set(key, task);
    }
  }

  const context: FindingContext = {
    patientId,
    detector: source.detector,
    deviceReference: device.reference,
    deviceVersion: device.version,
    alarmThreshold: source.alarmThreshold,
    hysteresis: source.hysteresis,
    plateauDays: options.plateauDays,
    maxBasis: options.maxBasis,
    ...(source.calibration ? { calibration: source.calibration } : {}),
  };
  const writes: PlannedWrite[] = [];
  const produced = new Set<string>();
  let unchanged = 0;
  let written = 0;
  let tasksCreated = 0;
  let attributed = 0;
  let suppressed = 0;
  let tasksCancelled = 0;
  const todayDay = parseDay(deps.today()) ?? Number.MAX_SAFE_INTEGER;
  for (const episode of episodes) {
    const attribution = attributeEpisode(episode, episodeDeviations(episode), knownEvents, options.attribution);
    if (attribution?.action === 'suppressed') {
      // Not written (a finding written before for it is withdrawn below); counted in the run's summary.
      suppressed++;
      continue;
    }
    if (attribution) {
      attributed++;
    }
    const { riskAssessment, outcome, likelihood } = buildFinding(episode, input, context, attribution);
    const key = twinKey(riskAssessment) ?? '';
    produced.add(key);
    const existing = onServer.get(key);
    let findingReference = existing?.id ? `RiskAssessment/${existing.id}` : undefined;
    if (existing && contentOf(existing) === contentOf(riskAssessment)) {
      unchanged++;
    } else {
      deps.validate?.(riskAssessment);
      const fullUrl = `urn:uuid:${randomUUID()}`;
      findingReference ??= fullUrl;
      writes.push(upsert(riskAssessment, { system: TWIN_RESOURCE_SYSTEM, value: key }, undefined, fullUrl));
      written++;
    }
    const wantsTask = wantsReviewTask(outcome, episode.shift, likelihood, options);
    if (wantsTask) {
      const task = buildReviewTask(episode.onsetDay, {
        patientId,
        detector: source.detector,
        findingReference: findingReference ?? '',
        owner: options.taskOwner,
        outcome,
        likelihood,
        authoredOn: deps.today(),
      });
      const { key: taskKey, task: existingTask } = currentReview(tasksOnServer, twinKey(task) ?? '');
      const closedDaysAgo = episode.open ? undefined : todayDay - episode.lastDay;
      const expired =
        options.taskExpiryDays !== undefined && closedDaysAgo !== undefined && closedDaysAgo > options.taskExpiryDays;
      if (existingTask?.id && expired && existingTask.status === 'requested') {
        writes.push(
          cancelTask(
            existingTask,
            `Not picked up within ${options.taskExpiryDays} days after the episode ended (${isoDay(episode.lastDay)}); ` +
              'the finding stays in the record',
            'expired',
            deps.validate
          )
        );
        tasksCancelled++;
      }
      if (!existingTask && !expired) {
        // A new finding is referenced by its urn:uuid, which the server rewrites to RiskAssessment/{id} when it runs
        // the transaction (FHIR R4 http.html#trules); the profile's literal-reference rule is checked on that shape.
        deps.validate?.(
          task.focus?.reference?.startsWith('urn:uuid:')
            ? { ...task, focus: { reference: 'RiskAssessment/pending' } }
            : task
        );
        const keyed: Task = { ...task, identifier: [{ system: TWIN_RESOURCE_SYSTEM, value: taskKey }] };
        writes.push(createOnce(keyed, { system: TWIN_RESOURCE_SYSTEM, value: taskKey }));
        tasksCreated++;
      }
    }
  }
  let withdrawn = 0;
  for (const [key, ra] of onServer) {
    if (produced.has(key)) {
      continue;
    }
    // The finding's open review Task is cancelled with it (also for a finding withdrawn by an earlier run).
    const onset = key.slice(findingPrefix.length);
    const { task } = currentReview(
      tasksOnServer,
      findingReviewIdentifierValue(patientId, source.detector, parseDay(onset) ?? NaN)
    );
    if (task?.id && OPEN_TASK.has(task.status)) {
      writes.push(
        cancelTask(task, 'The finding was withdrawn: the data no longer produce it', 'withdrawn', deps.validate)
      );
      tasksCancelled++;
    }
    if (ra.status === 'entered-in-error') {
      continue;
    }
    const { id: _id, meta, ...rest } = ra;
    const retracted: RiskAssessment = {
      ...rest,
      meta: meta?.profile ? { profile: meta.profile } : undefined,
      status: 'entered-in-error',
    };
    deps.validate?.(retracted);
    writes.push(upsert(retracted, { system: TWIN_RESOURCE_SYSTEM, value: key }));
    withdrawn++;
  }
  // One transaction for the patient (FHIR R4 http.html#transaction), through the deliver stage.
  await writeBack(client, { writes });
  return {
    status: 'written',
    scoredDays: scores.length,
    episodes: episodes.length,
    openEpisodes: episodes.filter((e) => e.open).length,
    findingsWritten: written,
    findingsUnchanged: unchanged,
    findingsWithdrawn: withdrawn,
    findingsAttributed: attributed,
    findingsSuppressed: suppressed,
    tasksCreated,
    tasksCancelled,
  };
}

export interface FindingsRunSummary {
  readonly patients: number;
  readonly written: number;
  readonly skippedConsent: number;
  readonly failed: number;
  readonly episodes: number;
  readonly findingsWritten: number;
  readonly findingsUnchanged: number;
  readonly findingsWithdrawn: number;
  readonly findingsAttributed: number;
  readonly findingsSuppressed: number;
  readonly tasksCreated: number;
  readonly tasksCancelled: number;
}

/**
 * Findings for the given patients, or every Patient on the server: the Device once, then one transaction per patient.
 * A failing patient is counted and the rest go on; a rerun completes what was left. `log` gets counts only.
 */
export async function writeFindingsForPatients(
  patientIds: readonly string[] | 'all',
  deps: FindingsDeps,
  options: FindingsOptions = DEFAULT_FINDINGS_OPTIONS,
  log: (line: string) => void = () => undefined
): Promise<FindingsRunSummary> {
  const ids =
    patientIds === 'all'
      ? (await deps.client.searchAll<Patient>('Patient', { _sort: '_id' })).map((p) => p.id as string)
      : patientIds;
  const source = findingSourceOf(options);
  const device = await ensureDetectorDevice(deps, source);
  const total = {
    written: 0,
    skippedConsent: 0,
    failed: 0,
    episodes: 0,
    findingsWritten: 0,
    findingsUnchanged: 0,
    findingsWithdrawn: 0,
    findingsAttributed: 0,
    findingsSuppressed: 0,
    tasksCreated: 0,
    tasksCancelled: 0,
  };
  for (let i = 0; i < ids.length; i++) {
    try {
      const s = await writePatientFindings(ids[i], device, deps, { ...options, source });
      if (s.status === 'skipped-consent') {
        total.skippedConsent++;
      } else {
        total.written++;
        total.episodes += s.episodes;
        total.findingsWritten += s.findingsWritten;
        total.findingsUnchanged += s.findingsUnchanged;
        total.findingsWithdrawn += s.findingsWithdrawn;
        total.tasksCreated += s.tasksCreated;
        total.findingsAttributed += s.findingsAttributed;
        total.findingsSuppressed += s.findingsSuppressed;
        total.tasksCancelled += s.tasksCancelled;
      }
    } catch (err) {
      total.failed++;
      log(
        `twin findings: patient ${i + 1}/${ids.length} failed: ${err instanceof Error ? err.constructor.name : 'error'}`
      );
    }
    if ((i + 1) % 25 === 0 || i + 1 === ids.length) {
      log(`twin findings: ${i + 1}/${ids.length} patients`);
    }
  }
  return { patients: ids.length, ...total };
}

const EMPTY: PatientFindingsSummary = {
  status: 'written',
  scoredDays: 0,
  episodes: 0,
  openEpisodes: 0,
  findingsWritten: 0,
  findingsUnchanged: 0,
  findingsWithdrawn: 0,
  findingsAttributed: 0,
  findingsSuppressed: 0,
  tasksCreated: 0,
  tasksCancelled: 0,
};

/** A review Task cancelled (R4 task.html#statemachine: "The task was not completed"), version-checked (If-Match). */
function cancelTask(
  task: Task,
  reason: string,
  business: string,
  validate: ((resource: Resource) => void) | undefined
): VersionedUpdateWrite {
  const cancelled: Task = {
    ...task,
    status: 'cancelled',
    statusReason: { text: reason },
    businessStatus: { text: business },
  };
  validate?.(cancelled);
  return versionedUpdate({ ...cancelled, id: task.id ?? '' }, task.meta?.versionId);
}

const RISK_RANK: Readonly<Record<QualitativeRisk, number>> = Object.freeze({ low: 0, moderate: 1 });

/**
 * Whether a finding gets a review Task. A sustained change asks a clinician "new normal?" whatever its likelihood: it
 * is never adopted silently. That holds for a pending shift whose pattern reads as a possible infection too (its note
 * asks a clinician to confirm, and the detector already compares later days with the new level); a pending shift the
 * record explains (a change after a recorded condition or procedure) follows its likelihood like any other finding.
 */
export function wantsReviewTask(
  outcome: FindingOutcome,
  shift: AlarmEpisode['shift'],
  likelihood: FindingLikelihood,
  options: Pick<FindingsOptions, 'taskThreshold' | 'taskRisk'>
): boolean {
  if (
    outcome === 'sustained change (new normal?)' ||
    (shift === 'pending' && outcome !== 'change after a recorded condition or procedure')
  ) {
    return true;
  }
  return likelihood.probability !== undefined
    ? likelihood.probability >= options.taskThreshold
    : RISK_RANK[likelihood.qualitative] >= RISK_RANK[options.taskRisk];
}

/** Task statuses a withdrawn finding's review can still be cancelled from (R4 task.html#statemachine). */
const OPEN_TASK: ReadonlySet<Task['status']> = new Set([
  'draft',
  'requested',
  'received',
  'accepted',
  'ready',
  'in-progress',
  'on-hold',
]);

/**
 * The review Task standing for a finding now, and the identifier under which it is (or would be) written. A review
 * cancelled by a consent withdrawal was never done: once a new Consent permits processing and the finding is written
 * again, it needs a review again. Its create-once identifier still names the cancelled Task (conditional create,
 * R4 http.html#ccreate, would find it and create nothing) and a cancelled Task cannot be reopened (R4
 * task.html#statemachine: cancelled is final), so the renewed review gets its own identifier,
 * `{key}/renewed/{id of the cancelled Task}`: deterministic, so a rerun finds it and writes nothing; a second
 * withdrawal and permit renews the renewal.
 */
function currentReview(tasksOnServer: ReadonlyMap<string, Task>, baseKey: string): { key: string; task?: Task } {
  let key = baseKey;
  let task = tasksOnServer.get(key);
  while (task?.id && isCancelledByWithdrawal(task)) {
    key = `${baseKey}/renewed/${task.id}`;
    task = tasksOnServer.get(key);
  }
  return task ? { key, task } : { key };
}

function twinKey(resource: RiskAssessment | Task): string | undefined {
  return resource.identifier?.find((i) => i.system === TWIN_RESOURCE_SYSTEM)?.value;
}
