import { analyseTokens, type AnalysedToken } from '../retrieval/textAnalysis';
import { CONCEPT_LEXICON, type ConceptEntry, type ConceptKind } from './conceptLexicon';

/** A concept found in a note, with its context. */
export interface ExtractedConcept {
  readonly key: string;
  readonly kind: ConceptKind;
  readonly display: string;
  readonly indications: readonly string[];
  /** Index of the sentence it was found in (no text is kept: notes are health data). */
  readonly sentence: number;
  /** "no effusion", "denies chest pain", "ACL intact, no tear". */
  readonly negated: boolean;
  /** "rule out fracture", "possible concussion", "query DVT". */
  readonly uncertain: boolean;
  /** "history of back pain", "previous ACL reconstruction (2015)": not the current problem. */
  readonly historical: boolean;
}

/**
 * Context rules in the manner of NegEx (Chapman et al., J Biomed Inform 2001) and ConText (Harkema et al., J Biomed
 * Inform 2009): a trigger before a concept ("no", "denies", "rule out", "history of") applies forward to the end of
 * the sentence or to a terminating word ("but", "however"); a trigger after it ("... is ruled out", "... was
 * excluded") applies backward. Triggers are matched on lower-case surface words, concepts on lemmas.
 */
type Context = 'negated' | 'uncertain' | 'historical';

interface Trigger {
  readonly words: readonly string[];
  readonly context: Context;
  readonly direction: 'forward' | 'backward';
}

const TRIGGERS: readonly Trigger[] = [
  ...forward('negated', [
    'no',
    'not',
    'without',
    'denies',
    'denied',
    'deny',
    'negative for',
    'free of',
    'absence of',
    'no evidence of',
    'no signs of',
    'no sign of',
    'never had',
    'resolved',
  ]),
  ...backward('negated', ['absent', 'ruled out', 'excluded', 'resolved', 'negative', 'intact']),
  ...forward('uncertain', [
    'rule out',
    'r/o',
    'possible',
    'possibly',
    'suspected',
    'suspect',
    'query',
    '?',
    'probable',
    'may have',
    'cannot exclude',
    'concern for',
    'question of',
    'likely',
  ]),
  ...backward('uncertain', ['suspected', 'not excluded', 'to be ruled out', 'cannot be excluded', '?b']),
  ...forward('historical', ['history of', 'h/o', 'previous', 'previously', 'prior', 'past', 'old', 'in childhood']),
  ...backward('historical', ['years ago', 'in the past', 'as a child']),
];

/** Words that end a forward trigger's scope (ConText's "termination" terms). */
const TERMINATORS = new Set(['but', 'however', 'although', 'though', 'except', 'aside', 'yet', 'which', 'now']);

/** A trigger reaches at most this many words (NegEx's window is five; clinical lists run longer). */
const SCOPE_WORDS = 8;

function forward(context: Context, phrases: readonly string[]): Trigger[] {
  return phrases.map((p) => ({ words: p.split(' '), context, direction: 'forward' as const }));
}

function backward(context: Context, phrases: readonly string[]): Trigger[] {
  return phrases.map((p) => ({ words: p.split(' '), context, direction: 'backward' as const }));
}

interface CompiledConcept {
  readonly entry: ConceptEntry;
  readonly lemmas: readonly string[];
  /** Surface forms of the phrase: the tagger lemmatises by part of speech, so "Sprained" may keep its -ed. */
  readonly normals: readonly string[];
}

let compiled: CompiledConcept[] | undefined;

/** The lexicon's phrases as lemma sequences, longest first (so "ankle sprain" wins over "ankle"). */
function compiledLexicon(): CompiledConcept[] {
  compiled ??= CONCEPT_LEXICON.flatMap((entry) =>
    entry.phrases.map((phrase) => {
      const tokens = analyseTokens(phrase);
      return { entry, lemmas: tokens.map((t) => t.lemma), normals: tokens.map((t) => t.normal) };
    })
  )
    .filter((c) => c.lemmas.length > 0)
    .sort((a, b) => b.lemmas.length - a.lemmas.length);
  return compiled;
}

/** Concepts of a note's text, each once per sentence, in order. An empty or blank note gives none. */
export function extractConcepts(text: string): ExtractedConcept[] {
  if (text.trim() === '') {
    return [];
  }
  const tokens = analyseTokensWithQuestionMarks(text);
  const out: ExtractedConcept[] = [];
  for (const sentence of groupBySentence(tokens)) {
    const words = sentence.map((t) => t.normal);
    const taken = new Array<boolean>(sentence.length).fill(false);
    const triggers = findTriggers(words);
    const found: { entry: ConceptEntry; start: number; end: number }[] = [];
    for (const { entry, lemmas, normals } of compiledLexicon()) {
      for (let i = 0; i + lemmas.length <= sentence.length; i++) {
        if (taken.slice(i, i + lemmas.length).some(Boolean)) {
          continue;
        }
        const matches = lemmas.every((l, k) => {
          const token = sentence[i + k];
          return token?.lemma === l || token?.normal === normals[k] || token?.normal === l;
        });
        if (matches) {
          found.push({ entry, start: i, end: i + lemmas.length });
          taken.fill(true, i, i + lemmas.length);
        }
      }
    }
    found.sort((a, b) => a.start - b.start);
    // A trigger word inside a concept's own phrase is part of the concept, not a cue: "walking without crutches" is
    // walking unaided, and must not negate what follows it ("..., normal gait").
    const cues = triggers.filter((t) => !found.some((f) => t.start < f.end && f.start < t.end));
    const seen = new Set<string>();
    for (const f of found) {
      const context = contextOf(f.start, f.end, cues, words);
      const id = `${f.entry.key}|${context.negated}|${context.uncertain}|${context.historical}`;
      if (seen.has(id)) {
        continue;
      }
      seen.add(id);
      out.push({
        key: f.entry.key,
        kind: f.entry.kind,
        display: f.entry.display,
        indications: f.entry.indications ?? [],
        sentence: sentence[0]?.sentence ?? 0,
        ...context,
      });
    }
  }
  return out;
}

interface FoundTrigger {
  readonly trigger: Trigger;
  readonly start: number;
  readonly end: number;
}

function findTriggers(words: readonly string[]): FoundTrigger[] {
  const out: FoundTrigger[] = [];
  for (const trigger of TRIGGERS) {
    for (let i = 0; i + trigger.words.length <= words.length; i++) {
      if (trigger.words.every((w, k) => words[i + k] === w)) {
        out.push({ trigger, start: i, end: i + trigger.words.length });
      }
    }
  }
  // A longer trigger containing a shorter one wins ("no evidence of" over "no", "not excluded" over "not").
  return out.filter(
    (t) =>
      !out.some(
        (o) => o !== t && o.trigger.words.length > t.trigger.words.length && o.start <= t.start && o.end >= t.end
      )
  );
}

function contextOf(
  start: number,
  end: number,
  triggers: readonly FoundTrigger[],
  words: readonly string[]
): { negated: boolean; uncertain: boolean; historical: boolean } {
  const applies = { negated: false, uncertain: false, historical: false };
  for (const t of triggers) {
    if (t.trigger.direction === 'forward' && t.end <= start && start - t.end <= SCOPE_WORDS) {
      if (!words.slice(t.end, start).some((w) => TERMINATORS.has(w))) {
        applies[t.trigger.context] = true;
      }
    } else if (t.trigger.direction === 'backward' && t.start >= end && t.start - end <= SCOPE_WORDS) {
      if (!words.slice(end, t.start).some((w) => TERMINATORS.has(w))) {
        applies[t.trigger.context] = true;
      }
    }
  }
  return applies;
}

/**
 * analyseTokens drops punctuation, but "?" is an uncertainty cue in notes: before a word ("? fracture") it reads
 * forward, after one ("head injury?") backward, and then it still ends the sentence. Both are put back as words.
 */
function analyseTokensWithQuestionMarks(text: string): AnalysedToken[] {
  const marked = text.replace(/(^|\s)\?(?=\s*\w)/g, '$1qmarkf ').replace(/\?/g, ' qmarkb?');
  return analyseTokens(marked).map((t) =>
    t.normal === 'qmarkf'
      ? { ...t, normal: '?', lemma: '?' }
      : t.normal === 'qmarkb'
        ? { ...t, normal: '?b', lemma: '?b' }
        : t
  );
}

function groupBySentence(tokens: readonly AnalysedToken[]): AnalysedToken[][] {
  const out: AnalysedToken[][] = [];
  for (const t of tokens) {
    const last = out.at(-1);
    if (last && last[0]?.sentence === t.sentence) {
      last.push(t);
    } else {
      out.push([t]);
    }
  }
  return out;
}
