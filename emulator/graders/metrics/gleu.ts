/**
 * Sentence GLEU (Google BLEU, Wu et al. 2016) as NLTK's `sentence_gleu([reference], hypothesis)` computes it over
 * 13a tokens: the n-grams of orders 1 to 4 pooled, matches / max(hypothesis n-grams, reference n-grams), which is
 * min(precision, recall); 0 when both are empty.
 */
import { ngramCounts, overlap, total } from './ngrams';
import { tokenize13a } from './tokenize-13a';

const MAX_ORDER = 4;

export function sentenceGleu(hypothesis: string, reference: string): number {
  const hyp = tokenize13a(hypothesis);
  const ref = tokenize13a(reference);
  let matches = 0;
  let hypCount = 0;
  let refCount = 0;
  for (let n = 1; n <= MAX_ORDER; n++) {
    const hypNgrams = ngramCounts(hyp, n);
    const refNgrams = ngramCounts(ref, n);
    matches += overlap(hypNgrams, refNgrams);
    hypCount += total(hypNgrams);
    refCount += total(refNgrams);
  }
  const denominator = Math.max(hypCount, refCount);
  return denominator === 0 ? 0 : matches / denominator;
}
