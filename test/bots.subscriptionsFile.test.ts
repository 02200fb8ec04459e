/**
 * bots/subscriptions.json is what hospital IT posts to Medplum (README, "On Medplum: the bots", step 5) and what
 * test/bots.bundled.test.ts evaluates: it must be what `npm run bots:subscriptions` generates from
 * bots/medplum.config.json today, so a metric added to the catalogue also triggers the on-observation bot.
 */
import type { Bundle } from '@medplum/fhirtypes';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { botIdsFromConfig, botSubscriptionBundle } from '../scripts/bots/botSubscriptions';

const ROOT = join(__dirname, '..');

test('the committed bots/subscriptions.json is the generated one (run npm run bots:subscriptions after a catalogue change)', () => {
  const committed = JSON.parse(readFileSync(join(ROOT, 'bots', 'subscriptions.json'), 'utf8')) as Bundle;
  const generated = botSubscriptionBundle(botIdsFromConfig(join(ROOT, 'bots', 'medplum.config.json')));
  expect(committed).toEqual(generated);
});
