/**
 * `multi`: grades the sample with each of its graders and combines their rewards with `calculate_output`. On the
 * wire `graders` is a map `{key: grader}` (what the service accepts, though the SDK types one grader); a single
 * grader or a list is keyed by each grader's name. A failed sub-grading counts as 0 in the formula and its error
 * flags carry over to the multi's outcome.
 */
import type { z } from 'zod';
import type { GraderErrors, MultiGraderSchema, SubGrader } from '../contract/graders';
import { FormulaError, parseFormula } from './formula';
import { failed, type GradeOutcome, noErrors, scored } from './outcome';

export type MultiGrader = z.infer<typeof MultiGraderSchema>;

/** The graders of a multi grader by key. */
export function subGraders(grader: MultiGrader): Record<string, SubGrader> {
  const { graders } = grader;
  if (Array.isArray(graders)) return Object.fromEntries(graders.map((sub) => [sub.name, sub]));
  if ('type' in graders && typeof graders.type === 'string' && 'name' in graders) {
    return { [(graders as SubGrader).name]: graders as SubGrader };
  }
  return graders as Record<string, SubGrader>;
}

function mergeErrors(into: GraderErrors, from: GraderErrors): void {
  for (const [key, value] of Object.entries(from) as [
    keyof GraderErrors,
    GraderErrors[keyof GraderErrors],
  ][]) {
    if (value === true || (typeof value === 'string' && into[key] === null))
      (into as Record<string, unknown>)[key] = value;
  }
}

/** Combines the sub-outcomes of one sample (by key) with the formula. */
export function combine(grader: MultiGrader, outcomes: Readonly<Record<string, GradeOutcome>>): GradeOutcome {
  const errors = noErrors();
  const usage: GradeOutcome['usage'] = {};
  const subRewards: Record<string, number> = {};
  for (const [key, outcome] of Object.entries(outcomes)) {
    subRewards[key] = outcome.reward;
    mergeErrors(errors, outcome.errors);
    for (const [model, tokens] of Object.entries(outcome.usage)) {
      const sum = usage[model] ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
      usage[model] = {
        prompt_tokens: sum.prompt_tokens + tokens.prompt_tokens,
        completion_tokens: sum.completion_tokens + tokens.completion_tokens,
        total_tokens: sum.total_tokens + tokens.total_tokens,
      };
    }
  }
  try {
    const reward = parseFormula(grader.calculate_output).evaluate(subRewards);
    return scored(reward, { errors, subRewards, usage });
  } catch (error) {
    if (!(error instanceof FormulaError)) throw error;
    return failed({ ...errors, formula_parse_error: true }, { subRewards, usage });
  }
}
