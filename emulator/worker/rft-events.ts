/**
 * The events of a reinforcement job's steps, shaped as the hosted service's RFT metrics events
 * (shared/reference/dpo-rft.md §5): message `Step 10/20 , train mean reward=0.42, full validation mean reward=0.68,
 * full validation mean parse error=0.00`, data with `train_mean_reward`, `full_valid_mean_reward`, `scores`,
 * `errors`, `timing`, plus TRL's GRPO metrics (`reward_std`, `kl`, `clip_ratio/*`, `completions/mean_length`) as
 * tunekit extensions; and a bounded event with a few graded samples.
 */
import type { Grader } from '../contract/graders';
import type { FineTuningJob } from '../contract/jobs';
import { graderParts } from '../graders';
import type { NewEvent } from '../store';
import type { RewardSummary, RftProgress } from './rft';

/** Share of gradings with a parse error (the judge's answer or the sample's JSON did not parse). */
function parseErrorMean(s: RewardSummary): number {
  const n = (s.errors.sample_parse_error ?? 0) + (s.errors.model_grader_parse_error ?? 0);
  return s.count > 0 ? n / s.count : 0;
}

function errorMeans(s: RewardSummary | undefined, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  if (!s) return out;
  for (const [flag, count] of Object.entries(s.errors)) {
    out[`${prefix}${flag}_mean`] = s.count > 0 ? count / s.count : 0;
    out[`${prefix}${flag}_count`] = count;
  }
  return out;
}

export function rftMetricsEvent(p: RftProgress, grader: Grader): NewEvent {
  const parts = graderParts(grader);
  let message = `Step ${p.step}/${p.totalSteps} , train mean reward=${p.train.mean.toFixed(2)}`;
  const data: Record<string, unknown> = {
    step: p.step,
    total_steps: p.totalSteps,
    train_mean_reward: p.train.mean,
  };
  if (p.valid) {
    message +=
      `, full validation mean reward=${p.valid.mean.toFixed(2)}` +
      `, full validation mean parse error=${parseErrorMean(p.valid).toFixed(2)}`;
    data.full_valid_mean_reward = p.valid.mean;
    data.full_valid_mean_parse_error = parseErrorMean(p.valid);
  }
  data.completion_tokens_mean = p.train.completionTokens;
  if (p.valid) data.valid_completion_tokens_mean = p.valid.completionTokens;
  data.scores = {
    train_reward_mean: p.train.mean,
    ...(p.valid ? { valid_reward_mean: p.valid.mean } : {}),
    graders: parts.map((part) => ({
      name: part.name,
      type: part.type,
      train_reward_mean: p.train.parts[part.key] ?? 0,
      ...(p.valid ? { valid_reward_mean: p.valid.parts[part.key] ?? 0 } : {}),
    })),
  };
  data.errors = {
    graders: [
      {
        name: grader.name,
        type: grader.type,
        ...errorMeans(p.train, 'train_'),
        ...errorMeans(p.valid, 'valid_'),
      },
    ],
  };
  data.timing = {
    step: p.timing,
    graders: [
      {
        name: grader.name,
        type: grader.type,
        train_execution_latency_mean: p.train.count > 0 ? p.train.gradingS / p.train.count : 0,
        ...(p.valid
          ? { valid_execution_latency_mean: p.valid.count > 0 ? p.valid.gradingS / p.valid.count : 0 }
          : {}),
      },
    ],
  };
  // TRL's GRPO metrics and the update's loss and learning rate (tunekit extensions)
  for (const [key, value] of Object.entries(p.metrics)) data[key] = value;
  return { type: 'metrics', message, data };
}

/** A bounded event with a few graded samples of the step (training prompts first, then validation ones). */
export function rftSamplesEvent(p: RftProgress): NewEvent | undefined {
  if (p.samples.length === 0) return undefined;
  const rewards = p.samples.map((s) => s.reward.toFixed(2)).join(', ');
  return {
    message: `Step ${p.step}: ${p.samples.length} graded samples (rewards ${rewards})`,
    data: { step: p.step, samples: p.samples },
  };
}

/** The grader of a reinforcement job. */
export function rftGrader(job: FineTuningJob): Grader {
  if (job.method?.type !== 'reinforcement' || !job.method.reinforcement)
    throw new Error(`job ${job.id} is not a reinforcement job`);
  return job.method.reinforcement.grader;
}

/** A listed checkpoint's metrics: the step, and the rewards it is ranked by. */
export function rftCheckpointMetrics(p: RftProgress): Record<string, number> {
  return {
    step: p.step,
    train_loss: p.metrics.loss ?? 0,
    train_reward_mean: p.train.mean,
    ...(p.valid ? { valid_reward_mean: p.valid.mean, full_valid_mean_reward: p.valid.mean } : {}),
  };
}

/** The result file of a reinforcement job: one CSV row per step, empty cells where no validation ran. */
export function rftMetricsCsv(rows: Record<string, unknown>[]): string {
  const columns = [
    'step',
    'train_mean_reward',
    'full_valid_mean_reward',
    'completion_tokens_mean',
    'reward_std',
    'kl',
    'clip_ratio/region_mean',
    'completions/mean_length',
    'loss',
    'learning_rate',
  ];
  const cell = (value: unknown) => (typeof value === 'number' ? String(value) : '');
  return `${[columns.join(','), ...rows.map((d) => columns.map((c) => cell(d[c])).join(','))].join('\n')}\n`;
}
