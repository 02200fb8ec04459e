import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { BundleEntry, Device, Resource } from '@medplum/fhirtypes';
import { canonicalJson } from '../fhir/canonicalJson';
import type { FhirClient } from '../fhir/fhirClient';
import { MODEL_SHA256_SYSTEM } from '../fhir/codes/twinCanonicals';

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
  const query = `${MODEL_SHA256_SYSTEM}|${sha256}`;
  const existing = await client.searchAll<Device>('Device', { identifier: query });
  if (existing.length > 1) {
    throw new OperationOutcomeError(
      badRequest('More than one Device carries this model checksum', 'Device.identifier')
    );
  }
  if (existing[0]?.id && contentOf(existing[0]) === contentOf(device)) {
    return { reference: `Device/${existing[0].id}`, version, sha256 };
  }
  validate?.(device);
  const response = await client.transaction({
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [{ resource: device, request: { method: 'PUT', url: `Device?identifier=${encodeURIComponent(query)}` } }],
  });
  const id = idFromResponse(response.entry?.[0], 'Device');
  if (!id) {
    throw new OperationOutcomeError(badRequest('The server did not return the id of the model Device', 'Device'));
  }
  return { reference: `Device/${id}`, version, sha256 };
}

/** Content as the engine builds it: without the server-assigned id and meta (versionId, lastUpdated). */
export function contentOf(resource: Resource): string {
  const { id: _id, meta, ...rest } = resource;
  return canonicalJson({
    ...rest,
    meta: meta?.profile || meta?.security ? { profile: meta.profile, security: meta.security } : undefined,
  });
}

/** The logical id in a transaction-response entry: `response.location` (Type/id/_history/v) or the resource. */
export function idFromResponse(entry: BundleEntry | undefined, resourceType: string): string | undefined {
  const location = entry?.response?.location;
  const fromLocation = location
    ? new RegExp(`(?:^|/)${resourceType}/([A-Za-z0-9.-]{1,64})`).exec(location)?.[1]
    : undefined;
  return fromLocation ?? entry?.resource?.id;
}
