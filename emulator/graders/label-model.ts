/**
 * `label_model`: the judge picks one of `labels` (`{"steps": [...], "result": "<label>"}`, or the bare label);
 * 1 when the label is one of `passing_labels`, else 0. An answer that names no label scores 0 with
 * `model_grader_parse_error`. On the service it is allowed only inside `multi`.
 */
import type { z } from 'zod';
import type { LabelModelGraderSchema } from '../contract/graders';
import { type Judge, jsonResult, judgeMessages } from './judge';
import { failed, type GradeOutcome, scored } from './outcome';
import { askJudge } from './score-model';
import type { TemplateScope } from './template';

export type LabelModelGrader = z.infer<typeof LabelModelGraderSchema>;

function parseLabel(text: string, labels: readonly string[]): string | undefined {
  const result = jsonResult(text);
  if (typeof result === 'string' && labels.includes(result)) return result;
  const bare = text.trim().replace(/^["'`]+|["'`.]+$/g, '');
  return labels.find((label) => label.toLowerCase() === bare.toLowerCase());
}

export function gradeLabelModel(
  grader: LabelModelGrader,
  scope: TemplateScope,
  judge: Judge,
): Promise<GradeOutcome> {
  const instruction =
    `Answer with JSON only, in this shape: {"steps": [{"description": "...", "conclusion": "..."}], ` +
    `"result": <one of ${JSON.stringify(grader.labels)}>}.`;
  return askJudge(
    judge,
    grader.model,
    () => ({ model: grader.model, messages: judgeMessages(grader.input, scope, instruction) }),
    (answer) => {
      const label = parseLabel(answer.text, grader.labels);
      if (label === undefined) return failed({ model_grader_parse_error: true });
      return scored(grader.passing_labels.includes(label) ? 1 : 0);
    },
  );
}
