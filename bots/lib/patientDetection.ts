// Detection for one patient from a bot: the engine service's learned detector when it is configured and reachable,
// otherwise the statistical detectors run right here (src/detect), with the output saying which ran and why.
import {
  DEFAULT_FINDINGS_OPTIONS,
  ensureDetectorDevice,
  findingSourceOf,
  writePatientFindings,
  type PatientFindingsSummary,
} from '../../src/detect/findings/findingsWriter';
import type { BotWorld } from './botWorld';
import { callEngineOperation } from './engineService';

export type DetectionReport =
  | { readonly mode: 'engine-service'; readonly attempts: number }
  | {
      readonly mode: 'statistical';
      /** Why the learned detector did not run: no service configured, or the service could not be reached. */
      readonly degraded: string;
      readonly detector: string;
      readonly summary: PatientFindingsSummary;
    };

/**
 * Bot secrets read: ENGINE_URL (FHIR base of the engine service; `POST Patient/{id}/$twin-findings` runs every
 * detector including the learned one and writes the findings), ENGINE_TOKEN, ENGINE_TIMEOUT_MS, ENGINE_ATTEMPTS,
 * REVIEW_OWNER (who reviews findings above the threshold).
 */
export async function detectForPatient(patientId: string, world: BotWorld): Promise<DetectionReport> {
  const engineUrl = world.secret('ENGINE_URL');
  let degraded = 'no engine service configured (bot secret ENGINE_URL): the learned detector did not run';
  if (engineUrl) {
    const call = await callEngineOperation(`Patient/${encodeURIComponent(patientId)}/$twin-findings`, {
      baseUrl: engineUrl,
      token: world.secret('ENGINE_TOKEN'),
      timeoutMs: Number(world.secret('ENGINE_TIMEOUT_MS') ?? 10_000),
      attempts: Number(world.secret('ENGINE_ATTEMPTS') ?? 3),
    });
    if (call.ok) {
      return { mode: 'engine-service', attempts: call.attempts };
    }
    degraded = `${call.reason}: the learned detector did not run`;
  }
  const owner = world.secret('REVIEW_OWNER');
  const options = { ...DEFAULT_FINDINGS_OPTIONS, ...(owner ? { taskOwner: owner } : {}) };
  const deps = { client: world.client, today: world.today };
  const device = await ensureDetectorDevice(deps, findingSourceOf(options));
  const summary = await writePatientFindings(patientId, device, deps, options);
  return { mode: 'statistical', degraded, detector: options.detector, summary };
}
