import { parseResourceScope, type Permission } from '../auth/smartScopes';

/** Non-clinical scopes a patient user keeps (SMART App Launch 2.x, "Scopes for requesting context data" and identity). */
const PATIENT_USER_CONTEXT_SCOPES: ReadonlySet<string> = new Set([
  'openid',
  'fhirUser',
  'launch/patient',
  'online_access',
  'offline_access',
]);

/** What a patient may do to their own record through this server: read and search, nothing else. */
const PATIENT_USER_PERMISSIONS: readonly Permission[] = ['r', 's'];

/**
 * Narrows a scope already granted to the client (`grantScopes`) to what a signed-in PATIENT may have: patient-level
 * clinical scopes only, read and search only (a patient reads their own twin; they do not decide on their own review
 * Tasks or edit the engine's CarePlans), and the identity/context scopes. user/ and system/ scopes are dropped: they
 * would reach other patients (SMART App Launch 2.x, "Patient-specific scopes" vs "User-level scopes").
 */
export function patientUserScopes(granted: string): string {
  const kept: string[] = [];
  for (const text of granted.split(' ').filter((s) => s.length > 0)) {
    const scope = parseResourceScope(text);
    if (!scope) {
      if (PATIENT_USER_CONTEXT_SCOPES.has(text) && !kept.includes(text)) {
        kept.push(text);
      }
      continue;
    }
    if (scope.level !== 'patient') {
      continue;
    }
    const letters = PATIENT_USER_PERMISSIONS.filter((p) => scope.permissions.has(p)).join('');
    const narrowed = `patient/${scope.resourceType}.${letters}`;
    if (letters.length > 0 && !kept.includes(narrowed)) {
      kept.push(narrowed);
    }
  }
  return kept.join(' ');
}
