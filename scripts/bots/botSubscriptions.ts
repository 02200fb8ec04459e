// The Subscriptions that trigger the Medplum bots, as one transaction Bundle (bots/subscriptions.json), generated
// from the metric catalogue so every Observation code the twin reads (LOINC and project codes alike) triggers
// on-observation. `npm run bots:subscriptions` regenerates it from the bot ids in bots/medplum.config.json.
//
// Each Subscription is a conditional update on a deployment tag (FHIR R4 http.html#cond-update): posting the Bundle
// again updates the same Subscriptions (a grown catalogue, a new bot id) and never duplicates one. The daily sweep
// needs no Subscription: the Bundle sets its Bot.cronString with a JSON Patch (FHIR R4 http.html#patch).
import type { Binary, Bundle, BundleEntry, Subscription } from '@medplum/fhirtypes';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { METRIC_NAMES, getMetric } from '../../src/fhir/metricCatalogue';
import { TWIN_CANONICAL_BASE, TWIN_PROFILE } from '../../src/fhir/codes/twinCodes';
import type { BotName } from './buildBots';

/** Medplum's Subscription extensions (medplum.com/docs/subscriptions/subscription-extensions). */
export const MEDPLUM_FHIRPATH_CRITERIA = 'https://medplum.com/fhir/StructureDefinition/fhir-path-criteria-expression';
export const MEDPLUM_SUPPORTED_INTERACTION =
  'https://medplum.com/fhir/StructureDefinition/subscription-supported-interaction';
/** The project's tag on what it deploys, so a redeploy finds its own Subscriptions. */
export const DEPLOYMENT_TAG_SYSTEM = `${TWIN_CANONICAL_BASE}/CodeSystem/twin-deployment`;

export interface BotSubscriptionSpec {
  readonly tag: string;
  readonly bot: BotName;
  readonly reason: string;
  readonly criteria: string;
  readonly interactions: readonly ('create' | 'update' | 'delete')[];
  /** Medplum FHIRPath criterion, evaluated with %previous and %current. */
  readonly fhirPath?: string;
}

/** Every code of every catalogue metric, `system|code`, comma-joined (OR) for a token search (FHIR R4 search.html#token). */
export function catalogueCodeCriterion(): string {
  const tokens = new Set<string>();
  for (const name of METRIC_NAMES) {
    for (const c of getMetric(name).codings) {
      tokens.add(`${c.system}|${c.code}`);
    }
  }
  return [...tokens].join(',');
}

export function botSubscriptionSpecs(): BotSubscriptionSpec[] {
  return [
    {
      tag: 'on-observation',
      bot: 'onObservation',
      reason: 'recovery-twin: keep the twin current and detect deviations as measurements arrive',
      criteria: `Observation?code=${catalogueCodeCriterion()}`,
      interactions: ['create', 'update'],
    },
    {
      tag: 'on-review-decision',
      bot: 'onReviewDecision',
      reason: "recovery-twin: carry a clinician's review decision through the review state machine",
      criteria: `Task?_profile=${TWIN_PROFILE.reviewTask}`,
      interactions: ['update'],
      // A search criterion cannot say "status changed"; Medplum's FHIRPath criterion can (medplum/medplum #1931).
      fhirPath: '%previous.status != %current.status',
    },
    {
      tag: 'on-new-condition',
      bot: 'onConditionOrProcedure',
      reason: 'recovery-twin: match recovery protocols when a condition is recorded',
      criteria: 'Condition',
      interactions: ['create', 'update'],
    },
    {
      tag: 'on-new-procedure',
      bot: 'onConditionOrProcedure',
      reason: 'recovery-twin: match recovery protocols when a procedure is recorded',
      criteria: 'Procedure',
      interactions: ['create', 'update'],
    },
  ];
}

export function subscriptionOf(spec: BotSubscriptionSpec, botId: string): Subscription {
  return {
    resourceType: 'Subscription',
    meta: { tag: [{ system: DEPLOYMENT_TAG_SYSTEM, code: spec.tag }] },
    status: 'active',
    reason: spec.reason,
    criteria: spec.criteria,
    channel: { type: 'rest-hook', endpoint: `Bot/${botId}` },
    extension: [
      ...spec.interactions.map((i) => ({ url: MEDPLUM_SUPPORTED_INTERACTION, valueCode: i })),
      ...(spec.fhirPath ? [{ url: MEDPLUM_FHIRPATH_CRITERIA, valueString: spec.fhirPath }] : []),
    ],
  };
}

/** The deployable Bundle: one conditional update per Subscription, one patch of the sweep bot's schedule. */
export function botSubscriptionBundle(botIds: Readonly<Record<BotName, string>>, sweepCron = '0 3 * * *'): Bundle {
  const entries: BundleEntry[] = botSubscriptionSpecs().map((spec) => ({
    resource: subscriptionOf(spec, botIds[spec.bot]),
    request: {
      method: 'PUT',
      url: `Subscription?_tag=${encodeURIComponent(`${DEPLOYMENT_TAG_SYSTEM}|${spec.tag}`)}`,
    },
  }));
  const patch: Binary = {
    resourceType: 'Binary',
    contentType: 'application/json-patch+json',
    data: Buffer.from(JSON.stringify([{ op: 'add', path: '/cronString', value: sweepCron }])).toString('base64'),
  };
  entries.push({ resource: patch, request: { method: 'PATCH', url: `Bot/${botIds.dailySweep}` } });
  return { resourceType: 'Bundle', type: 'transaction', entry: entries };
}

interface MedplumConfig {
  readonly bots: readonly { readonly name: string; readonly id: string }[];
}

/** Bot ids by name from a medplum.config.json (`medplum bot deploy` reads the same file). */
export function botIdsFromConfig(file: string): Record<BotName, string> {
  const config = JSON.parse(readFileSync(file, 'utf8')) as MedplumConfig;
  const ids = Object.fromEntries(config.bots.map((b) => [b.name, b.id]));
  const byBot = {
    onObservation: ids['recovery-twin-on-observation'],
    onReviewDecision: ids['recovery-twin-on-review-decision'],
    onConditionOrProcedure: ids['recovery-twin-on-condition-or-procedure'],
    dailySweep: ids['recovery-twin-daily-sweep'],
  };
  for (const [name, id] of Object.entries(byBot)) {
    if (!id) {
      throw new Error(`${file} has no id for bot ${name}`);
    }
  }
  return byBot;
}

if (require.main === module) {
  const root = resolve(__dirname, '..', '..');
  const config = process.argv[2] ?? join(root, 'bots', 'medplum.config.json');
  const out = process.argv[3] ?? join(root, 'bots', 'subscriptions.json');
  const cron = process.env.SWEEP_CRON ?? '0 3 * * *';
  writeFileSync(out, JSON.stringify(botSubscriptionBundle(botIdsFromConfig(config), cron), null, 2) + '\n');
  console.log(`wrote ${out}`);
}
