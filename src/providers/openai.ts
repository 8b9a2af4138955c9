/**
 * OpenAI's fine-tuning API is the wire format tunekit's own extends, so requests go out unchanged; this module
 * refuses, before any request, the tunekit extensions OpenAI does not take (docs/sdk.md lists them).
 */
import { UnsupportedFeatureError } from '../core/errors';
import type { JobCreateParams } from '../resources/fine-tuning/jobs/jobs';

/** Hyperparameters OpenAI defines, per method; anything else in `method.*.hyperparameters` is tunekit's. */
const OPENAI_HYPERPARAMETERS: Record<string, readonly string[]> = {
  supervised: ['batch_size', 'learning_rate_multiplier', 'n_epochs'],
  dpo: ['batch_size', 'learning_rate_multiplier', 'n_epochs', 'beta'],
  reinforcement: [
    'batch_size',
    'learning_rate_multiplier',
    'n_epochs',
    'compute_multiplier',
    'eval_interval',
    'eval_samples',
    'reasoning_effort',
  ],
};

/** Throws UnsupportedFeatureError for a tunekit extension in a job that is to go to OpenAI. */
export function checkOpenAIJob(params: JobCreateParams): void {
  const refuse = (feature: string): never => {
    throw new UnsupportedFeatureError('openai', feature);
  };
  if (params.training_type != null) refuse('training_type (LoRA / full fine-tuning settings)');
  if (params.n_checkpoints !== undefined) refuse('n_checkpoints');
  const method = params.method;
  if (!method) return;
  const known = OPENAI_HYPERPARAMETERS[method.type];
  if (!known) refuse(`method.type '${method.type}'`);
  const hyperparameters = (method[method.type as 'supervised'] as { hyperparameters?: object } | undefined)
    ?.hyperparameters;
  for (const key of Object.keys(hyperparameters ?? {})) {
    if (!known?.includes(key)) refuse(`method.${method.type}.hyperparameters.${key}`);
  }
}
