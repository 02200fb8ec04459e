import type { Resource } from '@medplum/fhirtypes';
import {
  matchEvidenceOperation,
  reviewOperation,
  simulateOperation,
  twinFindingsOperation,
  twinRefreshOperation,
} from './twinOperations';
import { twinProfiles } from './twinProfiles';
import {
  metricDeviationCodeSystem,
  recoveryMetricCodeSystem,
  twinBaselineComponentValueSet,
  twinCategoryValueSet,
  twinConceptCodeSystem,
  twinMetricValueSet,
} from './twinTerminology';

/** One generated conformance resource and the file it lives in under fhir-profiles/. */
export interface ConformanceFile {
  /** `<ResourceType>-<id>.json`, the IG publisher's naming. */
  readonly fileName: string;
  readonly resource: Resource;
}

/**
 * Every conformance resource the project publishes in fhir-profiles/, generated from code (scripts/buildProfiles.ts
 * writes them; test/profiles.test.ts checks the committed files equal this output).
 *
 * No SearchParameter: every search the twin needs is a base R4 parameter (Observation identifier/category/code/
 * subject/date, RiskAssessment subject/performer, CarePlan subject/status/intent/instantiates-canonical, Task
 * focus/patient/owner/status, Device identifier/type/device-name).
 */
export function conformanceFiles(): ConformanceFile[] {
  const resources: Resource[] = [
    ...twinProfiles(),
    twinConceptCodeSystem(),
    recoveryMetricCodeSystem(),
    metricDeviationCodeSystem(),
    twinCategoryValueSet(),
    twinBaselineComponentValueSet(),
    twinMetricValueSet(),
    twinRefreshOperation(),
    twinFindingsOperation(),
    matchEvidenceOperation(),
    reviewOperation(),
    simulateOperation(),
  ];
  return resources.map((resource) => ({ fileName: `${resource.resourceType}-${resource.id ?? ''}.json`, resource }));
}

const PRINT_WIDTH = 120; // .prettierrc

/**
 * The file contents, formatted as prettier formats JSON with the repository's config (objects expanded, an array of
 * scalars on one line when it fits in printWidth), so `npm run lint` (prettier --check) accepts the generated files.
 * Written out here because prettier's API is asynchronous ESM, which jest cannot load without experimental flags.
 */
export function serializeConformanceResource(resource: Resource): string {
  return `${formatJson(resource, 0, '', true)}\n`;
}

function formatJson(value: unknown, indent: number, prefix: string, last: boolean): string {
  const pad = ' '.repeat(indent);
  const comma = last ? '' : ',';
  if (Array.isArray(value)) {
    if (value.length === 0) {
      return `${pad}${prefix}[]${comma}`;
    }
    if (value.every((v) => v === null || typeof v !== 'object')) {
      const line = `${pad}${prefix}[${value.map((v) => JSON.stringify(v)).join(', ')}]${comma}`;
      if (line.length <= PRINT_WIDTH) {
        return line;
      }
    }
    const items = value.map((v, i) => formatJson(v, indent + 2, '', i === value.length - 1));
    return [`${pad}${prefix}[`, ...items, `${pad}]${comma}`].join('\n');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) {
      return `${pad}${prefix}{}${comma}`;
    }
    const items = entries.map(([k, v], i) =>
      formatJson(v, indent + 2, `${JSON.stringify(k)}: `, i === entries.length - 1)
    );
    return [`${pad}${prefix}{`, ...items, `${pad}}${comma}`].join('\n');
  }
  return `${pad}${prefix}${JSON.stringify(value)}${comma}`;
}
