/**
 * `POST /v1/fine_tuning/alpha/graders/run` and `/validate`: the grader code reinforcement jobs use, on one sample.
 * An invalid grader is a 400 naming the field; a grading that fails is a 200 with reward 0 and its error flagged.
 */
import type { AnyGrader, GraderRunResponse } from '../contract/graders';
import {
  validateGrader as checkGrader,
  type GraderServices,
  GraderValidationError,
  gradeSample,
} from '../graders';
import { EmulatorError } from '../store/errors';
import type { RouteHandler } from './context';

/** Validates a grader, turning a refusal into the 400 the service answers with. */
export async function requireValidGrader(
  grader: AnyGrader,
  services: GraderServices,
  param: string,
): Promise<void> {
  try {
    await checkGrader(grader, services, param);
  } catch (error) {
    if (error instanceof GraderValidationError)
      throw new EmulatorError(400, error.message, error.param, error.code);
    throw error;
  }
}

export const validateGrader: RouteHandler<'validateGrader'> = async ({ body, caller, services }) => {
  await requireValidGrader(body.grader, services.graders(caller.projectId), 'grader');
  return { grader: body.grader };
};

export const runGrader: RouteHandler<'runGrader'> = async ({ body, caller, services }) => {
  const graders = services.graders(caller.projectId);
  await requireValidGrader(body.grader, graders, 'grader');
  const started = performance.now();
  const outcome = await gradeSample(body.grader, body.model_sample, body.item ?? {}, graders);
  const usage = Object.values(outcome.usage);
  const response: GraderRunResponse = {
    reward: outcome.reward,
    metadata: {
      name: body.grader.name,
      type: body.grader.type,
      errors: outcome.errors,
      execution_time: (performance.now() - started) / 1000,
      scores: outcome.subRewards,
      token_usage: usage.length > 0 ? usage.reduce((sum, u) => sum + u.total_tokens, 0) : null,
      sampled_model_name: outcome.sampledModelName,
    },
    sub_rewards: outcome.subRewards,
    model_grader_token_usage_per_model: outcome.usage,
  };
  return response;
};
