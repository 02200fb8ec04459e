/** Whether the granted scopes allow `permission` on `type` (SMART v2 letters, v1 read/write), at patient or user level. */
export function scopeAllows(
  granted: string,
  type: string,
  permission: 'c' | 'r' | 'u' | 'd' | 's',
  levels = ['patient', 'user']
): boolean {
  return granted.split(' ').some((scope) => {
    const m = /^(patient|user|system)\/(\*|[A-Za-z]+)\.([a-z*]+)$/.exec(scope);
    if (!m || !levels.includes(m[1] ?? '') || (m[2] !== '*' && m[2] !== type)) {
      return false;
    }
    const letters = m[3] === 'read' ? 'rs' : m[3] === 'write' ? 'cud' : m[3] === '*' ? 'cruds' : (m[3] ?? '');
    return letters.includes(permission);
  });
}
