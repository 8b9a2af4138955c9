/**
 * Fine-tuning jobs, their events and checkpoints. Reference §1.3, §1.4, §2.3–§2.7; tunekit extensions
 * (learning-rate schedule, LoRA settings, checkpoints count) after Together's create parameters.
 */
import { z } from 'zod';
import {
  AfterParamSchema,
  cursorListSchema,
  cursorListWithIdsSchema,
  DEFAULT_LIMIT,
  idSchema,
  limitParamSchema,
  MetadataSchema,
  UnixSecondsSchema,
} from './common';
import { GraderSchema } from './graders';

const EXTENSION = 'tunekit extension (not part of the OpenAI API).';

/** `validating_files → queued → running → succeeded | failed | cancelled`, plus `paused`. */
export const FineTuningJobStatusSchema = z
  .enum(['validating_files', 'queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled'])
  .meta({
    id: 'FineTuningJobStatus',
    description:
      'Job state. `paused` comes back from `/pause` (OpenAI sends it too, though its enum omits it); ' +
      '`/resume` moves a paused job back to `queued`.',
  });
export type FineTuningJobStatus = z.infer<typeof FineTuningJobStatusSchema>;

/** States a job never leaves. A live event stream ends when the job reaches one. */
export const TERMINAL_JOB_STATUSES: readonly FineTuningJobStatus[] = ['succeeded', 'failed', 'cancelled'];

const auto = z.literal('auto');

/** The per-step metrics of dpo and kto jobs, with TRL's names (validation ones prefixed valid_ / full_valid_). */
export const PREFERENCE_METRICS = [
  'rewards/chosen',
  'rewards/rejected',
  'rewards/accuracies',
  'rewards/margins',
  'logps/chosen',
  'logps/rejected',
  'nll_loss',
  'kl',
] as const;
const METRIC_PREFIXES = ['', 'valid_', 'full_valid_'] as const;
type PreferenceMetricKey = `${(typeof METRIC_PREFIXES)[number]}${(typeof PREFERENCE_METRICS)[number]}`;

function preferenceMetricFields(): Record<PreferenceMetricKey, z.ZodOptional<z.ZodNumber>> {
  const when = { '': '', valid_: 'Periodic validation: ', full_valid_: 'Final full validation: ' };
  return Object.fromEntries(
    METRIC_PREFIXES.flatMap((prefix) =>
      PREFERENCE_METRICS.map((name) => [
        `${prefix}${name}`,
        z.number().optional().describe(`${when[prefix]}TRL’s \`${name}\` (dpo and kto jobs). ${EXTENSION}`),
      ]),
    ),
  ) as Record<PreferenceMetricKey, z.ZodOptional<z.ZodNumber>>;
}

export const BatchSizeSchema = z
  .union([auto, z.number().int().min(1).max(256)])
  .describe('Examples per optimizer step, 1 to 256, or `auto`.');
export const LearningRateMultiplierSchema = z
  .union([auto, z.number().positive()])
  .describe('Scale applied to the base learning rate (> 0), or `auto`.');
export const NEpochsSchema = z
  .union([auto, z.number().int().min(1).max(50)])
  .describe('Passes over the training data, 1 to 50, or `auto`.');

/** The three OpenAI hyperparameters, as the deprecated top-level `hyperparameters` and on the job. */
export const FineTuningJobHyperparametersSchema = z
  .object({
    batch_size: BatchSizeSchema.optional(),
    learning_rate_multiplier: LearningRateMultiplierSchema.optional(),
    n_epochs: NEpochsSchema.optional(),
  })
  .meta({
    id: 'FineTuningJobHyperparameters',
    description: 'Hyperparameters; `auto` until the job resolves them, then numbers.',
  });

export const LrSchedulerSchema = z
  .enum(['linear', 'cosine'])
  .meta({ id: 'LrScheduler', description: `Learning-rate decay after warmup. ${EXTENSION}` });

/** tunekit's optimizer and sequence settings, shared by every method's hyperparameters. */
const trainingExtensions = {
  learning_rate: z
    .number()
    .positive()
    .max(1)
    .optional()
    .describe(`Absolute peak learning rate; when set it replaces base × multiplier. ${EXTENSION}`),
  lr_scheduler: LrSchedulerSchema.optional(),
  warmup_ratio: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe(`Fraction of the total steps spent warming the learning rate up from 0. ${EXTENSION}`),
  weight_decay: z.number().min(0).optional().describe(`AdamW decoupled weight decay (≥ 0). ${EXTENSION}`),
  max_grad_norm: z
    .number()
    .min(0)
    .optional()
    .describe(`Clip the global gradient norm to this value; 0 disables clipping. ${EXTENSION}`),
  max_seq_length: z
    .number()
    .int()
    .min(1)
    .max(1_048_576)
    .optional()
    .describe(`Tokens per training sequence; longer examples are truncated. ${EXTENSION}`),
};

export const SupervisedHyperparametersSchema = z
  .strictObject({
    batch_size: BatchSizeSchema.optional(),
    learning_rate_multiplier: LearningRateMultiplierSchema.optional(),
    n_epochs: NEpochsSchema.optional(),
    ...trainingExtensions,
    packing: z
      .boolean()
      .optional()
      .describe(`Pack several short examples into one sequence of max_seq_length. ${EXTENSION}`),
  })
  .meta({
    id: 'SupervisedHyperparameters',
    description: 'Supervised fine-tuning hyperparameters: OpenAI’s three plus tunekit extensions.',
  });

const openAiThree = {
  batch_size: BatchSizeSchema.optional(),
  learning_rate_multiplier: LearningRateMultiplierSchema.optional(),
  n_epochs: NEpochsSchema.optional(),
};
const BetaSchema = z.union([auto, z.number().gt(0).max(2)]);

export const DPO_LOSS_TYPES = [
  'sigmoid',
  'hinge',
  'ipo',
  'robust',
  'sigmoid_norm',
  'sft',
  'simpo',
  'orpo',
] as const;

export const DpoLossTypeSchema = z.enum(DPO_LOSS_TYPES).meta({
  id: 'DpoLossType',
  description:
    'A preference loss with TRL 1.13’s name: `sigmoid` (DPO), `hinge`, `ipo`, `robust`, `sigmoid_norm` ' +
    '(length-normalised DPO), `sft` (NLL of the preferred answer) from DPOTrainer; `simpo` (CPOTrainer) and ' +
    `\`orpo\` (ORPOTrainer), which are reference-free and stand alone. ${EXTENSION}`,
});

export const DpoHyperparametersSchema = z
  .strictObject({
    ...openAiThree,
    beta: BetaSchema.optional().describe(
      'Weight of the penalty between policy and reference model, in (0, 2], or `auto` (0.1); IPO’s tau, ' +
        'SimPO’s beta, ORPO’s lambda for those losses.',
    ),
    loss_type: z
      .union([DpoLossTypeSchema, z.array(DpoLossTypeSchema).min(1).max(6)])
      .optional()
      .describe(`The loss, or several summed with \`loss_weights\` (TRL 1.13’s list form). ${EXTENSION}`),
    loss_weights: z
      .array(z.number().min(0))
      .min(1)
      .max(6)
      .optional()
      .describe(`Weight of each \`loss_type\` (default 1 each). ${EXTENSION}`),
    label_smoothing: z
      .number()
      .min(0)
      .lt(0.5)
      .optional()
      .describe(
        `Assumed share of flipped labels for \`robust\` (and SimPO’s conservative form), [0, 0.5). ${EXTENSION}`,
      ),
    rpo_alpha: z
      .number()
      .min(0)
      .optional()
      .describe(
        `RPO: adds rpo_alpha × the NLL of the preferred answer (TRL 1.13: \`loss_type: ["sigmoid", "sft"]\`, ` +
          `\`loss_weights: [1, rpo_alpha]\`; with \`simpo\` it is CPOTrainer’s cpo_alpha). ${EXTENSION}`,
      ),
    simpo_gamma: z
      .number()
      .min(0)
      .optional()
      .describe(`SimPO’s target reward margin (default 0.5). ${EXTENSION}`),
    reference_free: z
      .boolean()
      .optional()
      .describe(`Take the reference log-probs as 0 (TRL’s reference_free). ${EXTENSION}`),
    ...trainingExtensions,
  })
  .superRefine((h, ctx) => {
    const types = h.loss_type === undefined ? [] : Array.isArray(h.loss_type) ? h.loss_type : [h.loss_type];
    const alone = types.find((t) => t === 'simpo' || t === 'orpo');
    if (alone && types.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['loss_type'],
        message: `'${alone}' is its own trainer in TRL and cannot be combined with other losses`,
      });
    }
    if (h.loss_weights !== undefined && h.loss_weights.length !== Math.max(types.length, 1)) {
      ctx.addIssue({
        code: 'custom',
        path: ['loss_weights'],
        message: `needs one weight per loss_type (${Math.max(types.length, 1)})`,
      });
    }
    if (h.rpo_alpha !== undefined && h.rpo_alpha > 0 && alone === 'orpo') {
      ctx.addIssue({
        code: 'custom',
        path: ['rpo_alpha'],
        message: 'not allowed with loss_type orpo (it has its own NLL term)',
      });
    }
  })
  .meta({
    id: 'DpoHyperparameters',
    description: 'DPO hyperparameters: OpenAI’s four plus tunekit’s TRL extensions.',
  });

export const KtoHyperparametersSchema = z
  .strictObject({
    ...openAiThree,
    beta: BetaSchema.optional().describe(
      'Weight of the penalty between policy and reference model, in (0, 2], or `auto` (0.1).',
    ),
    desirable_weight: z
      .number()
      .gt(0)
      .optional()
      .describe('Weight of the losses of desirable (`label: true`) examples (default 1).'),
    undesirable_weight: z
      .number()
      .gt(0)
      .optional()
      .describe('Weight of the losses of undesirable (`label: false`) examples (default 1).'),
    ...trainingExtensions,
  })
  .meta({
    id: 'KtoHyperparameters',
    description: `KTO hyperparameters (TRL 1.13 KTOTrainer’s names and defaults). ${EXTENSION}`,
  });

export const ReinforcementHyperparametersSchema = z
  .strictObject({
    batch_size: BatchSizeSchema.optional(),
    learning_rate_multiplier: LearningRateMultiplierSchema.optional(),
    n_epochs: NEpochsSchema.optional(),
    compute_multiplier: z.union([auto, z.number().gt(0.00001).max(10)]).optional(),
    eval_interval: z.union([auto, z.number().int().min(1)]).optional(),
    eval_samples: z.union([auto, z.number().int().min(1)]).optional(),
    reasoning_effort: z.enum(['default', 'low', 'medium', 'high']).optional(),
    num_generations: z
      .union([auto, z.number().int().min(2).max(64)])
      .optional()
      .describe(`Completions sampled per prompt (the GRPO group), 2 to 64. ${EXTENSION}`),
    epsilon: z
      .number()
      .gt(0)
      .lt(1)
      .optional()
      .describe(
        `Clipping range of the policy ratio, as TRL's GRPOConfig.epsilon (default 0.2). ${EXTENSION}`,
      ),
    beta: z
      .number()
      .min(0)
      .optional()
      .describe(
        `Weight of the KL penalty to the reference (the base model); 0 (TRL's default) skips it. ${EXTENSION}`,
      ),
    loss_type: z
      .enum(['grpo', 'dr_grpo', 'dapo', 'bnpo'])
      .optional()
      .describe(
        `How per-token losses are averaged, as TRL's GRPOConfig.loss_type (default dapo). ${EXTENSION}`,
      ),
    temperature: z
      .number()
      .gt(0)
      .max(2)
      .optional()
      .describe(
        `Sampling temperature of the rollouts (default 1); the loss's log-probs use it too, as TRL's. ${EXTENSION}`,
      ),
    top_p: z
      .number()
      .gt(0)
      .max(1)
      .optional()
      .describe(`Nucleus sampling of the rollouts, (0, 1] (default 1). ${EXTENSION}`),
    max_completion_tokens: z
      .union([auto, z.number().int().min(1).max(4096)])
      .optional()
      .describe(`Tokens per sampled completion at most. ${EXTENSION}`),
    scale_rewards: z
      .enum(['group', 'batch', 'none'])
      .optional()
      .describe(
        `Divide advantages by the group's or the batch's reward std, or not (Dr. GRPO). ${EXTENSION}`,
      ),
  })
  .meta({
    id: 'ReinforcementHyperparameters',
    description: 'Reinforcement fine-tuning hyperparameters: OpenAI’s plus tunekit’s GRPO extensions.',
  });

export const FineTuningMethodSchema = z
  .strictObject({
    type: z.enum(['supervised', 'dpo', 'kto', 'reinforcement']),
    supervised: z.strictObject({ hyperparameters: SupervisedHyperparametersSchema.optional() }).optional(),
    dpo: z.strictObject({ hyperparameters: DpoHyperparametersSchema.optional() }).optional(),
    kto: z
      .strictObject({ hyperparameters: KtoHyperparametersSchema.optional() })
      .optional()
      .describe(`KTO on unpaired rows (\`{"input", "output", "label"}\`). ${EXTENSION}`),
    reinforcement: z
      .strictObject({
        grader: GraderSchema,
        hyperparameters: ReinforcementHyperparametersSchema.optional(),
        response_format: z.record(z.string(), z.unknown()).nullable().optional(),
      })
      .optional(),
  })
  .superRefine((method, ctx) => {
    for (const key of ['supervised', 'dpo', 'kto', 'reinforcement'] as const) {
      if (key !== method.type && method[key] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `not allowed when method.type is "${method.type}"`,
        });
      }
    }
    if (method.type === 'reinforcement' && method.reinforcement === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['reinforcement'],
        message: 'required when method.type is "reinforcement"',
      });
    }
  })
  .meta({
    id: 'FineTuningMethod',
    description: 'Training method. Default `supervised`. The key named by `type` carries its settings.',
  });
export type FineTuningMethod = z.infer<typeof FineTuningMethodSchema>;

export const LoraTrainingTypeSchema = z
  .strictObject({
    type: z.literal('lora'),
    r: z.number().int().min(1).max(1024).optional().describe('LoRA rank.'),
    alpha: z.number().positive().optional().describe('LoRA scaling numerator: updates scale by alpha / r.'),
    dropout: z.number().min(0).lt(1).optional().describe('Dropout on the LoRA input, in [0, 1).'),
    target_modules: z
      .union([z.literal('all-linear'), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('Module names to adapt (e.g. `q_proj`, `v_proj`), or `all-linear`.'),
    use_rslora: z.boolean().optional().describe('Rank-stabilized LoRA: scale by alpha / sqrt(r).'),
  })
  .meta({
    id: 'LoraTrainingType',
    description: `Train low-rank adapters; unset fields take the server's defaults. ${EXTENSION}`,
  });

export const FullTrainingTypeSchema = z
  .strictObject({ type: z.literal('full') })
  .meta({ id: 'FullTrainingType', description: `Train every weight of the model. ${EXTENSION}` });

export const TrainingTypeSchema = z
  .discriminatedUnion('type', [LoraTrainingTypeSchema, FullTrainingTypeSchema])
  .meta({
    id: 'TrainingType',
    description: `LoRA (the default when omitted) or full fine-tuning, as Together has it. ${EXTENSION}`,
  });
export type TrainingType = z.infer<typeof TrainingTypeSchema>;

export const WandbIntegrationSchema = z
  .strictObject({
    type: z.literal('wandb'),
    wandb: z.strictObject({
      project: z.string().min(1),
      name: z.string().nullable().optional(),
      entity: z.string().nullable().optional(),
      tags: z.array(z.string()).optional(),
    }),
  })
  .meta({ id: 'FineTuningIntegration', description: 'A Weights and Biases integration.' });

const NCheckpointsSchema = z
  .number()
  .int()
  .min(1)
  .max(100)
  .describe(`Number of checkpoints saved over the run, 1 to 100; the last is the final model. ${EXTENSION}`);

export const JobCreateParamsSchema = z
  .strictObject({
    model: z.string().min(1).describe('Base model, or a fine-tuned model to continue from.'),
    training_file: z.string().min(1).describe('Id of an uploaded JSONL file with purpose `fine-tune`.'),
    validation_file: z.string().min(1).nullable().optional(),
    suffix: z
      .string()
      .min(1)
      .max(64)
      .nullable()
      .optional()
      .describe('Up to 64 characters in the model name.'),
    seed: z.number().int().min(0).max(2147483647).nullable().optional().describe('Generated when omitted.'),
    method: FineTuningMethodSchema.optional(),
    hyperparameters: FineTuningJobHyperparametersSchema.optional().describe(
      'Deprecated: use `method.supervised.hyperparameters`.',
    ),
    integrations: z.array(WandbIntegrationSchema).max(5).nullable().optional(),
    metadata: MetadataSchema.nullable().optional(),
    training_type: TrainingTypeSchema.nullable().optional(),
    n_checkpoints: NCheckpointsSchema.optional(),
  })
  .meta({ id: 'JobCreateParams', description: 'Body of `POST /v1/fine_tuning/jobs`.' });
export type JobCreateParams = z.infer<typeof JobCreateParamsSchema>;

export const JobListParamsSchema = z.object({
  after: AfterParamSchema.optional(),
  limit: limitParamSchema(100, DEFAULT_LIMIT.fineTuningJobs).optional(),
  metadata: z
    .record(z.string(), z.string())
    .nullable()
    .optional()
    .describe('Filter: `metadata[k]=v` keeps jobs whose metadata has k = v; `metadata=` keeps jobs without.'),
});
export type JobListParams = z.infer<typeof JobListParamsSchema>;

export const FineTuningJobErrorSchema = z
  .object({
    code: z.string().describe('Machine-readable code, e.g. `invalid_n_examples`.'),
    message: z.string(),
    param: z.string().nullable().describe('The parameter at fault, e.g. `training_file`.'),
  })
  .meta({ id: 'FineTuningJobError', description: 'Why a job failed.' });

export const FineTuningJobSchema = z
  .object({
    id: idSchema('fineTuningJob'),
    object: z.literal('fine_tuning.job'),
    created_at: UnixSecondsSchema,
    error: FineTuningJobErrorSchema.nullable().describe('Null unless the job failed.'),
    fine_tuned_model: z.string().nullable().describe('`ft:{base}:{org}:{suffix}:{id}` once succeeded.'),
    finished_at: UnixSecondsSchema.nullable(),
    hyperparameters: FineTuningJobHyperparametersSchema.nullable(),
    model: z.string(),
    organization_id: z.string(),
    result_files: z.array(z.string()).describe('Result file ids (CSV metrics); empty until done.'),
    seed: z.number().int(),
    status: FineTuningJobStatusSchema,
    trained_tokens: z.number().int().nonnegative().nullable(),
    training_file: z.string(),
    validation_file: z.string().nullable(),
    estimated_finish: UnixSecondsSchema.nullable().optional(),
    integrations: z.array(WandbIntegrationSchema).nullable().optional(),
    metadata: MetadataSchema.nullable().optional(),
    method: FineTuningMethodSchema.optional(),
    user_provided_suffix: z.string().nullable().optional(),
    training_type: TrainingTypeSchema.nullable().optional(),
    n_checkpoints: NCheckpointsSchema.optional(),
  })
  .meta({ id: 'FineTuningJob', description: 'A fine-tuning job (`fine_tuning.job`).' });
export type FineTuningJob = z.infer<typeof FineTuningJobSchema>;

export const FineTuningJobListSchema = cursorListSchema(FineTuningJobSchema).meta({
  id: 'FineTuningJobList',
  description: 'A page of jobs, newest first.',
});
export type FineTuningJobList = z.infer<typeof FineTuningJobListSchema>;

export const FineTuningJobMetricsDataSchema = z
  .object({
    step: z.number().int(),
    train_loss: z.number(),
    total_steps: z.number().int(),
    train_mean_token_accuracy: z.number().optional(),
    valid_loss: z.number().optional(),
    valid_mean_token_accuracy: z.number().optional(),
    full_valid_loss: z.number().optional(),
    full_valid_mean_token_accuracy: z.number().optional(),
    learning_rate: z.number().optional().describe(`Learning rate used for the step. ${EXTENSION}`),
    tokens: z.number().int().optional().describe(`Tokens trained on in the step. ${EXTENSION}`),
    ...preferenceMetricFields(),
  })
  .meta({
    id: 'FineTuningJobMetricsData',
    description: 'The `data` of a `metrics` event: one training step.',
  });

export const FineTuningJobEventSchema = z
  .object({
    id: idSchema('fineTuningJobEvent'),
    object: z.literal('fine_tuning.job.event'),
    created_at: UnixSecondsSchema,
    level: z.enum(['info', 'warn', 'error']),
    message: z.string(),
    type: z.enum(['message', 'metrics']).optional(),
    data: z
      .union([FineTuningJobMetricsDataSchema, z.record(z.string(), z.unknown())])
      .nullable()
      .optional()
      .describe('Metrics for `metrics` events; `{}` or null for messages.'),
  })
  .meta({ id: 'FineTuningJobEvent', description: 'One event of a job (`fine_tuning.job.event`).' });
export type FineTuningJobEvent = z.infer<typeof FineTuningJobEventSchema>;

export const FineTuningJobEventListSchema = cursorListSchema(FineTuningJobEventSchema).meta({
  id: 'FineTuningJobEventList',
  description: 'A page of events, newest first.',
});
export type FineTuningJobEventList = z.infer<typeof FineTuningJobEventListSchema>;

export const JobEventListParamsSchema = z.object({
  after: AfterParamSchema.optional(),
  limit: limitParamSchema(100, DEFAULT_LIMIT.fineTuningJobEvents).optional(),
  stream: z
    .stringbool({ truthy: ['true', '1'], falsy: ['false', '0'] })
    .optional()
    .meta({
      // Query text parsed to a boolean; the document shows the boolean.
      type: 'boolean',
      description: `\`true\`: answer with a live text/event-stream instead of a page (as does Accept). ${EXTENSION}`,
    } as { description: string }),
});
export type JobEventListParams = z.infer<typeof JobEventListParamsSchema>;

/** The SSE `data:` line that ends a live event stream once the job is terminal (as the legacy API did). */
export const EVENT_STREAM_DONE = '[DONE]';

export const JobEventStreamHeadersSchema = z.object({
  'last-event-id': z
    .string()
    .min(1)
    .optional()
    .describe('Resume a live stream: only events after this event id are sent.'),
});

export const FineTuningJobCheckpointMetricsSchema = z
  .object({
    step: z.number().optional(),
    train_loss: z.number().optional(),
    train_mean_token_accuracy: z.number().optional(),
    valid_loss: z.number().optional(),
    valid_mean_token_accuracy: z.number().optional(),
    full_valid_loss: z.number().optional(),
    full_valid_mean_token_accuracy: z.number().optional(),
    train_reward_mean: z
      .number()
      .optional()
      .describe('Reinforcement jobs: the mean train reward of the step.'),
    valid_reward_mean: z
      .number()
      .optional()
      .describe(
        'Reinforcement jobs: the mean validation reward (the best three checkpoints by it are kept).',
      ),
    full_valid_mean_reward: z.number().optional().describe('Reinforcement jobs: as valid_reward_mean.'),
  })
  .meta({ id: 'FineTuningJobCheckpointMetrics', description: 'Metrics at the checkpoint step.' });

export const FineTuningJobCheckpointSchema = z
  .object({
    id: idSchema('fineTuningJobCheckpoint'),
    object: z.literal('fine_tuning.job.checkpoint'),
    created_at: UnixSecondsSchema,
    fine_tuned_model_checkpoint: z
      .string()
      .describe('Model name of the checkpoint: `…:ckpt-step-N`, or the final `fine_tuned_model`.'),
    fine_tuning_job_id: z.string(),
    step_number: z.number().int().nonnegative(),
    metrics: FineTuningJobCheckpointMetricsSchema,
  })
  .meta({ id: 'FineTuningJobCheckpoint', description: 'A checkpoint saved during a job.' });
export type FineTuningJobCheckpoint = z.infer<typeof FineTuningJobCheckpointSchema>;

export const FineTuningJobCheckpointListSchema = cursorListWithIdsSchema(FineTuningJobCheckpointSchema).meta({
  id: 'FineTuningJobCheckpointList',
  description: 'A page of checkpoints, newest (highest step) first.',
});
export type FineTuningJobCheckpointList = z.infer<typeof FineTuningJobCheckpointListSchema>;

export const CheckpointListParamsSchema = z.object({
  after: AfterParamSchema.optional(),
  limit: limitParamSchema(100, DEFAULT_LIMIT.fineTuningJobCheckpoints).optional(),
});
export type CheckpointListParams = z.infer<typeof CheckpointListParamsSchema>;
