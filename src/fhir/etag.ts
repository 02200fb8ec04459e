/**
 * A version-specific ETag as FHIR R4 http.html#versioning writes it: `W/"<versionId>"` (or its strong form), the
 * versionId having the syntax of an id (datatypes.html#id). One value, not a list (http.html#concurrency).
 */
export const FHIR_ETAG = /^(?:W\/)?"[A-Za-z0-9\-.]{1,64}"$/;
