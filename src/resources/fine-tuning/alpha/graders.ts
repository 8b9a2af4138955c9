import type { APIPromise } from '../../../core/api-promise';
import { APIResource } from '../../../core/resource';
import type { RequestOptions } from '../../../internal/request-options';
import { requireProvider } from '../../../providers';

/** Runs and validates graders, as reinforcement fine-tuning jobs use them (OpenAI's alpha endpoints). */
export class Graders extends APIResource {
  /**
   * Grades one model sample against one dataset row, exactly as a reinforcement job would.
   * @example
   * const { reward } = await client.fineTuning.alpha.graders.run({
   *   grader: { type: 'string_check', name: 'exact', input: '{{sample.output_text}}', reference: '{{item.answer}}', operation: 'eq' },
   *   model_sample: 'Lima',
   *   item: { answer: 'Lima' },
   * });
   */
  run(body: GraderRunParams, options?: RequestOptions): APIPromise<GraderRunResponse> {
    requireProvider(this._client.provider, ['emulator', 'openai'], 'fineTuning.alpha.graders.run');
    return this._client.post('/fine_tuning/alpha/graders/run', { body, ...options });
  }

  /**
   * Checks a grader as job creation does; an invalid grader is a `BadRequestError` naming the field.
   * @example
   * await client.fineTuning.alpha.graders.validate({ grader });
   */
  validate(body: GraderValidateParams, options?: RequestOptions): APIPromise<GraderValidateResponse> {
    requireProvider(this._client.provider, ['emulator', 'openai'], 'fineTuning.alpha.graders.validate');
    return this._client.post('/fine_tuning/alpha/graders/validate', { body, ...options });
  }
}

/** How a reinforcement job scores a sample (`label_model` is allowed only inside `multi`). */
export type Grader = StringCheckGrader | TextSimilarityGrader | PythonGrader | ScoreModelGrader | MultiGrader;

export interface StringCheckGrader {
  type: 'string_check';
  name: string;
  input: string;
  reference: string;
  operation: 'eq' | 'ne' | 'like' | 'ilike';
}

export interface TextSimilarityGrader {
  type: 'text_similarity';
  name: string;
  input: string;
  reference: string;
  evaluation_metric:
    | 'cosine'
    | 'fuzzy_match'
    | 'bleu'
    | 'gleu'
    | 'meteor'
    | 'rouge_1'
    | 'rouge_2'
    | 'rouge_3'
    | 'rouge_4'
    | 'rouge_5'
    | 'rouge_l';
  /** Used by evals only; ignored when grading. */
  pass_threshold?: number;
}

export interface PythonGrader {
  type: 'python';
  name: string;
  source: string;
  image_tag?: string;
}

export type GraderContentItem =
  | { type: 'input_text'; text: string }
  | { type: 'output_text'; text: string }
  | { type: 'input_image'; image_url: string; detail?: string }
  | { type: 'input_audio'; input_audio: { data: string; format: 'mp3' | 'wav' } };

export interface GraderMessage {
  role: 'user' | 'assistant' | 'system' | 'developer';
  content: string | GraderContentItem | Array<string | GraderContentItem>;
  type?: 'message';
}

export interface ScoreModelGrader {
  type: 'score_model';
  name: string;
  model: string;
  input: GraderMessage[];
  range?: number[];
  sampling_params?: {
    max_completions_tokens?: number | null;
    reasoning_effort?: 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | 'max' | null;
    seed?: number | null;
    temperature?: number | null;
    top_p?: number | null;
  };
}

export interface LabelModelGrader {
  type: 'label_model';
  name: string;
  model: string;
  input: GraderMessage[];
  labels: string[];
  passing_labels: string[];
}

/** A grader a `multi` grader may combine. */
export type SubGrader =
  | StringCheckGrader
  | TextSimilarityGrader
  | PythonGrader
  | ScoreModelGrader
  | LabelModelGrader;

export interface MultiGrader {
  type: 'multi';
  name: string;
  /** A map `{key: grader}` (what the service accepts; the formula names the keys), or one grader, or a list. */
  graders: Record<string, SubGrader> | SubGrader | SubGrader[];
  /** Formula over the keys: `+ - * / ^`, parentheses, numbers, min max abs floor ceil exp sqrt log. */
  calculate_output: string;
}

export interface GraderRunParams {
  grader: Grader;
  /** The model output: `{{sample.output_text}}`, and `{{sample.output_json}}` when it parses as JSON. */
  model_sample: string;
  /** The dataset row: `{{item.…}}`. */
  item?: Record<string, unknown>;
}

export interface GraderValidateParams {
  grader: Grader;
}

export interface GraderValidateResponse {
  grader: Grader;
}

/** What went wrong while grading; any error scores 0. */
export interface GraderErrors {
  formula_parse_error: boolean;
  sample_parse_error: boolean;
  truncated_observation_error: boolean;
  unresponsive_reward_error: boolean;
  invalid_variable_error: boolean;
  other_error: boolean;
  python_grader_server_error: boolean;
  python_grader_server_error_type: string | null;
  python_grader_runtime_error: boolean;
  python_grader_runtime_error_details: string | null;
  model_grader_server_error: boolean;
  model_grader_refusal_error: boolean;
  model_grader_parse_error: boolean;
  model_grader_server_error_details: string | null;
}

export interface GraderRunResponse {
  reward: number;
  metadata: {
    name: string;
    type: string;
    errors: GraderErrors;
    /** Seconds. */
    execution_time: number;
    /** Rewards of a multi grader's graders, by key. */
    scores: Record<string, unknown>;
    /** Tokens the judge models used; null without one. */
    token_usage: number | null;
    sampled_model_name: string | null;
  };
  sub_rewards: Record<string, unknown>;
  model_grader_token_usage_per_model: Record<string, unknown>;
}
