import type { FhirRepository } from '@medplum/fhir-router';
import type { ResourceType } from '@medplum/fhirtypes';
import { stat } from 'node:fs/promises';
import type { LearnedDetectorStatus } from '../detect/lstm/learnedDetectorCheck';
import type { ReadinessCheck } from './health';

/** The embedded store answers a trivial read: a search for one resource of a type it serves (nothing is sent on). */
export function storeCheck(repo: FhirRepository, resourceType: ResourceType | undefined): ReadinessCheck {
  return {
    name: 'store',
    check: async () => {
      if (resourceType) {
        await repo.searchResources({ resourceType, count: 1 });
      }
      return { ok: true, status: 'answers' };
    },
  };
}

/**
 * A remote FHIR server answers its capabilities interaction (FHIR R4 http.html#capabilities: GET [base]/metadata,
 * public even on a SMART-protected server) with a CapabilityStatement within `timeoutMs`.
 */
export function remoteFhirCheck(baseUrl: string, timeoutMs: number, fetchFn: typeof fetch = fetch): ReadinessCheck {
  return {
    name: 'fhir',
    check: async () => {
      let res: Response;
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        res = await fetchFn(`${baseUrl.replace(/\/+$/, '')}/metadata`, {
          headers: { accept: 'application/fhir+json' },
          signal,
        });
      } catch {
        return { ok: false, status: signal.aborted ? `no answer in ${timeoutMs} ms` : 'unreachable' };
      }
      if (!res.ok) {
        await res.body?.cancel();
        return { ok: false, status: `metadata answered HTTP ${res.status}` };
      }
      const body = (await res.json().catch(() => undefined)) as { resourceType?: unknown } | undefined;
      return body?.resourceType === 'CapabilityStatement'
        ? { ok: true, status: 'answers' }
        : { ok: false, status: 'metadata is not a CapabilityStatement' };
    },
  };
}

/**
 * The learned detector as the start-up check found it (it refuses to start on a model that does not match its card):
 * installed and verified, or not installed, which is a supported set-up (the statistical detectors need no model).
 */
export function learnedDetectorCheck(status: LearnedDetectorStatus | undefined, dir?: string): ReadinessCheck {
  return {
    name: 'models',
    check: async () => {
      if (!status?.installed) {
        return { ok: true, status: 'statistical only (learned detector not installed)' };
      }
      // Loaded at start; a folder removed since then would make $twin-findings run without it.
      if (
        dir !== undefined &&
        !(await stat(dir).then(
          (s) => s.isDirectory(),
          () => false
        ))
      ) {
        return { ok: false, status: 'learned detector folder is gone since start' };
      }
      return { ok: true, status: `loaded (${status.card.name} ${status.card.version})` };
    },
  };
}
