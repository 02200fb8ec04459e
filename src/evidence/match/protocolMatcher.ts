import type { PlanDefinition } from '@medplum/fhirtypes';
import type { ProtocolLibrary } from '../../protocols/protocolLibrary';
import type { ExtractedConcept } from '../notes/conceptExtractor';
import { createHybridRetriever, type DenseEncoder, type Retriever } from '../retrieval/hybridRetriever';
import type { PatientSituation, SituationInput } from './patientSituation';

/** Project CodeSystem of the library's indications (PlanDefinition.topic codes = protocol ids). */
export const PROTOCOL_INDICATION_SYSTEM = 'https://recovery-twin.dev/fhir/CodeSystem/recovery-protocol-indication';

export interface ProtocolMatch {
  readonly planDefinition: PlanDefinition;
  /** 0..1: 0.7 x concept support + 0.3 x lexical rank score (normalised to the best protocol of this patient). */
  readonly score: number;
  readonly conceptSupport: number;
  readonly lexicalScore: number;
  /** The inputs whose concepts point to this protocol's indication. */
  readonly supportedBy: readonly string[];
  /** Why, in words a clinician reads in the proposal (concept names, not note text). */
  readonly rationale: string;
}

export interface MatchResult {
  /** Protocols with concept support, best first; empty = "no match". */
  readonly matches: readonly ProtocolMatch[];
  /** Protocols the words alone suggested, without any supporting concept: shown, never proposed. */
  readonly lexicalOnly: readonly { id: string; lexicalScore: number }[];
  /** Contraindications or red flags affirmed in the notes (displays), stated in every proposal. */
  readonly cautions: readonly string[];
  /** When there is no match: why, in a sentence. */
  readonly noMatchReason?: string;
}

/** Weight of one supporting input by where it comes from: a coded diagnosis or procedure counts more than a note. */
const SOURCE_WEIGHT = { condition: 1, procedure: 1, note: 0.6, finding: 0.6, goal: 0.3 } as const;

/**
 * Finding outcomes (src/detect/findings/episodeExplanation.ts) that point to a protocol. A recovery plateau points to
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

  async match(situation: PatientSituation): Promise<MatchResult> {
    const support = new Map<string, { weight: number; inputs: Set<string>; concepts: Set<string> }>();
    const add = (indication: string, weight: number, input: string, concept: string): void => {
      const s = support.get(indication) ?? { weight: 0, inputs: new Set(), concepts: new Set() };
      if (!s.inputs.has(input)) {
        s.weight += weight;
      }
      s.inputs.add(input);
      s.concepts.add(concept);
      support.set(indication, s);
    };
    const sources: [keyof typeof SOURCE_WEIGHT, readonly SituationInput[]][] = [
      ['condition', situation.conditions],
      ['procedure', situation.procedures],
      ['note', situation.notes],
      ['goal', situation.goals],
    ];
    for (const [source, inputs] of sources) {
      for (const input of inputs) {
        for (const c of affirmed(input.concepts)) {
          for (const indication of c.indications) {
            add(indication, SOURCE_WEIGHT[source], input.reference, c.display);
          }
        }
      }
    }
    for (const finding of situation.findings.slice(0, 3)) {
      for (const { pattern, indication } of FINDING_INDICATIONS) {
        if (pattern.test(finding.text)) {
          add(indication, SOURCE_WEIGHT.finding, finding.reference, `twin finding: ${finding.text}`);
        }
      }
    }

    const query = queryText(situation);
    const lexical = query ? await this.retriever.search(query, this.library.planDefinitions.length) : [];
    const lexMax = lexical[0]?.score ?? 0;
    const lexicalOf = new Map(lexical.map((h) => [h.id, lexMax > 0 ? h.score / lexMax : 0]));

    const matches: ProtocolMatch[] = [];
    for (const planDefinition of this.library.planDefinitions) {
      const indications = (planDefinition.topic ?? [])
        .flatMap((t) => t.coding ?? [])
        .filter((c) => c.system === PROTOCOL_INDICATION_SYSTEM)
        .map((c) => c.code);
      const s = indications.map((i) => (i ? support.get(i) : undefined)).find((x) => x !== undefined);
      if (!s) {
        continue;
      }
      const conceptSupport = Math.min(1, s.weight);
      const lexicalScore = lexicalOf.get(planDefinition.id ?? '') ?? 0;
      matches.push({
        planDefinition,
        score: 0.7 * conceptSupport + 0.3 * lexicalScore,
        conceptSupport,
        lexicalScore,
        supportedBy: [...s.inputs].sort(),
        rationale:
          `Indicated by ${[...s.concepts].sort().join(', ')} (${s.inputs.size} record${s.inputs.size > 1 ? 's' : ''}); ` +
          `text match ${lexicalScore.toFixed(2)} of the best protocol for this patient.`,
      });
    }
    matches.sort((a, b) => b.score - a.score || (a.planDefinition.id ?? '').localeCompare(b.planDefinition.id ?? ''));
    const proposed = new Set(matches.map((m) => m.planDefinition.id));
    const cautions = [
      ...new Set(
        situation.notes
          .flatMap((n) => affirmed(n.concepts))
          .filter((c) => c.kind === 'contraindication')
          .map((c) => c.display)
      ),
    ].sort();
    return {
      matches,
      lexicalOnly: lexical
        .filter((h) => !proposed.has(h.id) && h.score > 0)
        .slice(0, 3)
        .map((h) => ({ id: h.id, lexicalScore: lexicalOf.get(h.id) ?? 0 })),
      cautions,
      ...(matches.length === 0
        ? {
            noMatchReason:
              'No condition, procedure, note or finding of this patient points to a protocol of the library ' +
              '(negated, uncertain and past mentions do not count); no proposal is made.',
          }
        : {}),
    };
  }
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
