/**
 * `text_similarity`: the similarity of the rendered input and reference, in [0, 1], by `evaluation_metric`.
 * `cosine` needs an embedding model (OpenAI's text-embedding-3-large), which the emulator does not serve: such a
 * grader is refused when it is validated.
 */
import type { z } from 'zod';
import type { TextSimilarityGraderSchema } from '../contract/graders';
import { sentenceBleu } from './metrics/bleu';
import { fuzzyRatio } from './metrics/fuzzy';
import { sentenceGleu } from './metrics/gleu';
import { meteor } from './metrics/meteor';
import { rougeL, rougeN } from './metrics/rouge';
import { failed, type GradeOutcome, scored, templateFailure } from './outcome';
import { renderTemplate, type TemplateScope } from './template';

export type TextSimilarityGrader = z.infer<typeof TextSimilarityGraderSchema>;
export type SimilarityMetric = Exclude<TextSimilarityGrader['evaluation_metric'], 'cosine'>;

const METRICS: Record<SimilarityMetric, (input: string, reference: string) => number> = {
  fuzzy_match: fuzzyRatio,
  bleu: sentenceBleu,
  gleu: sentenceGleu,
  meteor,
  rouge_1: (a, b) => rougeN(a, b, 1),
  rouge_2: (a, b) => rougeN(a, b, 2),
  rouge_3: (a, b) => rougeN(a, b, 3),
  rouge_4: (a, b) => rougeN(a, b, 4),
  rouge_5: (a, b) => rougeN(a, b, 5),
  rouge_l: rougeL,
};

export const COSINE_UNSUPPORTED =
  'The text_similarity metric "cosine" needs an embedding model (text-embedding-3-large), which the tunekit ' +
  'emulator does not serve; use fuzzy_match, bleu, gleu, meteor, rouge_1…rouge_5 or rouge_l.';

export function similarity(metric: SimilarityMetric, input: string, reference: string): number {
  return METRICS[metric](input, reference);
}

export function gradeTextSimilarity(grader: TextSimilarityGrader, scope: TemplateScope): GradeOutcome {
  if (grader.evaluation_metric === 'cosine') return failed({ other_error: true });
  try {
    const input = renderTemplate(grader.input, scope);
    const reference = renderTemplate(grader.reference, scope);
    return scored(similarity(grader.evaluation_metric, input, reference));
  } catch (error) {
    return templateFailure(error);
  }
}
