import type { ImportIssue } from './importRecord';

/** What an import did, for the user: counts, and the skipped rows grouped by reason with their locations. */
export interface ImportSummary {
  readonly format: string;
  readonly imported: number;
  readonly skipped: number;
  readonly byReason: readonly {
    readonly reason: string;
    readonly count: number;
    readonly examples: readonly string[];
  }[];
  readonly notImported: readonly string[];
  /** True when --on-error fail refused the whole import because of issues. */
  readonly rejected: boolean;
}

const EXAMPLES = 5;

export function summariseImport(
  format: string,
  imported: number,
  issues: readonly ImportIssue[],
  notImported: readonly string[],
  rejected: boolean
): ImportSummary {
  const groups = new Map<string, string[]>();
  for (const issue of issues) {
    // Group on the reason without the numbers in it, so "value 250 out of range" and "value 260 ..." count together.
    const reason = issue.reason.replace(/-?\d+(\.\d+)?/g, 'N');
    const list = groups.get(reason) ?? [];
    list.push(`${issue.file} ${issue.location}: ${issue.reason}`);
    groups.set(reason, list);
  }
  const byReason = [...groups.entries()]
    .map(([reason, list]) => ({ reason, count: list.length, examples: list.slice(0, EXAMPLES) }))
    .sort((a, b) => b.count - a.count);
  return { format, imported: rejected ? 0 : imported, skipped: issues.length, byReason, notImported, rejected };
}

/** Plain-text rendering for stderr. Contains locations and reasons, never values beyond the reason text. */
export function formatImportSummary(summary: ImportSummary): string {
  const lines = [
    summary.rejected
      ? `import ${summary.format}: REJECTED (--on-error fail): ${summary.skipped} problem(s), nothing imported`
      : `import ${summary.format}: ${summary.imported} observation(s) imported, ${summary.skipped} skipped`,
  ];
  for (const group of summary.byReason) {
    lines.push(`  ${group.count} x ${group.reason}`);
    for (const example of group.examples) {
      lines.push(`      ${example}`);
    }
    if (group.count > group.examples.length) {
      lines.push(`      ... and ${group.count - group.examples.length} more`);
    }
  }
  for (const note of summary.notImported) {
    lines.push(`  not imported: ${note}`);
  }
  return lines.join('\n');
}
