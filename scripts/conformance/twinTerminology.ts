import type { CodeSystem, Coding, ValueSet, ValueSetComposeInclude } from '@medplum/fhirtypes';
import type { MetricDefinition } from '../../src/fhir/metricCatalogue';
import { METRIC_NAMES, METRICS, RECOVERY_METRIC_SYSTEM, recognisedCodings } from '../../src/fhir/metricCatalogue';
import {
  METRIC_DEVIATION_SYSTEM,
  TWIN_CONCEPT_SYSTEM,
  TWIN_CONCEPTS,
  TWIN_VALUE_SET,
  TWIN_CANONICAL_BASE,
} from '../../src/fhir/codes/twinCanonicals';

/** Version of every conformance resource the project publishes (profiles, terminology, operations). */
export const CONFORMANCE_VERSION = '0.1.0';
export const PUBLISHER = 'recovery-twin';

/** The catalogue's metrics in catalogue order (src/fhir/metricCatalogue.ts), read at build time so nothing drifts. */
export function catalogueMetrics(): MetricDefinition[] {
  return METRIC_NAMES.map((name) => METRICS[name]);
}

/** The primary Coding of each metric: the one the engine matches on (findMetricByConcept). */
export function primaryMetricCodings(): Coding[] {
  return catalogueMetrics().map((m) => {
    const primary = m.codings[0];
    if (!primary?.system || !primary.code) {
      throw new Error(`metric ${m.name} has no primary coding`);
    }
    return primary;
  });
}

/** CodeSystem twin-concept: every code of docs/twin-data-contract.md (FHIR R4 codesystem.html). */
export function twinConceptCodeSystem(): CodeSystem {
  return {
    resourceType: 'CodeSystem',
    id: 'twin-concept',
    url: TWIN_CONCEPT_SYSTEM,
    version: CONFORMANCE_VERSION,
    name: 'TwinConcept',
    title: 'Recovery twin concepts',
    status: 'active',
    experimental: false,
    publisher: PUBLISHER,
    description:
      "Concepts of the recovery twin's own resources: the categories and codes of baseline and daily recovery-state " +
      'Observations, their components, the baseline method, and the type of a model Device.',
    caseSensitive: true,
    content: 'complete',
    count: TWIN_CONCEPTS.length,
    concept: TWIN_CONCEPTS.map((c) => ({ code: c.code, display: c.display, definition: c.definition })),
  };
}

/**
 * CodeSystem recovery-metric: the project codes of metricCatalogue.ts (metrics without a verified LOINC code), read
 * from METRICS. A coding whose display differs between metrics would be a catalogue error, so it throws.
 */
export function recoveryMetricCodeSystem(): CodeSystem {
  const concepts = new Map<string, { code: string; display: string; definition: string }>();
  for (const metric of catalogueMetrics()) {
    for (const coding of metric.codings) {
      if (coding.system !== RECOVERY_METRIC_SYSTEM || !coding.code) {
        continue;
      }
      const existing = concepts.get(coding.code);
      if (existing && existing.display !== coding.display) {
        throw new Error(`recovery-metric code ${coding.code} has two displays`);
      }
      concepts.set(coding.code, {
        code: coding.code,
        display: coding.display ?? metric.display,
        definition: `${metric.display}. Recorded in the UCUM unit ${metric.unit}.`,
      });
    }
  }
  return {
    resourceType: 'CodeSystem',
    id: 'recovery-metric',
    url: RECOVERY_METRIC_SYSTEM,
    version: CONFORMANCE_VERSION,
    name: 'RecoveryMetric',
    title: 'Recovery twin metrics',
    status: 'active',
    experimental: false,
    publisher: PUBLISHER,
    description:
      'Metrics the recovery twin understands that have no LOINC code verified against a citable source (see ' +
      'src/fhir/metricCatalogue.ts). Generated from the metric catalogue.',
    caseSensitive: true,
    content: 'complete',
    count: concepts.size,
    concept: [...concepts.values()],
  };
}

/**
 * CodeSystem metric-deviation: one code per catalogue metric (its stable name) for the per-metric deviation
 * components of a daily recovery state. A deviation is not the measurement, so it does not carry the measurement's
 * code (a search for the measurement must not return the state).
 */
export function metricDeviationCodeSystem(): CodeSystem {
  return {
    resourceType: 'CodeSystem',
    id: 'metric-deviation',
    url: METRIC_DEVIATION_SYSTEM,
    version: CONFORMANCE_VERSION,
    name: 'MetricDeviation',
    title: 'Recovery twin per-metric deviations',
    status: 'active',
    experimental: false,
    publisher: PUBLISHER,
    description:
      "Codes of the per-metric components of a twin daily recovery state: the signed deviation of the day's value of " +
      "one metric from the patient's personal baseline, in robust SD units. Generated from the metric catalogue.",
    caseSensitive: true,
    content: 'complete',
    count: METRIC_NAMES.length,
    concept: catalogueMetrics().map((m) => ({
      code: m.name,
      display: `${m.display}: deviation from personal baseline`,
      definition: `(value - personal baseline centre) / personal baseline spread for ${m.display}; dimensionless.`,
    })),
  };
}

/** ValueSet of the two twin Observation categories. */
export function twinCategoryValueSet(): ValueSet {
  return twinValueSet(
    'twin-category',
    'TwinCategory',
    'Recovery twin Observation categories',
    'Categories of the Observations the twin writes: a personal baseline, or a daily recovery state.',
    ['twin-baseline', 'twin-recovery-state']
  );
}

/** ValueSet of the components of a baseline Observation. */
export function twinBaselineComponentValueSet(): ValueSet {
  return twinValueSet(
    'twin-baseline-component',
    'TwinBaselineComponent',
    'Recovery twin baseline components',
    'Codes of the components of a twin baseline Observation: the metric described, spread, sample count, window ' +
      'length and prior weight.',
    ['baseline-metric', 'baseline-spread', 'baseline-sample-count', 'baseline-window-days', 'baseline-prior-weight']
  );
}

/**
 * ValueSet of the metric codes the twin keeps baselines and deviations for: the primary coding of every catalogue
 * metric (LOINC or recovery-metric), enumerated so the set is exactly the catalogue.
 */
export function twinMetricValueSet(): ValueSet {
  const bySystem = new Map<string, ValueSetComposeInclude>();
  for (const metric of catalogueMetrics()) {
    for (const coding of recognisedCodings(metric)) {
      const system = coding.system ?? '';
      let include = bySystem.get(system);
      if (!include) {
        include = { system, concept: [] };
        bySystem.set(system, include);
      }
      if (!include.concept?.some((c) => c.code === coding.code)) {
        include.concept?.push({ code: coding.code ?? '', display: coding.display });
      }
    }
  }
  return {
    resourceType: 'ValueSet',
    id: 'twin-metric',
    url: TWIN_VALUE_SET.metric,
    version: CONFORMANCE_VERSION,
    name: 'TwinMetric',
    title: 'Recovery twin metrics (all codings)',
    status: 'active',
    experimental: false,
    publisher: PUBLISHER,
    description:
      'Every coding of the metrics in the recovery twin metric catalogue (src/fhir/metricCatalogue.ts), written or ' +
      'recognised: the value of the baseline-metric component of a baseline Observation. Generated from the catalogue.',
    compose: { include: [...bySystem.values()] },
  };
}

function twinValueSet(id: string, name: string, title: string, description: string, codes: string[]): ValueSet {
  return {
    resourceType: 'ValueSet',
    id,
    url: `${TWIN_CANONICAL_BASE}/ValueSet/${id}`,
    version: CONFORMANCE_VERSION,
    name,
    title,
    status: 'active',
    experimental: false,
    publisher: PUBLISHER,
    description,
    compose: {
      include: [
        {
          system: TWIN_CONCEPT_SYSTEM,
          concept: codes.map((code) => {
            const concept = TWIN_CONCEPTS.find((c) => c.code === code);
            if (!concept) {
              throw new Error(`twin-concept has no code ${code}`);
            }
            return { code, display: concept.display };
          }),
        },
      ],
    },
  };
}
