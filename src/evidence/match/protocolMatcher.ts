import type { PlanDefinition } from '@medplum/fhirtypes';
import type { ProtocolLibrary } from '../../protocols/protocolLibrary';
import type { ExtractedConcept } from '../notes/conceptExtractor';
import { createHybridRetriever, type DenseEncoder, type Retriever } from '../retrieval/hybridRetriever';
import type { PatientSituation, SituationInput } from './patientSituation';

/** Project CodeSystem of the library's indications (PlanDefinition.topic codes = protocol ids). */
export const PROTOCOL_INDICATION_SYSTEM = 'https://recovery-twin.dev/fhir/CodeSystem/recovery-protocol-indication';

export interface ProtocolMatch {
  readonly planDefinition: PlanDefinition;
  /** Ranking value (concept support, then agreeing findings and goals, then lexical rank); never shown to a clinician. */
  readonly score: number;
  readonly conceptSupport: number;
  readonly lexicalScore: number;
  /** The record entries whose concepts point to this protocol's indication (Conditions, Procedures, notes). */
  readonly supportedBy: readonly string[];
  /** Twin findings and goals that agree with it: they raise its rank, they never choose it. */
  readonly agreeing: readonly string[];
  /** A twin finding still open (its episode not closed) agrees: the review is more pressing. */
  readonly openFindingAgrees: boolean;
  /** Why, in words a clinician reads in the proposal (what the record says, no scores, no note text). */
  readonly rationale: string;
}

/** An active Condition for which the library holds no protocol: said plainly, never covered by another protocol. */
export interface UnmatchedCondition {
  readonly reference: string;
  /** The Condition as the record names it ("Closed fracture of clavicle"). */
  readonly label: string;
  /** An injury, procedure or recovery problem the concept reader recognises (a care-team Task is raised for these). */
  readonly recoveryRelated: boolean;
  /** "No protocol for closed fracture of clavicle in the library." */
  readonly statement: string;
}

export interface MatchResult {
  /** Protocols supported by a current Condition, Procedure or affirmed note concept, best first; empty = "no match". */
  readonly matches: readonly ProtocolMatch[];
  /** Protocols the words alone suggested, without any supporting concept: shown, never proposed. */
  readonly lexicalOnly: readonly { id: string; lexicalScore: number }[];
  /** Contraindications or red flags affirmed in the notes (displays), stated in every proposal. */
  readonly cautions: readonly string[];
  /** Active Conditions no protocol of the library covers. */
  readonly unmatchedConditions: readonly UnmatchedCondition[];
  /** When there is no match: why, in a sentence. */
  readonly noMatchReason?: string;
}

/** Weight of one supporting input by where it comes from: a coded diagnosis or procedure counts more than a note. */
const SOURCE_WEIGHT = { condition: 1, procedure: 1, note: 0.6 } as const;

/** What an agreeing finding or goal adds to the rank of an already supported protocol. */
const AGREEING_WEIGHT = { finding: 0.15, goal: 0.05 } as const;

/** A finding counts while its episode is open or began within this many days; an old closed alarm says nothing now. */
const FINDING_RECENT_DAYS = 14;

/** A procedure older than this is history, not the current episode (the library's longest phase plan is ~9 months). */
const PROCEDURE_CURRENT_DAYS = 365;

/**
 * Finding outcomes (src/detect/findings/episodeExplanation.ts) that agree with a protocol. A recovery plateau points to
 * none: it calls for a review of the current plan, not a new one.
 */
const FINDING_INDICATIONS: readonly { readonly pattern: RegExp; readonly indication: string }[] = [
  { pattern: /infection|illness/i, indication: 'return-to-exercise-after-viral-illness' },
  { pattern: /overreach|insufficient recovery|under-recovery/i, indication: 'overreaching-under-recovery' },
];

export class ProtocolMatcher {
  private constructor(
    private readonly library: ProtocolLibrary,
    private readonly retriever: Retriever
  ) {}

  /** Indexes the library once (title and indications weigh more than description and purpose). */
  static async create(library: ProtocolLibrary, encoder?: DenseEncoder): Promise<ProtocolMatcher> {
    const documents = library.planDefinitions.map((p) => ({
      id: p.id ?? '',
      title: [p.title, ...(p.topic ?? []).map((t) => t.text)].filter(Boolean).join('. '),
      text: [p.description, p.purpose, ...(p.goal ?? []).map((g) => g.description?.text)].filter(Boolean).join('\n'),
    }));
    return new ProtocolMatcher(library, await createHybridRetriever(documents, encoder));
  }

  get retrieverDescription(): string {
    return this.retriever.description;
  }

  /**
   * Ranks the library for a patient. Only a current Condition, a current Procedure or an affirmed concept of a note
   * can make a protocol a candidate; twin findings (recent or open) and goals only raise the rank of a candidate that
   * the record already supports, so an alarm can never choose a protocol alone.
   */
  async match(situation: PatientSituation): Promise<MatchResult> {
    const asOf = situation.asOf ? Date.parse(situation.asOf) : undefined;
    const support = new Map<string, { weight: number; inputs: Map<string, string> }>();
    const add = (indication: string, weight: number, input: SituationInput, words: string): void => {
      const s = support.get(indication) ?? { weight: 0, inputs: new Map<string, string>() };
      if (!s.inputs.has(input.reference)) {
        s.weight += weight;
        s.inputs.set(input.reference, words);
      }
      support.set(indication, s);
    };
    const currentProcedures = situation.procedures.filter(
      (p) => !(asOf !== undefined && p.date && asOf - Date.parse(p.date) > PROCEDURE_CURRENT_DAYS * 86_400_000)
    );
    const sources: [keyof typeof SOURCE_WEIGHT, readonly SituationInput[]][] = [
      ['condition', situation.conditions],
      ['procedure', currentProcedures],
      ['note', situation.notes],
    ];
    for (const [source, inputs] of sources) {
      for (const input of inputs) {
        for (const c of affirmed(input.concepts)) {
          for (const indication of c.indications) {
            add(indication, SOURCE_WEIGHT[source], input, describeInput(source, input, c.display));
          }
        }
      }
    }

    const agreeing = new Map<string, { weight: number; words: Map<string, string> }>();
    const openAgreeing = new Set<string>();
    const agree = (indication: string, weight: number, reference: string, words: string): void => {
      if (!support.has(indication)) {
        return;
      }
      const a = agreeing.get(indication) ?? { weight: 0, words: new Map<string, string>() };
      if (!a.words.has(reference)) {
        a.weight += weight;
        a.words.set(reference, words);
      }
      agreeing.set(indication, a);
    };
    for (const finding of situation.findings.filter((f) => isRecentFinding(f, asOf))) {
      for (const { pattern, indication } of FINDING_INDICATIONS) {
        if (pattern.test(finding.text)) {
          agree(indication, AGREEING_WEIGHT.finding, finding.reference, `a recent twin finding (${finding.text})`);
          if (finding.open && support.has(indication)) {
            openAgreeing.add(indication);
          }
        }
      }
    }
    for (const goal of situation.goals) {
      for (const c of affirmed(goal.concepts)) {
        for (const indication of c.indications) {
          agree(indication, AGREEING_WEIGHT.goal, goal.reference, `the goal "${goal.text}"`);
        }
      }
    }

    const query = queryText(situation);
    const lexical = query ? await this.retriever.search(query, this.library.planDefinitions.length) : [];
    const lexMax = lexical[0]?.score ?? 0;
    const lexicalOf = new Map(lexical.map((h) => [h.id, lexMax > 0 ? h.score / lexMax : 0]));

    const matches: ProtocolMatch[] = [];
    const covered = new Set<string>();
    for (const planDefinition of this.library.planDefinitions) {
      const indication = indicationsOf(planDefinition).find((i) => support.has(i));
      const s = indication ? support.get(indication) : undefined;
      if (!s || !indication) {
        continue;
      }
      for (const reference of s.inputs.keys()) {
        covered.add(reference);
      }
      const a = agreeing.get(indication);
      const conceptSupport = Math.min(1, s.weight);
      const lexicalScore = lexicalOf.get(planDefinition.id ?? '') ?? 0;
      const supportWords = [...s.inputs.values()];
      const agreeWords = [...(a?.words.values() ?? [])];
      matches.push({
        planDefinition,
        score: 0.7 * conceptSupport + (a?.weight ?? 0) + 0.1 * lexicalScore,
        conceptSupport,
        lexicalScore,
        supportedBy: [...s.inputs.keys()].sort(),
        agreeing: [...(a?.words.keys() ?? [])].sort(),
        openFindingAgrees: openAgreeing.has(indication),
        rationale:
          `Supported by ${supportWords.join('; ')}.` +
          (agreeWords.length > 0 ? ` In agreement: ${agreeWords.join('; ')}.` : ''),
      });
    }
    matches.sort((x, y) => y.score - x.score || (x.planDefinition.id ?? '').localeCompare(y.planDefinition.id ?? ''));
    const proposed = new Set(matches.map((m) => m.planDefinition.id));
    const cautions = [
      ...new Set(
        situation.notes
          .flatMap((n) => affirmed(n.concepts))
          .filter((c) => c.kind === 'contraindication')
          .map((c) => c.display)
      ),
    ].sort();
    const unmatchedConditions = situation.conditions
      .filter((c) => !covered.has(c.reference))
      // A Condition whose own words say it is past, ruled out or uncertain ("History of ACL reconstruction") is not a
      // current problem to plan for.
      .filter((c) => c.concepts.length === 0 || affirmed(c.concepts).length > 0)
      .map((c): UnmatchedCondition => {
        const label = c.label ?? (c.text || 'an unnamed condition');
        return {
          reference: c.reference,
          label,
          recoveryRelated: affirmed(c.concepts).some((k) => k.kind === 'injury' || k.kind === 'procedure'),
          statement: `No protocol for ${lowerFirst(label)} in the library.`,
        };
      });
    const recoveryGaps = unmatchedConditions.filter((u) => u.recoveryRelated);
    return {
      matches,
      lexicalOnly: lexical
        .filter((h) => !proposed.has(h.id) && h.score > 0)
        .slice(0, 3)
        .map((h) => ({ id: h.id, lexicalScore: lexicalOf.get(h.id) ?? 0 })),
      cautions,
      unmatchedConditions,
      ...(matches.length === 0
        ? {
            noMatchReason:
              (recoveryGaps.length > 0 ? `${recoveryGaps.map((u) => u.statement).join(' ')} ` : '') +
              'No current condition, procedure or note of this patient points to a protocol of the library ' +
              '(negated, uncertain and past mentions do not count, and a twin finding alone never chooses one); ' +
              'no proposal is made.',
          }
        : {}),
    };
  }
}

/** The library's indication codes of a protocol (PlanDefinition.topic in the indication CodeSystem). */
function indicationsOf(planDefinition: PlanDefinition): string[] {
  return (planDefinition.topic ?? [])
    .flatMap((t) => t.coding ?? [])
    .filter((c) => c.system === PROTOCOL_INDICATION_SYSTEM)
    .map((c) => c.code ?? '')
    .filter(Boolean);
}

/** "the condition "Sprain of ankle" (since 2026-02-28)", "a clinical note of 2026-03-01 (Ankle sprain)". */
function describeInput(source: keyof typeof SOURCE_WEIGHT, input: SituationInput, concept: string): string {
  const day = input.date ? input.date.slice(0, 10) : undefined;
  switch (source) {
    case 'condition':
      return `the condition "${input.label ?? concept}"${day ? ` (since ${day})` : ''}`;
    case 'procedure':
      return `the procedure "${input.label ?? concept}"${day ? ` (${day})` : ''}`;
    case 'note':
      return `a clinical note${day ? ` of ${day}` : ''} (${lowerFirst(concept)})`;
  }
}

function isRecentFinding(finding: SituationInput, asOf: number | undefined): boolean {
  if (finding.open) {
    return true;
  }
  if (asOf === undefined || !finding.date) {
    return false;
  }
  return asOf - Date.parse(finding.date) <= FINDING_RECENT_DAYS * 86_400_000;
}

function lowerFirst(text: string): string {
  // Keep acronyms ("ACL", "COVID-19") as written.
  return /^[A-Z][a-z]/.test(text) ? text.charAt(0).toLowerCase() + text.slice(1) : text;
}

/** Mentions that state a current, certain fact: "no ACL tear", "? concussion" and "history of back pain" are out. */
function affirmed(concepts: readonly ExtractedConcept[]): ExtractedConcept[] {
  return concepts.filter((c) => !c.negated && !c.uncertain && !c.historical);
}

/** The words the lexical ranker sees: coded texts, affirmed note concepts, goals (no raw note text: it negates). */
function queryText(s: PatientSituation): string {
  return [
    ...s.conditions.map((c) => c.text),
    ...s.procedures.map((p) => p.text),
    ...s.notes.flatMap((n) => affirmed(n.concepts).map((c) => c.display)),
    ...s.goals.map((g) => g.text),
  ]
    .filter((t) => t.trim() !== '')
    .join('. ');
}
