/**
 * `score_model`: the judge answers `{"steps": [...], "result": <number>}` (a bare number is accepted too); the
 * score is clipped to `range` (default [0, 1]). An answer without a number scores 0 with `model_grader_parse_error`;
 * a judge that cannot answer, 0 with `model_grader_server_error`.
 */
import type { z } from 'zod';
import type { ScoreModelGraderSchema } from '../contract/graders';
import { type Judge, type JudgeAnswer, jsonResult, judgeMessages } from './judge';
import { failed, type GradeOutcome, scored, templateFailure } from './outcome';
import type { TemplateScope } from './template';

export type ScoreModelGrader = z.infer<typeof ScoreModelGraderSchema>;

export function scoreRange(grader: ScoreModelGrader): [number, number] {
  const [low = 0, high = 1] = grader.range ?? [];
  return [low, high];
}

function parseScore(text: string): number | undefined {
  const result = jsonResult(text);
  if (typeof result === 'number' && Number.isFinite(result)) return result;
  const bare = text.trim();
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(bare) ? Number(bare) : undefined;
}

/** Asks the judge and turns the answer into an outcome; shared with label_model. */
export async function askJudge(
  judge: Judge,
  model: string,
  request: () => Parameters<Judge>[0],
  interpret: (answer: JudgeAnswer) => GradeOutcome,
): Promise<GradeOutcome> {
  let prompt: Parameters<Judge>[0];
  try {
    prompt = request();
  } catch (error) {
    return templateFailure(error);
  }
  let answer: JudgeAnswer;
  try {
    answer = await judge(prompt);
  } catch (error) {
    return failed(
      { model_grader_server_error: true, model_grader_server_error_details: (error as Error).message },
      { sampledModelName: model },
    );
  }
  const outcome = interpret(answer);
  outcome.sampledModelName = model;
  outcome.usage = {
    [model]: {
      prompt_tokens: answer.promptTokens,
      completion_tokens: answer.completionTokens,
      total_tokens: answer.promptTokens + answer.completionTokens,
    },
  };
  return outcome;
}

export function gradeScoreModel(
  grader: ScoreModelGrader,
  scope: TemplateScope,
  judge: Judge,
): Promise<GradeOutcome> {
  const [low, high] = scoreRange(grader);
  const params = grader.sampling_params ?? {};
  const instruction =
    `Answer with JSON only, in this shape: {"steps": [{"description": "...", "conclusion": "..."}], ` +
    `"result": <a number from ${low} to ${high}>}.`;
  return askJudge(
    judge,
    grader.model,
    () => ({
      model: grader.model,
      messages: judgeMessages(grader.input, scope, instruction),
      ...(params.temperature != null ? { temperature: params.temperature } : {}),
      ...(params.top_p != null ? { topP: params.top_p } : {}),
      ...(params.seed != null ? { seed: params.seed } : {}),
      ...(params.max_completions_tokens != null ? { maxTokens: params.max_completions_tokens } : {}),
    }),
    (answer) => {
      const score = parseScore(answer.text);
      if (score === undefined) return failed({ model_grader_parse_error: true });
      return scored(Math.min(high, Math.max(low, score)));
    },
  );
}
