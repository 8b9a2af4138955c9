/**
 * What grading one sample yields: the reward and the error flags OpenAI reports (`metadata.errors` of
 * `/fine_tuning/alpha/graders/run`). Any error scores 0, as on the service.
 */
import type { GraderErrors } from '../contract/graders';
import { TemplateError } from './template';

export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface GradeOutcome {
  reward: number;
  errors: GraderErrors;
  /** Rewards of a multi grader's graders, by key. */
  subRewards: Record<string, number>;
  /** Tokens used by judge models, by model name. */
  usage: Record<string, TokenUsage>;
  /** The judge of a model grader. */
  sampledModelName: string | null;
}

export function noErrors(): GraderErrors {
  return {
    formula_parse_error: false,
    sample_parse_error: false,
    truncated_observation_error: false,
    unresponsive_reward_error: false,
    invalid_variable_error: false,
    other_error: false,
    python_grader_server_error: false,
    python_grader_server_error_type: null,
    python_grader_runtime_error: false,
    python_grader_runtime_error_details: null,
    model_grader_server_error: false,
    model_grader_refusal_error: false,
    model_grader_parse_error: false,
    model_grader_server_error_details: null,
  };
}

/** A successful grading. */
export function scored(reward: number, extra: Partial<GradeOutcome> = {}): GradeOutcome {
  return { reward, errors: noErrors(), subRewards: {}, usage: {}, sampledModelName: null, ...extra };
}

/** A failed grading: reward 0 with the given flags set. */
export function failed(errors: Partial<GraderErrors>, extra: Partial<GradeOutcome> = {}): GradeOutcome {
  return scored(0, { ...extra, errors: { ...noErrors(), ...errors } });
}

/** Whether any error flag is set. */
export function hasError(errors: GraderErrors): boolean {
  return Object.entries(errors).some(([key, value]) => value === true && !key.endsWith('_details'));
}

/** A template that failed to render, as a failed grading; other errors propagate. */
export function templateFailure(error: unknown): GradeOutcome {
  if (error instanceof TemplateError) return failed({ [error.kind]: true });
  throw error;
}
