import { grantScopes, isPatientLevelOnly, parseScopes, permits } from './smartScopes';

describe('SMART scopes (App Launch 2.x, with v1 compatibility)', () => {
  test('v2 permissions grant exactly their letters, per type and level', () => {
    const scopes = parseScopes('launch openid patient/Observation.rs patient/CarePlan.cru');
    expect(permits(scopes, 'Observation', 'r')).toBe(true);
    expect(permits(scopes, 'Observation', 's')).toBe(true);
    expect(permits(scopes, 'Observation', 'c')).toBe(false);
    expect(permits(scopes, 'CarePlan', 'u')).toBe(true);
    expect(permits(scopes, 'CarePlan', 'd')).toBe(false);
    expect(permits(scopes, 'Task', 'r')).toBe(false);
    expect(permits(scopes, 'Observation', 'r', ['user', 'system'])).toBe(false);
    expect(scopes.other).toEqual(['launch', 'openid']);
    expect(isPatientLevelOnly(scopes)).toBe(true);
  });

  test('v1 read/write/* map to rs, cud, cruds; wildcards cover every type', () => {
    const scopes = parseScopes('user/*.read system/Observation.write');
    expect(permits(scopes, 'Patient', 's')).toBe(true);
    expect(permits(scopes, 'Patient', 'c')).toBe(false);
    expect(permits(scopes, 'Observation', 'c')).toBe(true);
    expect(permits(scopes, 'Observation', 'r', ['system'])).toBe(false);
    expect(isPatientLevelOnly(scopes)).toBe(false);
  });

  test('malformed, out-of-order and granular (query) scopes grant nothing', () => {
    const scopes = parseScopes(
      'patient/Observation.sr patient/Observation.rs?category=vital-signs patient/observation.rs patient/Observation.'
    );
    expect(scopes.resources).toHaveLength(0);
    expect(permits(scopes, 'Observation', 'r')).toBe(false);
  });

  test('a grant never widens the request and keeps only what the client is allowed', () => {
    expect(grantScopes('launch patient/Observation.rs patient/Task.cruds openid', 'launch openid patient/*.rs')).toBe(
      'launch patient/Observation.rs patient/Task.rs openid'
    );
    expect(grantScopes('patient/CarePlan.rus user/Task.rs', 'patient/*.rs patient/CarePlan.u')).toBe(
      'patient/CarePlan.rus'
    );
    expect(grantScopes('system/*.cruds', 'system/*.rs')).toBe('system/*.rs');
    expect(grantScopes('system/Observation.c', 'system/*.rs')).toBe('');
    // v1 requests are granted in v2 syntax.
    expect(grantScopes('patient/Observation.read', 'patient/*.rs')).toBe('patient/Observation.rs');
  });
});
