// Medplum bot: a Condition or Procedure was recorded (Subscriptions on both). Matches the protocol library to the
// patient (src/evidence) and writes a care-plan proposal for clinician review (src/proposal): CarePlan draft/proposal,
// review Task, Provenance. The proposal writer is idempotent (conditional creates on deterministic identifiers; an
// existing proposal for the protocol is never proposed again), so a duplicated event writes nothing.
//
// Ranking here is lexical and concept-based: a sentence-embedding model cannot run in a bot runtime, and the output
// says so.
import type { BotEvent, MedplumClient } from '@medplum/core';
import type { Condition, Procedure } from '@medplum/fhirtypes';
import { ProtocolMatcher } from '../src/evidence/match/protocolMatcher';
import { loadProtocolLibrary, type ProtocolLibrary } from '../src/protocols/protocolLibrary';
import { proposeCarePlan } from '../src/proposal/proposalWriter';
import { botWorld } from './lib/botWorld';

export type ConditionBotResult =
  | { readonly status: 'ignored'; readonly reason: string }
  | {
      readonly status: 'no-match' | 'skipped-consent' | 'created' | 'progression-proposed' | 'exists' | 'in-force';
      readonly ranking: string;
      readonly carePlan?: string;
      readonly task?: string;
      readonly protocols?: readonly string[];
    };

let engine: { library: ProtocolLibrary; matcher: ProtocolMatcher } | undefined;

export async function handler(
  medplum: MedplumClient,
  event: BotEvent<Condition | Procedure>
): Promise<ConditionBotResult> {
  const input = event.input;
  if (input?.resourceType !== 'Condition' && input?.resourceType !== 'Procedure') {
    return { status: 'ignored', reason: 'not a Condition or Procedure' };
  }
  const subject = input.subject?.reference ?? '';
  if (!/^Patient\/[A-Za-z0-9.-]{1,64}$/.test(subject)) {
    return { status: 'ignored', reason: 'no Patient subject' };
  }
  if (
    input.resourceType === 'Condition' &&
    input.verificationStatus?.coding?.some((c) => c.code === 'entered-in-error')
  ) {
    return { status: 'ignored', reason: 'entered in error' };
  }
  if (input.resourceType === 'Procedure' && input.status === 'entered-in-error') {
    return { status: 'ignored', reason: 'entered in error' };
  }
  if (!engine) {
    const library = loadProtocolLibrary();
    engine = { library, matcher: await ProtocolMatcher.create(library) };
  }
  const world = botWorld(medplum, event);
  const owner = world.secret('REVIEW_OWNER');
  const outcome = await proposeCarePlan(
    subject.slice('Patient/'.length),
    { client: world.client, library: engine.library, matcher: engine.matcher, now: world.now },
    owner ? { owner } : {}
  );
  const ranking = 'lexical and concept matching (no sentence-embedding model in a bot runtime)';
  if (outcome.status === 'skipped-consent') {
    return { status: outcome.status, ranking };
  }
  return {
    status: outcome.status,
    ranking,
    protocols: outcome.match.matches.map((m) => m.planDefinition.id ?? ''),
    ...(outcome.status !== 'no-match'
      ? { carePlan: outcome.carePlan, ...(outcome.task ? { task: outcome.task } : {}) }
      : {}),
  };
}
