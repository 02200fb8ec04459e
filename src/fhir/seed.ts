import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Bundle } from '@medplum/fhirtypes';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './packageRoot';

/** Where `scripts/makeEmbeddedSeed.ts` writes the seed, relative to the package root. */
export const EMBEDDED_SEED_FILE = join('fixtures', 'seed', 'embedded-seed.json');

/**
 * The embedded server's placeholder cohort: one FHIR R4 transaction Bundle of synthetic Patients and daily heart-rate
 * Observations, every entry a conditional create, so posting it again changes nothing (FHIR R4 http.html#ccreate).
 * Read from the package root, not the cwd. Each call returns a fresh copy the caller may change.
 */
export function loadEmbeddedSeed(): Bundle {
  const file = join(packageRoot(), EMBEDDED_SEED_FILE);
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Bundle>;
  if (parsed.resourceType !== 'Bundle' || parsed.type !== 'transaction') {
    throw new OperationOutcomeError(badRequest(`${EMBEDDED_SEED_FILE} is not a transaction Bundle`));
  }
  return parsed as Bundle;
}
