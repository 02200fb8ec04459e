import type { Resource } from '@medplum/fhirtypes';
import { canonicalJson } from '../fhir/canonicalJson';

/**
 * The engine's one notion of "the same resource": the content it computes, without what the server assigns (id,
 * meta.versionId, meta.lastUpdated, meta.source), keeping the meta the engine itself sets (profile, security labels).
 * Two resources with equal contentOf need no write; a conditional update of equal content would only add a version.
 */
export function contentOf(resource: Resource): string {
  const { id: _id, meta, ...rest } = resource;
  return canonicalJson({
    ...rest,
    meta: meta?.profile || meta?.security ? { profile: meta.profile, security: meta.security } : undefined,
  });
}

export function sameContent(a: Resource, b: Resource): boolean {
  return contentOf(a) === contentOf(b);
}
