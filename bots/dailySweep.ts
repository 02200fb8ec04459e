// Medplum bot on a schedule (Bot.cronString, e.g. daily at 03:00): catches up what the event bots missed. Medplum
// delivers a subscription to a bot once, without retry, so an event lost to a timeout or an outage is found here:
// every patient with an Observation, Condition or Procedure changed in the look-back window (bot secret
// SWEEP_LOOKBACK_HOURS, default 48, more than one sweep interval so a failed sweep is covered by the next) gets the
// twin poll door's refresh (src/twin/refresh/pollDoor.ts), detection, and a proposal when a Condition or Procedure
// changed. All of it is idempotent, so what the events already did is not done twice.
import type { BotEvent, MedplumClient } from '@medplum/core';
import type { Condition, Observation, Procedure } from '@medplum/fhirtypes';
import { ProtocolMatcher } from '../src/evidence/match/protocolMatcher';
import { loadProtocolLibrary } from '../src/protocols/protocolLibrary';
import type { Watermark, WatermarkStore } from '../src/ingest/watermarkStore';
import { proposeCarePlan } from '../src/proposal/proposalWriter';
import { pollOnce, type PollSummary } from '../src/twin/refresh/pollDoor';
import { TWIN_RESOURCE_SYSTEM } from '../src/fhir/codes/twinCodes';
import { botWorld } from './lib/botWorld';
import { detectForPatient } from './lib/patientDetection';

export interface SweepResult {
  readonly since: string;
  readonly twin: PollSummary;
  readonly patientsDetected: number;
  readonly detectionModes: Readonly<Record<string, number>>;
  /** Why the learned detector did not run, when it did not (once per distinct reason). */
  readonly degraded: readonly string[];
  readonly proposals: Readonly<Record<string, number>>;
  readonly failedPatients: number;
}

export async function handler(medplum: MedplumClient, event: BotEvent): Promise<SweepResult> {
  const world = botWorld(medplum, event);
  const lookbackHours = Number(world.secret('SWEEP_LOOKBACK_HOURS') ?? 48);
  const since = new Date(Date.parse(world.now()) - lookbackHours * 3_600_000).toISOString();
  // A bot has no disk: the poll starts each sweep at now - look-back (the refresh is idempotent, so re-reading a
  // day already handled costs time, not correctness).
  const twin = await pollOnce('daily-sweep', lookbackWatermark(since), world);
  const changedObservations = await world.client.searchAll<Observation>('Observation', { _lastUpdated: `ge${since}` });
  const patients = new Set<string>();
  for (const o of changedObservations) {
    const ref = o.subject?.reference;
    if (ref?.startsWith('Patient/') && !o.identifier?.some((i) => i.system === TWIN_RESOURCE_SYSTEM)) {
      patients.add(ref.slice('Patient/'.length));
    }
  }
  const detectionModes: Record<string, number> = {};
  const degraded = new Set<string>();
  let failedPatients = twin.failedPatients;
  for (const id of [...patients].sort()) {
    try {
      const report = await detectForPatient(id, world);
      detectionModes[report.mode] = (detectionModes[report.mode] ?? 0) + 1;
      if (report.mode === 'statistical') {
        degraded.add(report.degraded);
      }
    } catch {
      failedPatients++;
    }
  }
  const clinical = [
    ...(await world.client.searchAll<Condition>('Condition', { _lastUpdated: `ge${since}` })),
    ...(await world.client.searchAll<Procedure>('Procedure', { _lastUpdated: `ge${since}` })),
  ];
  const proposalPatients = new Set(
    clinical.map((r) => r.subject?.reference ?? '').filter((r) => /^Patient\/[A-Za-z0-9.-]{1,64}$/.test(r))
  );
  const proposals: Record<string, number> = {};
  if (proposalPatients.size > 0) {
    const library = loadProtocolLibrary();
    const matcher = await ProtocolMatcher.create(library);
    const owner = world.secret('REVIEW_OWNER');
    for (const ref of [...proposalPatients].sort()) {
      try {
        const outcome = await proposeCarePlan(
          ref.slice('Patient/'.length),
          { client: world.client, library, matcher, now: world.now },
          owner ? { owner } : {}
        );
        proposals[outcome.status] = (proposals[outcome.status] ?? 0) + 1;
      } catch {
        failedPatients++;
      }
    }
  }
  return {
    since,
    twin,
    patientsDetected: patients.size,
    detectionModes,
    degraded: [...degraded],
    proposals,
    failedPatients,
  };
}

/** A watermark store that always starts at `since` and keeps nothing (pollOnce's contract, without a disk). */
function lookbackWatermark(since: string): WatermarkStore {
  const store: Pick<WatermarkStore, 'load' | 'save'> = {
    load: (): Watermark => ({ lastUpdated: since, seenAtWatermark: [] }),
    save: () => undefined,
  };
  return store as WatermarkStore;
}
