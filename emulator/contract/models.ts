/** Models: list, retrieve, delete (fine-tuned models only). Reference §1.7. */
import { z } from 'zod';
import { deletedSchema, UnixSecondsSchema } from './common';

export const ModelSchema = z
  .object({
    id: z.string().describe('Model id: a base model name or `ft:{base}:{org}:{suffix}:{id}`.'),
    object: z.literal('model'),
    created: UnixSecondsSchema,
    owned_by: z.string().describe('`system` for base models, the organization for fine-tuned ones.'),
    shutdown_date: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/)
      .nullable()
      .optional()
      .describe('`YYYY-MM-DD` after which the model is no longer served.'),
  })
  .meta({ id: 'Model', description: 'A model that chat completions and jobs can use.' });
export type Model = z.infer<typeof ModelSchema>;

export const ModelListSchema = z
  .object({ object: z.literal('list'), data: z.array(ModelSchema) })
  .meta({ id: 'ModelList', description: 'Every model, in one page.' });
export type ModelList = z.infer<typeof ModelListSchema>;

export const ModelDeletedSchema = deletedSchema('model').meta({
  id: 'ModelDeleted',
  description: 'Confirmation that a fine-tuned model was deleted.',
});
export type ModelDeleted = z.infer<typeof ModelDeletedSchema>;
