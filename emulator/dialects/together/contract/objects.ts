/**
 * Together's fine-tuning dialect: request and response objects, as the `together-ai` 0.52.0 SDK sends and reads
 * them (../../../../../shared/reference/together-wire.md, together-and-others.md §1–§3). Component ids carry a
 * `Together` prefix so that openapi.yaml keeps them apart from OpenAI's.
 */
import { z } from 'zod';

/** Together's upload purposes (its TS SDK's list); stored as the domain purposes of docs/emulator.md. */
export const TogetherFilePurposeSchema = z
  .enum(['fine-tune', 'eval', 'batch-api'])
  .meta({ id: 'TogetherFilePurpose', description: 'What the file is for.' });
export type TogetherFilePurpose = z.infer<typeof TogetherFilePurposeSchema>;

export const TogetherFileTypeSchema = z
  .enum(['jsonl', 'parquet', 'csv'])
  .meta({ id: 'TogetherFileType', description: 'Only `jsonl` is accepted by the tunekit emulator.' });

export const TogetherValidationReportSchema = z
  .object({
    valid: z.boolean(),
    dataset_format: z.string().optional().describe('CONVERSATION, INSTRUCTION, GENERAL or PREFERENCE.'),
    nlines: z.number().int().optional(),
    error: z.string().optional(),
    error_type: z.string().optional(),
    file_id: z.string().optional(),
  })
  .meta({ id: 'TogetherValidationReport', description: 'The result of the file checks run on upload.' });

export const TogetherFileSchema = z
  .object({
    id: z.string(),
    object: z.literal('file'),
    created_at: z.number().int().describe('Unix seconds.'),
    filename: z.string(),
    bytes: z.number().int(),
    purpose: TogetherFilePurposeSchema,
    FileType: TogetherFileTypeSchema,
    Processed: z.boolean(),
    processing_status: z.enum(['PENDING', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'INVALID_FORMAT']),
    validation_report: TogetherValidationReportSchema.optional(),
    type: TogetherFileTypeSchema.describe('The same as `FileType`, as the Python SDK reads it.'),
    LineCount: z.number().int().optional().describe('Lines of a fine-tune file (Python SDK).'),
  })
  .meta({ id: 'TogetherFile', description: 'A file (Together `FileResponse`).' });
export type TogetherFile = z.infer<typeof TogetherFileSchema>;

export const TogetherFileListSchema = z
  .object({ data: z.array(TogetherFileSchema) })
  .meta({ id: 'TogetherFileList', description: 'Every file of the caller, newest first (no paging).' });

export const TogetherFileDeletedSchema = z
  .object({ id: z.string(), object: z.literal('file'), deleted: z.boolean() })
  .meta({ id: 'TogetherFileDeleted', description: 'The file was deleted.' });

/** `POST /files` (form-encoded; the SDK repeats the fields in the query string). */
export const TogetherUploadRequestSchema = z
  .object({
    file_name: z.string().min(1).max(1024).describe('The path the SDK was given; its basename is kept.'),
    file_type: TogetherFileTypeSchema.default('jsonl'),
    purpose: TogetherFilePurposeSchema,
  })
  .meta({ id: 'TogetherUploadRequest', description: 'Asks for a signed upload URL.' });

export const TogetherUploadFieldsSchema = z.object({
  file_name: z.string().min(1).max(1024).optional(),
  file_type: TogetherFileTypeSchema.default('jsonl'),
  purpose: TogetherFilePurposeSchema,
});

export const TogetherMultipartUploadSchema = z
  .object({
    file: z.string().describe('The file (binary).'),
    file_name: z.string().min(1).max(1024),
    file_type: TogetherFileTypeSchema.optional(),
    purpose: TogetherFilePurposeSchema,
  })
  .meta({ id: 'TogetherMultipartUpload', description: 'Body of `POST /files/upload`.' });

export const UploadTokenPathSchema = z.object({
  token: z.string().min(1).max(128).describe('The signed, single-use token of the upload URL.'),
});

export const TogetherMultipartInitiateSchema = z
  .strictObject({
    file_name: z.string().min(1).max(1024),
    file_size: z.number().int().min(1),
    num_parts: z.number().int().min(1).max(250),
    purpose: TogetherFilePurposeSchema,
    file_type: TogetherFileTypeSchema.default('jsonl'),
  })
  .meta({ id: 'TogetherMultipartInitiate', description: 'Starts a multipart upload of `num_parts` parts.' });

export const TogetherMultipartInitiatedSchema = z
  .object({
    upload_id: z.string(),
    file_id: z.string(),
    parts: z.array(
      z.object({ PartNumber: z.number().int(), URL: z.string(), Headers: z.record(z.string(), z.string()) }),
    ),
  })
  .meta({
    id: 'TogetherMultipartInitiated',
    description: 'Where to PUT each part (signed, single-use URLs).',
  });

export const TogetherMultipartCompleteSchema = z
  .strictObject({
    upload_id: z.string().min(1),
    file_id: z.string().min(1),
    parts: z.array(z.object({ part_number: z.number().int().min(1), etag: z.string().min(1) })).min(1),
  })
  .meta({
    id: 'TogetherMultipartComplete',
    description: 'Joins the uploaded parts, in part order, into the file.',
  });

export const TogetherMultipartAbortSchema = z
  .strictObject({ upload_id: z.string().min(1), file_id: z.string().min(1) })
  .meta({ id: 'TogetherMultipartAbort', description: 'Drops a multipart upload and its parts.' });

// ------------------------------------------------------------------------------------------------- fine-tunes

const finiteNumber = z.number().finite();

export const TogetherLrSchedulerSchema = z
  .strictObject({
    lr_scheduler_type: z.enum(['linear', 'cosine']),
    lr_scheduler_args: z
      .strictObject({
        min_lr_ratio: finiteNumber.min(0).max(1).optional(),
        num_cycles: finiteNumber.gt(0).optional(),
      })
      .optional(),
  })
  .meta({ id: 'TogetherLrScheduler', description: 'Learning-rate decay after warmup.' });

export const TogetherTrainingTypeSchema = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('Lora'),
      lora_r: z.number().int().min(1).max(64).describe('LoRA rank, 1 to the model limit’s `max_rank` (64).'),
      lora_alpha: finiteNumber.positive(),
      lora_dropout: finiteNumber.min(0).lt(1).optional(),
      lora_trainable_modules: z
        .string()
        .min(1)
        .optional()
        .describe('`all-linear` or comma-separated projection names, e.g. `q_proj,v_proj`.'),
    }),
    z.strictObject({ type: z.literal('Full') }),
  ])
  .meta({
    id: 'TogetherTrainingType',
    description: 'LoRA (the default when absent or null) or full training.',
  });

export const TogetherTrainingMethodSchema = z
  .discriminatedUnion('method', [
    z.strictObject({
      method: z.literal('sft'),
      train_on_inputs: z.union([z.boolean(), z.literal('auto')]).optional(),
    }),
    z.strictObject({
      method: z.literal('dpo'),
      dpo_beta: finiteNumber
        .gt(0, 'dpo_beta should be greater than 0')
        .max(
          2,
          'dpo_beta above 2 is not supported by the tunekit emulator (its range is (0, 2], as OpenAI’s)',
        )
        .optional()
        .describe('The DPO beta, in (0, 2] (default 0.1).'),
      dpo_normalize_logratios_by_length: z
        .boolean()
        .optional()
        .describe('Length-normalised log-ratios (TRL’s `sigmoid_norm`).'),
      dpo_reference_free: z.boolean().optional().describe('Reference log-probs taken as 0.'),
      rpo_alpha: finiteNumber
        .min(0, 'rpo_alpha should be non-negative')
        .optional()
        .describe('Weight of the NLL of the preferred answer (RPO); 0 = none.'),
      simpo_gamma: finiteNumber
        .min(0, 'simpo_gamma should be non-negative')
        .optional()
        .describe('SimPO’s target margin; > 0 makes the job SimPO (reference-free, length-normalised).'),
    }),
  ])
  .meta({
    id: 'TogetherTrainingMethod',
    description: 'Supervised fine-tuning or DPO (docs/preference.md maps DPO onto TRL’s losses).',
  });

export const TogetherFineTuneCreateSchema = z
  .strictObject({
    training_file: z.string().min(1),
    model: z.string().min(1).optional().describe('Required unless `from_checkpoint` is given.'),
    validation_file: z.string().min(1).nullable().optional(),
    suffix: z.string().min(1).max(64).nullable().optional(),
    n_epochs: z.number().int().min(1).max(50).optional(),
    n_checkpoints: z.number().int().min(1).max(100).optional(),
    n_evals: z.number().int().min(0).max(100).optional(),
    batch_size: z
      .union([z.number().int().min(1).max(256), z.literal('max')])
      .optional()
      .describe('Examples per step, or `max` (the default): the model limit’s `max_batch_size`.'),
    learning_rate: finiteNumber.positive().max(1).optional(),
    lr_scheduler: TogetherLrSchedulerSchema.optional(),
    warmup_ratio: finiteNumber.min(0).max(1).optional(),
    max_grad_norm: finiteNumber.min(0).optional(),
    weight_decay: finiteNumber.min(0).optional(),
    max_seq_length: z.number().int().min(1).max(1_048_576).optional(),
    packing: z.boolean().optional(),
    random_seed: z.number().int().min(0).max(2147483647).nullable().optional(),
    gradient_accumulation_steps: z.number().int().min(0).optional(),
    train_on_inputs: z
      .union([z.boolean(), z.literal('auto')])
      .optional()
      .describe('Deprecated top-level copy.'),
    training_method: TogetherTrainingMethodSchema.optional(),
    training_type: TogetherTrainingTypeSchema.nullable().optional(),
    from_checkpoint: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A job id or output model name of the caller, optionally `:<step>` for one of its checkpoints.',
      ),
    // The Python SDK's keyword arguments, accepted as a courtesy (folded into `training_type`).
    lora: z.boolean().optional(),
    lora_r: z.number().int().min(1).max(64).optional(),
    lora_alpha: finiteNumber.positive().optional(),
    lora_dropout: finiteNumber.min(0).lt(1).optional(),
    lora_trainable_modules: z.string().min(1).optional(),
    // Known to Together, refused with a clear 400 by the emulator (docs/emulator.md).
    from_hf_model: z.string().optional(),
    hf_model_revision: z.string().optional(),
    hf_api_token: z.string().optional(),
    hf_output_repo_name: z.string().optional(),
    wandb_api_key: z.string().optional(),
    wandb_base_url: z.string().optional(),
    wandb_entity: z.string().optional(),
    wandb_name: z.string().optional(),
    wandb_project_name: z.string().optional(),
    multimodal_params: z.object({ train_vision: z.boolean().optional() }).optional(),
    early_stopping_enabled: z.boolean().optional(),
    early_stopping_patience: z.number().optional(),
    early_stopping_min_delta: z.number().optional(),
    early_stopping_warmup_evals: z.number().optional(),
  })
  .meta({ id: 'TogetherFineTuneCreate', description: 'Body of `POST /fine-tunes`.' });
export type TogetherFineTuneCreate = z.infer<typeof TogetherFineTuneCreateSchema>;

export const TogetherJobStatusSchema = z
  .enum([
    'pending',
    'queued',
    'running',
    'compressing',
    'uploading',
    'cancel_requested',
    'cancelled',
    'error',
    'completed',
  ])
  .meta({ id: 'TogetherJobStatus', description: 'Job state (docs/emulator.md maps the domain’s states).' });

export const TogetherFineTuneSchema = z
  .object({
    id: z.string(),
    status: TogetherJobStatusSchema,
    created_at: z.string().describe('ISO 8601.'),
    updated_at: z.string().describe('ISO 8601.'),
    started_at: z.string().optional(),
    user_id: z.string(),
    owner_address: z.string(),
    model: z.string(),
    model_output_name: z.string().optional().describe('The model to chat with once completed.'),
    adapter_output_name: z.string().optional(),
    training_file: z.string(),
    validation_file: z.string().optional(),
    suffix: z.string().optional(),
    n_epochs: z.number().int().optional(),
    n_checkpoints: z.number().int().optional(),
    n_evals: z.number().int(),
    batch_size: z.union([z.number().int(), z.literal('max')]).optional(),
    learning_rate: z.number().optional(),
    lr_scheduler: TogetherLrSchedulerSchema.optional(),
    warmup_ratio: z.number().optional(),
    max_grad_norm: z.number().optional(),
    weight_decay: z.number().optional(),
    max_seq_length: z.number().int().optional(),
    packing: z.boolean().optional(),
    random_seed: z.number().int(),
    training_method: TogetherTrainingMethodSchema,
    training_type: TogetherTrainingTypeSchema,
    train_on_inputs: z.union([z.boolean(), z.literal('auto')]),
    from_checkpoint: z.string().optional(),
    token_count: z.number().int().optional(),
    total_price: z.number().int(),
    epochs_completed: z.number().int().optional(),
    steps_completed: z.number().int().optional(),
    total_steps: z.number().int().optional(),
    progress: z.object({ estimate_available: z.boolean(), seconds_remaining: z.number() }),
    job_id: z.string(),
    model_output_path: z.string().optional(),
    error: z.string().optional().describe('Why the job failed (status `error`).'),
    events: z.array(z.unknown()).optional(),
  })
  .meta({ id: 'TogetherFineTune', description: 'A fine-tuning job (Together `FinetuneResponse`).' });
export type TogetherFineTune = z.infer<typeof TogetherFineTuneSchema>;

export const TogetherFineTuneListSchema = z
  .object({ data: z.array(TogetherFineTuneSchema) })
  .meta({ id: 'TogetherFineTuneList', description: 'Every job of the caller, newest first (no paging).' });

export const TogetherJobIdPathSchema = z.object({ id: z.string().min(1).describe('The job id.') });

export const TogetherDeleteQuerySchema = z.object({
  force: z.enum(['true', 'false']).optional().describe('Deprecated and unused.'),
});

export const TogetherDeletedJobSchema = z
  .object({ message: z.string() })
  .meta({ id: 'TogetherDeletedJob', description: 'The job and its outputs were deleted.' });

export const TogetherEventSchema = z
  .object({
    object: z.literal('fine-tune-event'),
    created_at: z.string(),
    message: z.string(),
    type: z.string().describe('Together’s event type, e.g. `job_start`, `checkpoint_save`, `job_complete`.'),
    level: z.enum(['info', 'warning', 'error']),
    step: z.number().int().optional(),
    total_steps: z.number().int().optional(),
    checkpoint_path: z.string().optional(),
    model_path: z.string().optional(),
  })
  .meta({ id: 'TogetherEvent', description: 'One event of a job, oldest first.' });

export const TogetherEventListSchema = z
  .object({ data: z.array(TogetherEventSchema) })
  .meta({ id: 'TogetherEventList', description: 'Every event of the job, oldest first (no paging).' });

export const TogetherCheckpointSchema = z
  .object({
    step: z.number().int(),
    path: z.string().describe('The checkpoint’s model name (usable for chat and `from_checkpoint`).'),
    created_at: z.string(),
    checkpoint_type: z.enum(['Intermediate', 'Final']),
    checkpoint: z.enum(['adapter', 'model']),
  })
  .meta({ id: 'TogetherCheckpoint', description: 'A checkpoint of a job.' });

export const TogetherCheckpointListSchema = z
  .object({ data: z.array(TogetherCheckpointSchema) })
  .meta({ id: 'TogetherCheckpointList', description: 'Checkpoints, newest first.' });

export const TogetherMetricsQuerySchema = z.object({
  global_step_from: z.coerce.number().int().min(0).optional(),
  global_step_to: z.coerce.number().int().min(0).optional(),
  logged_at_from: z.iso.datetime({ offset: true }).optional(),
  logged_at_to: z.iso.datetime({ offset: true }).optional(),
  resolution: z.string().optional().describe('Accepted and ignored: every step is returned.'),
});

export const TogetherMetricsSchema = z.object({ metrics: z.array(z.record(z.string(), z.number())) }).meta({
  id: 'TogetherMetrics',
  description: 'One row per step: `train/loss`, `train/learning_rate`, `train/global_step`, `eval/loss`, …',
});

export const TogetherDownloadQuerySchema = z.object({
  ft_id: z.string().min(1).describe('The job id (or `<job id>:<step>`).'),
  checkpoint: z.enum(['merged', 'adapter', 'model_output_path', 'default']).optional(),
  checkpoint_step: z.coerce.number().int().min(0).optional().describe('A listed checkpoint step; 0 = final.'),
});

export const TogetherSupportedModelsSchema = z
  .object({ models: z.array(z.string()) })
  .meta({ id: 'TogetherSupportedModels', description: 'Models that can be fine-tuned.' });

export const TogetherLimitsQuerySchema = z.object({ model_name: z.string().min(1) });

const batchLimits = z.object({
  max_batch_size: z.number().int(),
  max_batch_size_dpo: z.number().int(),
  min_batch_size: z.number().int(),
});

export const TogetherModelLimitsSchema = z
  .object({
    model_name: z.string(),
    max_num_epochs: z.number().int(),
    max_learning_rate: z.number(),
    min_learning_rate: z.number(),
    max_num_checkpoints: z.number().int(),
    max_num_evals: z.number().int(),
    max_seq_length_sft: z.number().int(),
    max_seq_length_dpo: z.number().int(),
    min_max_seq_length: z.number().int(),
    merge_output_lora: z.boolean(),
    supports_full_training: z.boolean(),
    supports_vision: z.boolean(),
    supports_tools: z.boolean(),
    supports_reasoning: z.boolean(),
    default_gradient_accumulation_steps: z.number().int(),
    full_training: batchLimits,
    lora_training: batchLimits.extend({ max_rank: z.number().int(), target_modules: z.array(z.string()) }),
  })
  .meta({ id: 'TogetherModelLimits', description: 'What a model accepts (FinetuneModelLimits).' });

export const TogetherLimitsNotFoundSchema = z
  .object({ message: z.string() })
  .meta({ id: 'TogetherLimitsNotFound', description: 'Unknown model (Together answers `{message}` here).' });

export const TogetherEstimatePriceSchema = z
  .object({
    training_file: z.string().min(1),
    validation_file: z.string().min(1).nullable().optional(),
    model: z.string().min(1).optional(),
    n_epochs: z.number().int().min(1).max(50).optional(),
    n_evals: z.number().int().min(0).optional(),
    training_method: TogetherTrainingMethodSchema.optional(),
    training_type: TogetherTrainingTypeSchema.nullable().optional(),
    from_checkpoint: z.string().optional(),
  })
  .meta({ id: 'TogetherEstimatePriceRequest', description: 'What a job would cost.' });

export const TogetherPriceEstimateSchema = z
  .object({
    estimation_available: z.literal(true),
    estimated_total_price: z.number(),
    allowed_to_proceed: z.boolean(),
    user_limit: z.number(),
    estimated_train_token_count: z.number().int(),
    estimated_eval_token_count: z.number().int(),
  })
  .meta({
    id: 'TogetherPriceEstimate',
    description: 'A local estimate (docs/emulator.md): bytes / 4 tokens × epochs at a published rate.',
  });

export const TogetherPreviewRequestSchema = z
  .object({
    model: z.string().min(1),
    training_file: z.string().min(1),
    top_k: z.number().int().min(1).max(100).optional().describe('Rows to return (default 5).'),
    train_on_inputs: z.union([z.boolean(), z.literal('auto')]).optional(),
    training_method: z.literal('sft').optional(),
  })
  .meta({ id: 'TogetherPreviewRequest', description: 'Tokenizes the first rows of a training file.' });

export const TogetherPreviewSchema = z
  .object({
    dataset_format: z.enum(['general', 'conversation', 'instruction']),
    max_seq_length: z.number().int(),
    model: z.string(),
    train_on_inputs: z.union([z.boolean(), z.literal('auto')]),
    rows: z.array(
      z.object({
        input_ids: z.array(z.number().int()),
        labels: z.array(z.number().int()),
        tokens: z.array(z.string()),
        num_tokens: z.number().int(),
        num_trained_tokens: z.number().int(),
        trained_spans: z.array(z.tuple([z.number().int(), z.number().int()])),
        truncated: z.boolean(),
      }),
    ),
  })
  .meta({
    id: 'TogetherPreview',
    description: 'The first rows as the trainer sees them (-100 = not trained).',
  });

export const TogetherModelSchema = z
  .object({
    id: z.string(),
    object: z.literal('model'),
    created: z.number().int(),
    type: z.enum(['chat', 'language']),
    display_name: z.string(),
    organization: z.string(),
    context_length: z.number().int().optional(),
  })
  .meta({ id: 'TogetherModel', description: 'A model (Together lists them as a bare array).' });

export const TogetherModelListSchema = z
  .array(TogetherModelSchema)
  .meta({ id: 'TogetherModelList', description: 'Every model the caller can use: a bare JSON array.' });
