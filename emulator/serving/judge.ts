/**
 * The judge of model graders (`score_model`, `label_model`): a model the emulator serves (built-in, `--models-dir`,
 * a hosted name's stand-in, or one of the project's fine-tuned models), asked through the inference process as a
 * chat completion is. Serves `/fine_tuning/alpha/graders/run` and the graders of reinforcement jobs alike.
 */
import type { GraderServices, Judge } from '../graders';
import type { ModelCatalog } from '../routes/context';
import type { InferenceClient } from './inference-client';

/** A judge's answer is a short JSON object: this many tokens unless the grader's sampling_params say otherwise. */
export const DEFAULT_JUDGE_MAX_TOKENS = 256;

export function servingJudge(
  models: Pick<ModelCatalog, 'resolve'>,
  inference: Pick<InferenceClient, 'chat'>,
  projectId: string,
): Judge {
  return async (request) => {
    const model = models.resolve(projectId, request.model);
    if (!model) throw new Error(`the judge model "${request.model}" does not exist`);
    let text = '';
    const result = await inference.chat(
      {
        modelDir: model.modelDir,
        adapterDir: model.adapterDir,
        messages: request.messages,
        n: 1,
        maxTokens: request.maxTokens ?? DEFAULT_JUDGE_MAX_TOKENS,
        temperature: request.temperature ?? 1,
        topP: request.topP ?? 1,
        seed: request.seed ?? null,
        stop: [],
        logprobs: false,
        topLogprobs: 0,
      },
      (deltas) => {
        for (const delta of deltas) text += delta.content;
      },
    );
    return { text, promptTokens: result.promptTokens, completionTokens: result.completionTokens };
  };
}

/** What graders need to run for one project: the judge and which models it may be. */
export function graderServices(
  models: Pick<ModelCatalog, 'resolve'>,
  inference: Pick<InferenceClient, 'chat'>,
  projectId: string,
): GraderServices {
  return {
    judge: servingJudge(models, inference, projectId),
    modelExists: (name) => models.resolve(projectId, name) !== undefined,
  };
}
