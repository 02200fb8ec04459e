import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { BundleEntry, Device, Resource } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhirClient';
import { MODEL_SHA256_SYSTEM } from '../fhir/codes/twinCanonicals';
import { writeBack } from './writeBack';
import { upsert } from './writePlan';

/** A model Device on the server: its literal reference and version. */
export interface ModelDeviceRef {
  readonly reference: string;
  readonly version: string;
  /** The sha256 identifier (of the model file or of the configuration). */
  readonly sha256: string;
}

/**
 * Makes sure a model Device (profile model-device) is on the server, by conditional update on its sha256 identifier
 * (FHIR R4 http.html#cond-update), and returns its literal reference. Sends nothing when the server already holds an
 * equal Device, so a rerun writes nothing. Findings and proposals name the Device by this reference (their profiles
 * require a literal Device/{id}), which is why it is written before them and not in their transaction.
 */
export async function ensureModelDevice(
  client: FhirClient,
  device: Device,
  validate?: (resource: Resource) => void
): Promise<ModelDeviceRef> {
  const sha256 = device.identifier?.find((i) => i.system === MODEL_SHA256_SYSTEM)?.value ?? '';
  const version = device.version?.[0]?.value ?? '';
  const existing = await client.searchAll<Device>('Device', { identifier: `${MODEL_SHA256_SYSTEM}|${sha256}` });
  if (existing.length > 1) {
    throw new OperationOutcomeError(
      badRequest('More than one Device carries this model checksum', 'Device.identifier')
    );
  }
  validate?.(device);
  const written = await writeBack(client, {
    writes: [upsert(device, { system: MODEL_SHA256_SYSTEM, value: sha256 }, existing[0])],
  });
  const id = written.sent.length === 0 ? existing[0]?.id : idFromResponse(written.responses[0], 'Device');
  if (!id) {
    throw new OperationOutcomeError(badRequest('The server did not return the id of the model Device', 'Device'));
  }
  return { reference: `Device/${id}`, version, sha256 };
}

/** The logical id in a transaction-response entry: `response.location` (Type/id/_history/v) or the resource. */
export function idFromResponse(entry: BundleEntry | undefined, resourceType: string): string | undefined {
  const location = entry?.response?.location;
  const fromLocation = location
    ? new RegExp(`(?:^|/)${resourceType}/([A-Za-z0-9.-]{1,64})`).exec(location)?.[1]
    : undefined;
  return fromLocation ?? entry?.resource?.id;
}
