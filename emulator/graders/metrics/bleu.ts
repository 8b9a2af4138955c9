/**
 * Sentence BLEU as sacrebleu's `sentence_bleu(hypothesis, [reference])` computes it (13a tokens, n-grams up to 4,
 * the `exp` smoothing of mteval-v13a for orders without a match, effective order), divided by 100 to fall in
 * [0, 1]. Papineni et al. 2002; smoothing: Chen & Cherry 2014, method 3.
 */
import { ngramCounts, overlap } from './ngrams';
import { tokenize13a } from './tokenize-13a';

const MAX_ORDER = 4;

export function sentenceBleu(hypothesis: string, reference: string): number {
  const hyp = tokenize13a(hypothesis);
  const ref = tokenize13a(reference);
  const correct: number[] = [];
  const totals: number[] = [];
  for (let n = 1; n <= MAX_ORDER; n++) {
    correct.push(overlap(ngramCounts(hyp, n), ngramCounts(ref, n)));
    totals.push(Math.max(0, hyp.length - n + 1));
  }
  if (correct.every((count) => count === 0)) return 0;
  const brevity = hyp.length < ref.length ? Math.exp(1 - ref.length / hyp.length) : 1;
  let logSum = 0;
  let order = 0;
  let smoothing = 1;
  for (let n = 0; n < MAX_ORDER; n++) {
    const totalN = totals[n] as number;
    if (totalN === 0) break;
    order = n + 1;
    const correctN = correct[n] as number;
    let precision: number;
    if (correctN === 0) {
      smoothing *= 2;
      precision = 100 / (smoothing * totalN);
    } else {
      precision = (100 * correctN) / totalN;
    }
    logSum += Math.log(precision);
  }
  return (brevity * Math.exp(logSum / order)) / 100;
}
