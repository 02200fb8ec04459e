// Runs the BUNDLED bots (scripts/bots/buildBots.ts output) the way Medplum does: a resource is written, every
// Subscription of bots/subscriptions.json is evaluated against it with @medplum/core's own criteria evaluation
// (search criteria, supported interactions, the %previous/%current FHIRPath criterion), and each matching bot's
// handler(medplum, event) is called once.
import { resourceMatchesSubscriptionCriteria, type BotEvent, type MedplumClient } from '@medplum/core';
import type { ProjectSetting, Resource, Subscription } from '@medplum/fhirtypes';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildBots, BOT_NAMES, type BotName } from '../../scripts/bots/buildBots';
import { botSubscriptionBundle } from '../../scripts/bots/botSubscriptions';
import { loadBaseDefinitions } from '../../src/fhir/definitions';

type Handler = (medplum: MedplumClient, event: BotEvent) => Promise<unknown>;

export interface BundledBots {
  readonly handlers: Readonly<Record<BotName, Handler>>;
  readonly subscriptions: readonly Subscription[];
  readonly bytes: Readonly<Record<BotName, number>>;
}

/** Builds the bundles inside the repository (so `require('@medplum/core')` resolves as in the bot layer) and loads them. */
export async function loadBundledBots(tag: string): Promise<BundledBots> {
  const outDir = resolve(__dirname, '..', '..', '.tmp', `bots-${tag}-${process.pid}`);
  mkdirSync(outDir, { recursive: true });
  const built = await buildBots(outDir);
  const handlers = {} as Record<BotName, Handler>;
  const bytes = {} as Record<BotName, number>;
  for (const b of built) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a bundle is CommonJS, loaded as Medplum loads it
    handlers[b.name] = (require(join(outDir, `${b.name}.js`)) as { handler: Handler }).handler;
    bytes[b.name] = b.bytes;
  }
  const ids = Object.fromEntries(BOT_NAMES.map((n) => [n, n])) as Record<BotName, string>;
  const subscriptions = (botSubscriptionBundle(ids).entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is Subscription => r?.resourceType === 'Subscription');
  return { handlers, subscriptions, bytes };
}

export interface Delivery {
  readonly bot: BotName;
  readonly result: unknown;
}

/**
 * Delivers one write to every bot whose Subscription matches it. `previous` is the version before an update (what
 * Medplum hands the FHIRPath criterion as %previous).
 */
export async function dispatch(
  bots: BundledBots,
  medplum: MedplumClient,
  resource: Resource,
  interaction: 'create' | 'update',
  options: { previous?: Resource; secrets?: Record<string, string>; requester?: string } = {}
): Promise<Delivery[]> {
  // The criteria are FHIR searches: their parameters come from the base definitions, as on a Medplum server.
  loadBaseDefinitions();
  const out: Delivery[] = [];
  for (const subscription of bots.subscriptions) {
    const matches = await resourceMatchesSubscriptionCriteria({
      resource,
      subscription,
      context: { interaction },
      getPreviousResource: async () => options.previous,
    });
    if (!matches) {
      continue;
    }
    const bot = (subscription.channel.endpoint ?? '').replace(/^Bot\//, '') as BotName;
    out.push({ bot, result: await bots.handlers[bot](medplum, botEvent(bot, resource, options)) });
  }
  return out;
}

export function botEvent(
  bot: BotName,
  input: unknown,
  options: { secrets?: Record<string, string>; requester?: string } = {}
): BotEvent {
  const secrets: Record<string, ProjectSetting> = {};
  for (const [name, valueString] of Object.entries(options.secrets ?? {})) {
    secrets[name] = { name, valueString };
  }
  return {
    bot: { reference: `Bot/${bot}` },
    contentType: 'application/fhir+json',
    input,
    secrets,
    ...(options.requester ? { requester: { reference: options.requester } } : {}),
  };
}
