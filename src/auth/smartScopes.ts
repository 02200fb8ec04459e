/**
 * SMART App Launch 2.x scopes for clinical data (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):
 * `<patient|user|system>/<ResourceType|*>.<c?r?u?d?s?>` (v2, permissions in that order), and the v1 forms
 * `.read`, `.write` and `.*`, which servers SHOULD still accept (ibid., "Scopes for requesting clinical data",
 * "SMART 1.0 compatibility": read = rs, write = cud, * = cruds).
 *
 * A v2 scope may narrow itself with a query (`patient/Observation.rs?category=vital-signs`). This server does not
 * evaluate such filters, so a scope with a query grants NOTHING here: granting it whole would over-grant.
 */
export type ScopeLevel = 'patient' | 'user' | 'system';
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface ResourceScope {
  readonly level: ScopeLevel;
  /** A FHIR resource type, or '*' for every type. */
  readonly resourceType: string;
  readonly permissions: ReadonlySet<Permission>;
  /** The scope as written. */
  readonly text: string;
}

export interface ParsedScopes {
  /** Clinical-data scopes that grant something here. */
  readonly resources: readonly ResourceScope[];
  /** Every other scope as written: launch, launch/patient, openid, fhirUser, offline_access, granular (query) scopes. */
  readonly other: readonly string[];
}

const V2 = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]{1,63})\.(c?r?u?d?s?)$/;
const V1 = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]{1,63})\.(read|write|\*)$/;
const V1_PERMISSIONS: Readonly<Record<string, string>> = { read: 'rs', write: 'cud', '*': 'cruds' };

/** Parses one scope; undefined when it is not a clinical-data scope this server honours. */
export function parseResourceScope(text: string): ResourceScope | undefined {
  const v2 = V2.exec(text);
  const v1 = v2 ? undefined : V1.exec(text);
  const match = v2 ?? v1;
  if (!match) {
    return undefined;
  }
  const letters = v2 ? (match[3] ?? '') : (V1_PERMISSIONS[match[3] ?? ''] ?? '');
  if (letters.length === 0) {
    return undefined;
  }
  return {
    level: match[1] as ScopeLevel,
    resourceType: match[2] ?? '',
    permissions: new Set(letters.split('') as Permission[]),
    text,
  };
}

/** Parses a space-separated scope string (RFC 6749 §3.3). */
export function parseScopes(scope: string | undefined): ParsedScopes {
  const resources: ResourceScope[] = [];
  const other: string[] = [];
  for (const text of (scope ?? '').split(' ').filter((s) => s.length > 0)) {
    const parsed = parseResourceScope(text);
    if (parsed) {
      resources.push(parsed);
    } else {
      other.push(text);
    }
  }
  return { resources, other };
}

/** True when some scope grants `permission` on `resourceType` (at any of `levels`, all levels by default). */
export function permits(
  scopes: ParsedScopes,
  resourceType: string,
  permission: Permission,
  levels: readonly ScopeLevel[] = ['patient', 'user', 'system']
): boolean {
  return scopes.resources.some(
    (s) =>
      levels.includes(s.level) &&
      (s.resourceType === '*' || s.resourceType === resourceType) &&
      s.permissions.has(permission)
  );
}

/**
 * True when the token is confined to one patient: it grants patient-level scopes and no user- or system-level
 * clinical scope. A token mixing both is treated as user-level only where a user scope grants the interaction.
 */
export function isPatientLevelOnly(scopes: ParsedScopes): boolean {
  return scopes.resources.length > 0 && scopes.resources.every((s) => s.level === 'patient');
}

const ORDER: readonly Permission[] = ['c', 'r', 'u', 'd', 's'];

/**
 * What of `requested` the client may have under `allowed`: each requested clinical scope narrowed to the permissions
 * that allowed scopes of the same level and type (or `*`) cover, written in v2 syntax (`patient/CarePlan.rsu` with
 * `patient/*.rs` allowed becomes `patient/CarePlan.rs`); dropped when nothing is left. Other scopes (launch, openid,
 * ...) are kept when allowed verbatim. The grant never widens the request (SMART App Launch: a server MAY grant fewer
 * scopes than requested, and says which in the token response's `scope`).
 */
export function grantScopes(requested: string, allowed: string): string {
  const allowedParsed = parseScopes(allowed);
  const kept: string[] = [];
  for (const text of requested.split(' ').filter((s) => s.length > 0)) {
    const scope = parseResourceScope(text);
    if (!scope) {
      if (allowedParsed.other.includes(text) && !kept.includes(text)) {
        kept.push(text);
      }
      continue;
    }
    const covering = allowedParsed.resources.filter(
      (a) => a.level === scope.level && (a.resourceType === '*' || a.resourceType === scope.resourceType)
    );
    const letters = ORDER.filter((p) => scope.permissions.has(p) && covering.some((a) => a.permissions.has(p))).join(
      ''
    );
    if (letters.length === 0) {
      continue;
    }
    const granted = `${scope.level}/${scope.resourceType}.${letters}`;
    if (!kept.includes(granted)) {
      kept.push(granted);
    }
  }
  return kept.join(' ');
}
