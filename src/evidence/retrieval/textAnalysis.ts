import winkNLP, { type ItemToken, type ItsFunction } from 'wink-nlp';
import model from 'wink-eng-lite-web-model';

/**
 * Tokenisation and lemmas for retrieval and note NLP, from wink-nlp's English "lite" web model (its own tokenizer,
 * POS tagger and lemmatiser; no network, no native code). One pipeline per process, built on first use: building it
 * costs ~100 ms, reading a query afterwards ~0.1 ms.
 */
type WinkNlp = ReturnType<typeof winkNLP>;
let pipeline: WinkNlp | undefined;

export function nlpPipeline(): WinkNlp {
  // Only the sentence/token/POS/lemma pipes: NER and sentiment are not used and cost time.
  pipeline ??= winkNLP(model, ['sbd', 'negation', 'pos']);
  return pipeline;
}

/** A token of a text as retrieval and the concept extractor see it. */
export interface AnalysedToken {
  /** Lower-case lemma ("knees" -> "knee", "swelling" -> "swell"). */
  readonly lemma: string;
  /** Lower-case surface form. */
  readonly normal: string;
  readonly stopWord: boolean;
  /** wink's negation flag: inside the scope of "no", "not", "without"... in its sentence. */
  readonly negated: boolean;
  /** Index of the sentence the token belongs to. */
  readonly sentence: number;
}

/** Every word and number token of `text`, in order (punctuation, symbols and spaces dropped). */
/* eslint-disable @typescript-eslint/unbound-method -- wink's `its.*` are plain functions picked by identity and
   called by `out()` (wink-nlp docs, "its"); they use no `this`. */
export function analyseTokens(text: string): AnalysedToken[] {
  const nlp = nlpPipeline();
  const its = nlp.its;
  const doc = nlp.readDoc(text);
  const out: AnalysedToken[] = [];
  doc.sentences().each((sentence, sentenceIndex) => {
    sentence.tokens().each((token: ItemToken) => {
      const type = token.out(its.type);
      if (type !== 'word' && type !== 'number') {
        return;
      }
      out.push({
        // The published types declare lemma with an `addons` parameter that ItsFunction's `cache` does not satisfy; the
        // call is the documented one (wink-nlp docs, "its.lemma").
        lemma: String(token.out(its.lemma as unknown as ItsFunction<string>)).toLowerCase(),
        normal: String(token.out(its.normal)),
        stopWord: Boolean(token.out(its.stopWordFlag)),
        negated: Boolean(token.out(its.negationFlag)),
        sentence: sentenceIndex,
      });
    });
  });
  return out;
}
/* eslint-enable @typescript-eslint/unbound-method */

/**
 * The index terms of `text`: lemmas of its content words, stop words removed. Very short tokens are kept when they are
 * numbers or abbreviations that matter clinically ("ms", "hr" are kept; single letters are not).
 */
export function indexTerms(text: string): string[] {
  const terms: string[] = [];
  for (const t of analyseTokens(text)) {
    if (t.stopWord || t.lemma.length < 2) {
      continue;
    }
    terms.push(t.lemma);
  }
  return terms;
}
