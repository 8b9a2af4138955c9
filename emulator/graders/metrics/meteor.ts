/**
 * METEOR (Lavie & Agarwal 2007) as NLTK's `meteor_score([reference], hypothesis)` computes it over lower-cased 13a
 * tokens with alpha 0.9, beta 3, gamma 0.5: exact matches, then Porter-stem matches (each hypothesis word, last
 * first, takes the last unused equal reference word), F-mean weighted to recall, times the fragmentation penalty
 * 1 - gamma·(chunks / matches)^beta. The WordNet synonym stage is left out: no WordNet ships with the emulator.
 */
import { stemmer } from 'stemmer';
import { tokenize13a } from './tokenize-13a';

const ALPHA = 0.9;
const BETA = 3;
const GAMMA = 0.5;

type Word = readonly [position: number, word: string];
type Match = readonly [hypothesis: number, reference: number];

/** One alignment stage: matches equal words and returns what is left unmatched on each side. */
function matchWords(hypothesis: Word[], reference: Word[]): { matches: Match[]; hyp: Word[]; ref: Word[] } {
  const positions = new Map<string, number[]>();
  reference.forEach(([, word], j) => {
    const list = positions.get(word);
    if (list) list.push(j);
    else positions.set(word, [j]);
  });
  const matches: Match[] = [];
  const usedHyp = new Set<number>();
  const usedRef = new Set<number>();
  for (let i = hypothesis.length - 1; i >= 0; i--) {
    const [position, word] = hypothesis[i] as Word;
    const j = positions.get(word)?.pop();
    if (j === undefined) continue;
    usedHyp.add(i);
    usedRef.add(j);
    matches.push([position, (reference[j] as Word)[0]]);
  }
  return {
    matches,
    hyp: hypothesis.filter((_, i) => !usedHyp.has(i)),
    ref: reference.filter((_, j) => !usedRef.has(j)),
  };
}

/** The fewest chunks of adjacent matches (matches sorted by hypothesis position). */
function countChunks(matches: readonly Match[]): number {
  let chunks = 1;
  for (let i = 0; i + 1 < matches.length; i++) {
    const [h, r] = matches[i] as Match;
    const [nextH, nextR] = matches[i + 1] as Match;
    if (nextH !== h + 1 || nextR !== r + 1) chunks++;
  }
  return chunks;
}

export function meteor(hypothesis: string, reference: string): number {
  const hyp: Word[] = tokenize13a(hypothesis).map((word, i) => [i, word.toLowerCase()]);
  const ref: Word[] = tokenize13a(reference).map((word, i) => [i, word.toLowerCase()]);
  const exact = matchWords(hyp, ref);
  const stem = (words: Word[]): Word[] => words.map(([position, word]) => [position, stemmer(word)]);
  const stemmed = matchWords(stem(exact.hyp), stem(exact.ref));
  const matches = [...exact.matches, ...stemmed.matches].sort((a, b) => a[0] - b[0]);
  if (matches.length === 0 || hyp.length === 0 || ref.length === 0) return 0;
  const precision = matches.length / hyp.length;
  const recall = matches.length / ref.length;
  const fMean = (precision * recall) / (ALPHA * precision + (1 - ALPHA) * recall);
  const penalty = GAMMA * (countChunks(matches) / matches.length) ** BETA;
  return (1 - penalty) * fMean;
}
