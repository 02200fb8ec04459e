/**
 * The search `identifier=system|value` (FHIR R4 search.html#token), URL-encoded, that every conditional write of the
 * engine uses (conditional update, create and delete: http.html#cond-update, #ccreate, #cdelete).
 */
export function identifierSearch(system: string, value: string): string {
  return `identifier=${encodeURIComponent(`${system}|${value}`)}`;
}
