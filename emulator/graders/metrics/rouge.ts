/**
 * ROUGE-N (N = 1…5) and ROUGE-L F-measures as Google's `rouge-score` computes them without stemming: lower-case,
 * every run of characters outside [a-z0-9] is a separator (so other scripts drop out), then n-gram overlap
 * (ROUGE-N) or the longest common subsequence (ROUGE-L) as precision against the prediction, recall against the
 * target, and their harmonic mean. Lin 2004.
 */
import { longestCommonSubsequence } from './fuzzy';
import { ngramCounts, overlap, total } from './ngrams';

export function rougeTokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(' ')
    .filter((token) => token.length > 0);
}

function fMeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

export function rougeN(prediction: string, target: string, n: number): number {
  const predicted = ngramCounts(rougeTokens(prediction), n);
  const expected = ngramCounts(rougeTokens(target), n);
  const matches = overlap(predicted, expected);
  return fMeasure(matches / Math.max(total(predicted), 1), matches / Math.max(total(expected), 1));
}

export function rougeL(prediction: string, target: string): number {
  const predicted = rougeTokens(prediction);
  const expected = rougeTokens(target);
  if (predicted.length === 0 || expected.length === 0) return 0;
  const lcs = longestCommonSubsequence(predicted, expected);
  return fMeasure(lcs / predicted.length, lcs / expected.length);
}
