/**
 * Adapters: tunekit's own resource (not part of the OpenAI API). An adapter is the PEFT folder a job
 * produced (adapter_config.json + adapter_model.safetensors), at its final step or at a checkpoint.
 */
import { z } from 'zod';
import {
  AfterParamSchema,
  cursorListWithIdsSchema,
  DEFAULT_LIMIT,
  deletedSchema,
  idSchema,
  limitParamSchema,
  UnixSecondsSchema,
} from './common';

export const AdapterSchema = z
  .object({
    id: idSchema('adapter').describe('Adapter id, `adapter-` + alphanumerics.'),
    object: z.literal('adapter'),
    fine_tuning_job_id: z.string().describe('The job that trained it.'),
    fine_tuned_model: z.string().describe('Model name that serves it (a checkpoint name for checkpoints).'),
    base_model: z.string().describe('The base model it applies to.'),
    step: z.number().int().nonnegative().describe('Training step at which it was saved.'),
    peft_type: z.enum(['LORA']).describe('PEFT adapter type, as in adapter_config.json.'),
    r: z.number().int().positive().describe('LoRA rank.'),
    lora_alpha: z.number().positive().describe('LoRA alpha.'),
    target_modules: z.array(z.string()).describe('Adapted module names, e.g. `q_proj`.'),
    bytes: z.number().int().nonnegative().describe('Size of adapter_model.safetensors in bytes.'),
    created_at: UnixSecondsSchema,
  })
  .meta({ id: 'Adapter', description: 'A trained LoRA adapter in PEFT format. tunekit extension.' });
export type Adapter = z.infer<typeof AdapterSchema>;

export const AdapterListSchema = cursorListWithIdsSchema(AdapterSchema).meta({
  id: 'AdapterList',
  description: 'A page of adapters, newest first. tunekit extension.',
});
export type AdapterList = z.infer<typeof AdapterListSchema>;

export const AdapterDeletedSchema = deletedSchema('adapter').meta({
  id: 'AdapterDeleted',
  description: 'Confirmation that an adapter was deleted. tunekit extension.',
});
export type AdapterDeleted = z.infer<typeof AdapterDeletedSchema>;

export const AdapterListParamsSchema = z.object({
  fine_tuning_job_id: z.string().min(1).optional().describe('Only adapters trained by this job.'),
  after: AfterParamSchema.optional(),
  limit: limitParamSchema(100, DEFAULT_LIMIT.adapters).optional(),
});
export type AdapterListParams = z.infer<typeof AdapterListParamsSchema>;

export const AdapterContentParamsSchema = z.object({
  format: z.enum(['adapter', 'merged']).optional().meta({
    description:
      '`adapter` (default): the PEFT folder. `merged`: the base model with the adapter merged into its weights.',
    default: 'adapter',
  }),
});
export type AdapterContentParams = z.infer<typeof AdapterContentParamsSchema>;
