/**
 * String search matching is case- and accent-insensitive (FHIR R4 search.html#string), so index values and search
 * values are both folded the same way.
 */
export function normalizeString(value: string): string {
  return value
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
}

/**
 * Reduces a reference to the `Type/id` form used in the index: drops an absolute base URL and a `_history/vid`
 * suffix (FHIR R4 search.html#reference: a version-specific reference matches the resource). `urn:uuid:` and other
 * non-REST references are kept as they are.
 */
export function normalizeReference(reference: string): string {
  let ref = reference;
  const history = ref.indexOf('/_history/');
  if (history >= 0) {
    ref = ref.slice(0, history);
  }
  if (/^https?:\/\//.test(ref)) {
    const m = /([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})$/.exec(ref);
    if (m) {
      ref = m[1];
    }
  }
  return ref;
}
