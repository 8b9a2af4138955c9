import type { Tunekit } from '../../../client';
import type { APIPromise } from '../../../core/api-promise';
import { UnsupportedFeatureError } from '../../../core/errors';
import { CursorPage, type CursorPageParams, type PagePromise } from '../../../core/pagination';
import { APIResource } from '../../../core/resource';
import { type ReconnectingStreamOptions, reconnectingEventStream } from '../../../internal/event-stream';
import { path } from '../../../internal/path';
import { polledJobEvents } from '../../../internal/polled-events';
import type { RequestOptions } from '../../../internal/request-options';
import { sleep } from '../../../internal/sleep';
import { requireProvider } from '../../../providers';
import { checkOpenAIJob } from '../../../providers/openai';
import type { TogetherJobOptions } from '../../../providers/together';
import {
  TogetherEventsPage,
  type TogetherFineTune,
  TogetherJobsPage,
  toFineTuningJob,
  toTogetherCreateBody,
} from '../../../providers/together';
import type { Grader } from '../alpha/graders';
import { Checkpoints } from './checkpoints';

/** Job states that never change again. */
export const TERMINAL_JOB_STATUSES: readonly FineTuningJob['status'][] = ['succeeded', 'failed', 'cancelled'];

export class Jobs extends APIResource {
  checkpoints: Checkpoints;

  constructor(client: Tunekit) {
    super(client);
    this.checkpoints = new Checkpoints(client);
  }

  /**
   * Creates a fine-tuning job. It starts in `validating_files`; data problems fail the job later.
   * @example
   * const job = await client.fineTuning.jobs.create({ model: 'tiny-llama', training_file: 'file-abc' });
   */
  create(body: JobCreateParams, options?: RequestOptions): APIPromise<FineTuningJob> {
    if (this._client.provider === 'together') {
      return this._client
        .post<TogetherFineTune>('/fine-tunes', { body: toTogetherCreateBody(body), ...options })
        ._thenUnwrap(toFineTuningJob);
    }
    if (body.together)
      throw new UnsupportedFeatureError(this._client.provider, 'together (Together job options)');
    if (this._client.provider === 'openai') checkOpenAIJob(body);
    return this._client.post('/fine_tuning/jobs', { body, ...options });
  }

  /**
   * Returns a job.
   * @example
   * const job = await client.fineTuning.jobs.retrieve('ftjob-abc');
   */
  retrieve(fineTuningJobId: string, options?: RequestOptions): APIPromise<FineTuningJob> {
    if (this._client.provider === 'together') {
      return this._client
        .get<TogetherFineTune>(path`/fine-tunes/${fineTuningJobId}`, options)
        ._thenUnwrap(toFineTuningJob);
    }
    return this._client.get(path`/fine_tuning/jobs/${fineTuningJobId}`, options);
  }

  /**
   * Lists jobs, newest first; `metadata` filters by key/value (`metadata[k]=v`).
   * @example
   * for await (const job of client.fineTuning.jobs.list({ metadata: { team: 'nlp' } })) console.log(job.id);
   */
  list(query: JobListParams = {}, options?: RequestOptions): PagePromise<FineTuningJobsPage, FineTuningJob> {
    if (this._client.provider === 'together') {
      if (query.metadata !== undefined)
        throw new UnsupportedFeatureError('together', 'fineTuning.jobs.list metadata');
      return this._client.getAPIList('/fine-tunes', TogetherJobsPage, options);
    }
    return this._client.getAPIList('/fine_tuning/jobs', CursorPage<FineTuningJob>, { query, ...options });
  }

  /**
   * Cancels a job that has not finished.
   * @example
   * const job = await client.fineTuning.jobs.cancel('ftjob-abc');
   */
  cancel(fineTuningJobId: string, options?: RequestOptions): APIPromise<FineTuningJob> {
    if (this._client.provider === 'together') {
      return this._client
        .post<TogetherFineTune>(path`/fine-tunes/${fineTuningJobId}/cancel`, options)
        ._thenUnwrap(toFineTuningJob);
    }
    return this._client.post(path`/fine_tuning/jobs/${fineTuningJobId}/cancel`, options);
  }

  /**
   * Pauses a running job (it keeps its progress).
   * @example
   * const job = await client.fineTuning.jobs.pause('ftjob-abc');
   */
  pause(fineTuningJobId: string, options?: RequestOptions): APIPromise<FineTuningJob> {
    requireProvider(this._client.provider, ['emulator', 'openai'], 'fineTuning.jobs.pause');
    return this._client.post(path`/fine_tuning/jobs/${fineTuningJobId}/pause`, options);
  }

  /**
   * Resumes a paused job.
   * @example
   * const job = await client.fineTuning.jobs.resume('ftjob-abc');
   */
  resume(fineTuningJobId: string, options?: RequestOptions): APIPromise<FineTuningJob> {
    requireProvider(this._client.provider, ['emulator', 'openai'], 'fineTuning.jobs.resume');
    return this._client.post(path`/fine_tuning/jobs/${fineTuningJobId}/resume`, options);
  }

  /**
   * Lists a job's events, newest first.
   * @example
   * const page = await client.fineTuning.jobs.listEvents('ftjob-abc', { limit: 50 });
   */
  listEvents(
    fineTuningJobId: string,
    query: JobListEventsParams = {},
    options?: RequestOptions,
  ): PagePromise<FineTuningJobEventsPage, FineTuningJobEvent> {
    if (this._client.provider === 'together') {
      return this._client.getAPIList(path`/fine-tunes/${fineTuningJobId}/events`, TogetherEventsPage, {
        query,
        ...options,
      });
    }
    return this._client.getAPIList(
      path`/fine_tuning/jobs/${fineTuningJobId}/events`,
      CursorPage<FineTuningJobEvent>,
      {
        query,
        ...options,
      },
    );
  }

  /**
   * Follows a job's events live (server-sent events, oldest first). Reconnects with `Last-Event-ID` when the
   * connection drops and ends once the job has succeeded, failed or been cancelled. OpenAI and Together have
   * no event stream: there it polls the job and its events every `pollInterval` ms (default 2000).
   * @example
   * for await (const event of client.fineTuning.jobs.streamEvents('ftjob-abc')) console.log(event.message);
   */
  streamEvents(
    fineTuningJobId: string,
    options: JobStreamEventsOptions = {},
  ): AsyncGenerator<FineTuningJobEvent, void, undefined> {
    if (this._client.provider !== 'emulator') {
      if (options.lastEventId !== undefined) {
        throw new UnsupportedFeatureError(this._client.provider, 'fineTuning.jobs.streamEvents lastEventId');
      }
      return polledJobEvents(this, fineTuningJobId, {
        pollInterval: options.pollInterval ?? 2000,
        signal: options.signal,
      });
    }
    const { pollInterval: _unused, ...streamOptions } = options;
    return reconnectingEventStream(
      this._client,
      path`/fine_tuning/jobs/${fineTuningJobId}/events`,
      streamOptions,
    );
  }

  /**
   * Waits for a job to finish: streams its events (calling `onEvent` for each), then resolves with the
   * finished job. A job that failed or was cancelled resolves too (check `job.status` and `job.error`);
   * only a request error or the `signal` rejects. When the server cannot stream events, it polls the job
   * every `pollInterval` milliseconds instead.
   * @example
   * const job = await client.fineTuning.jobs.wait(created.id, { onEvent: (e) => console.log(e.message) });
   * if (job.status !== 'succeeded') console.error(job.error);
   */
  async wait(fineTuningJobId: string, options: JobWaitOptions = {}): Promise<FineTuningJob> {
    const { onEvent, pollInterval: interval, ...rest } = options;
    const pollInterval = interval ?? (this._client.provider === 'emulator' ? 5000 : 2000);
    const streamOptions = { ...rest, pollInterval };
    try {
      for await (const event of this.streamEvents(fineTuningJobId, streamOptions)) onEvent?.(event);
    } catch (err) {
      if (!isStreamingUnsupported(err)) throw err;
    }
    for (;;) {
      const job = await this.retrieve(fineTuningJobId, { signal: options.signal ?? null });
      if (TERMINAL_JOB_STATUSES.includes(job.status)) return job;
      await sleep(pollInterval, options.signal);
    }
  }
}

function isStreamingUnsupported(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('Expected a text/event-stream response');
}

export type FineTuningJobsPage = CursorPage<FineTuningJob>;
export type FineTuningJobEventsPage = CursorPage<FineTuningJobEvent>;

/** `"auto"` lets the server choose the value. */
export type Auto = 'auto';

/** A fine-tuning job (`object: "fine_tuning.job"`). */
export interface FineTuningJob {
  /** `ftjob-…` */
  id: string;
  object: 'fine_tuning.job';
  /** Unix seconds. */
  created_at: number;
  /** Why the job failed; null unless it did. */
  error: FineTuningJobError | null;
  /** `ft:{base}:{org}:{suffix}:{id}` once the job succeeded, else null. */
  fine_tuned_model: string | null;
  /** Unix seconds; null until the job finished. */
  finished_at: number | null;
  /** `"auto"` values until resolved, then numbers; null for some methods. */
  hyperparameters: FineTuningJobHyperparameters | null;
  /** The base model. */
  model: string;
  organization_id: string;
  /** Result files (CSV metrics), empty until done. */
  result_files: string[];
  seed: number;
  status: FineTuningJobStatus;
  /** Billable tokens once succeeded. */
  trained_tokens: number | null;
  training_file: string;
  validation_file: string | null;
  /** Unix seconds; null when not running. */
  estimated_finish?: number | null;
  integrations?: FineTuningJobWandbIntegration[] | null;
  metadata?: Metadata | null;
  method?: FineTuningMethod;
  user_provided_suffix?: string | null;
  /** tunekit extension: LoRA or full fine-tuning. */
  training_type?: TrainingType | null;
  /** tunekit extension: checkpoints saved over the run. */
  n_checkpoints?: number;
}

/** `validating_files → queued → running → succeeded | failed | cancelled`, plus `paused`. */
export type FineTuningJobStatus =
  | 'validating_files'
  | 'queued'
  | 'running'
  | 'paused'
  | 'succeeded'
  | 'failed'
  | 'cancelled';

export interface FineTuningJobError {
  /** e.g. `invalid_n_examples`, `invalid_training_file`. */
  code: string;
  message: string;
  /** The parameter at fault, e.g. `training_file`. */
  param: string | null;
}

/** Up to 16 string pairs; keys ≤ 64 characters, values ≤ 512. */
export type Metadata = Record<string, string>;

export interface FineTuningJobHyperparameters {
  /** 1..256 */
  batch_size?: Auto | number;
  /** > 0 */
  learning_rate_multiplier?: Auto | number;
  /** 1..50 */
  n_epochs?: Auto | number;
}

/** tunekit's optimizer and sequence settings, accepted by every method. */
export interface TrainingExtensions {
  /** tunekit: absolute peak learning rate (replaces base × multiplier). */
  learning_rate?: number;
  /** tunekit: decay after warmup. */
  lr_scheduler?: 'linear' | 'cosine';
  /** tunekit: fraction of steps spent warming up, 0..1. */
  warmup_ratio?: number;
  /** tunekit: AdamW weight decay. */
  weight_decay?: number;
  /** tunekit: global gradient-norm clip; 0 disables. */
  max_grad_norm?: number;
  /** tunekit: tokens per training sequence. */
  max_seq_length?: number;
}

/** Supervised hyperparameters: OpenAI's three plus tunekit extensions. */
export interface SupervisedHyperparameters extends FineTuningJobHyperparameters, TrainingExtensions {
  /** tunekit: pack short examples into one sequence. */
  packing?: boolean;
}

/** A preference loss with TRL 1.13's name (tunekit extension). */
export type DpoLossType = 'sigmoid' | 'hinge' | 'ipo' | 'robust' | 'sigmoid_norm' | 'sft' | 'simpo' | 'orpo';

/** DPO hyperparameters: OpenAI's four plus tunekit's TRL extensions (docs/emulator.md has each loss's formula). */
export interface DpoHyperparameters extends FineTuningJobHyperparameters, TrainingExtensions {
  /** (0, 2]; `auto` = 0.1. IPO's tau, SimPO's beta, ORPO's lambda for those losses. */
  beta?: Auto | number;
  /** tunekit: the loss, or several summed with `loss_weights` (TRL 1.13's list form); simpo and orpo stand alone. */
  loss_type?: DpoLossType | DpoLossType[];
  /** tunekit: weight of each loss_type (default 1 each). */
  loss_weights?: number[];
  /** tunekit: assumed share of flipped labels for `robust`, [0, 0.5). */
  label_smoothing?: number;
  /** tunekit: RPO, adds rpo_alpha × the NLL of the preferred answer (TRL: ["sigmoid", "sft"], [1, rpo_alpha]). */
  rpo_alpha?: number;
  /** tunekit: SimPO's target reward margin (default 0.5). */
  simpo_gamma?: number;
  /** tunekit: take the reference log-probs as 0. */
  reference_free?: boolean;
}

/** tunekit extension: KTO hyperparameters (TRL 1.13 KTOTrainer's names and defaults). */
export interface KtoHyperparameters extends FineTuningJobHyperparameters, TrainingExtensions {
  /** (0, 2]; `auto` = 0.1. */
  beta?: Auto | number;
  /** Weight of the desirable (`label: true`) examples' losses (default 1). */
  desirable_weight?: number;
  /** Weight of the undesirable (`label: false`) examples' losses (default 1). */
  undesirable_weight?: number;
}

export interface ReinforcementHyperparameters extends FineTuningJobHyperparameters {
  compute_multiplier?: Auto | number;
  eval_interval?: Auto | number;
  eval_samples?: Auto | number;
  reasoning_effort?: 'default' | 'low' | 'medium' | 'high';
  /** tunekit: completions sampled per prompt (the GRPO group), 2 to 64. */
  num_generations?: Auto | number;
  /** tunekit: clipping range of the policy ratio (TRL's epsilon, default 0.2). */
  epsilon?: number;
  /** tunekit: weight of the KL penalty to the base model (default 0). */
  beta?: number;
  /** tunekit: how per-token losses are averaged (TRL's loss_type, default `dapo`). */
  loss_type?: 'grpo' | 'dr_grpo' | 'dapo' | 'bnpo';
  /** tunekit: sampling temperature of the rollouts (default 1). */
  temperature?: number;
  /** tunekit: tokens per sampled completion at most. */
  max_completion_tokens?: Auto | number;
  /** tunekit: divide advantages by the group's or the batch's reward std, or not (Dr. GRPO). */
  scale_rewards?: 'group' | 'batch' | 'none';
}

/** The training method; the key named by `type` carries its settings. */
export interface FineTuningMethod {
  type: 'supervised' | 'dpo' | 'kto' | 'reinforcement';
  supervised?: { hyperparameters?: SupervisedHyperparameters };
  dpo?: { hyperparameters?: DpoHyperparameters };
  /** tunekit extension: KTO on unpaired rows (`{"input", "output", "label"}`). */
  kto?: { hyperparameters?: KtoHyperparameters };
  reinforcement?: {
    grader: Grader;
    hyperparameters?: ReinforcementHyperparameters;
    response_format?: Record<string, unknown> | null;
  };
}

/** tunekit extension: LoRA (the default) or full fine-tuning, as Together has it. */
export type TrainingType =
  | {
      type: 'lora';
      /** Rank, 1..1024. */
      r?: number;
      /** Updates scale by alpha / r. */
      alpha?: number;
      /** Dropout on the LoRA input, [0, 1). */
      dropout?: number;
      /** Module names (`q_proj`...) or `all-linear`. */
      target_modules?: 'all-linear' | string[];
      /** Scale by alpha / sqrt(r). */
      use_rslora?: boolean;
    }
  | { type: 'full' };

export interface FineTuningJobWandbIntegration {
  type: 'wandb';
  wandb: { project: string; name?: string | null; entity?: string | null; tags?: string[] };
}

/** One event of a job (`object: "fine_tuning.job.event"`). */
export interface FineTuningJobEvent {
  /** `ftevent-…` */
  id: string;
  object: 'fine_tuning.job.event';
  created_at: number;
  level: 'info' | 'warn' | 'error';
  message: string;
  type?: 'message' | 'metrics';
  /** Metrics for `metrics` events; `{}` or null for messages. */
  data?: FineTuningJobMetricsData | Record<string, unknown> | null;
}

/** TRL's per-step metric names of dpo and kto jobs (tunekit extension). */
export type PreferenceMetricName =
  | 'rewards/chosen'
  | 'rewards/rejected'
  | 'rewards/accuracies'
  | 'rewards/margins'
  | 'logps/chosen'
  | 'logps/rejected'
  | 'nll_loss'
  | 'kl';

/** tunekit: TRL's metrics of dpo and kto jobs, and their validation counterparts (`valid_…`, `full_valid_…`). */
export type PreferenceMetrics = {
  [K in `${'' | 'valid_' | 'full_valid_'}${PreferenceMetricName}`]?: number;
};

/** The `data` of a `metrics` event: one training step. */
export interface FineTuningJobMetricsData extends PreferenceMetrics {
  step: number;
  train_loss: number;
  total_steps: number;
  train_mean_token_accuracy?: number;
  valid_loss?: number;
  valid_mean_token_accuracy?: number;
  full_valid_loss?: number;
  full_valid_mean_token_accuracy?: number;
  /** tunekit: learning rate used for the step. */
  learning_rate?: number;
  /** tunekit: tokens trained on in the step. */
  tokens?: number;
}

export interface JobCreateParams {
  /** Base model, or a fine-tuned model to continue from. */
  model: string;
  /** Id of an uploaded JSONL file with purpose `fine-tune`. */
  training_file: string;
  validation_file?: string | null;
  /** Up to 64 characters, placed in the model name. */
  suffix?: string | null;
  /** 0..2147483647; generated when omitted. */
  seed?: number | null;
  method?: FineTuningMethod;
  /** Deprecated: use `method.supervised.hyperparameters`. */
  hyperparameters?: FineTuningJobHyperparameters;
  integrations?: FineTuningJobWandbIntegration[] | null;
  metadata?: Metadata | null;
  /** tunekit extension. */
  training_type?: TrainingType | null;
  /** tunekit extension: 1..100 checkpoints over the run. */
  n_checkpoints?: number;
  /** Together's own settings (provider `together` only), sent as they are. */
  together?: TogetherJobOptions;
}

export interface JobListParams extends CursorPageParams {
  /** `{k: v}` keeps jobs whose metadata has k = v; null keeps jobs without metadata. */
  metadata?: Metadata | null;
}

export type JobListEventsParams = CursorPageParams;

export interface JobStreamEventsOptions extends ReconnectingStreamOptions {
  /** Providers without an event stream (OpenAI, Together): milliseconds between polls. Default 2000. */
  pollInterval?: number;
}

export interface JobWaitOptions extends JobStreamEventsOptions {
  /** Called with each event as it arrives. */
  onEvent?: (event: FineTuningJobEvent) => void;
}
