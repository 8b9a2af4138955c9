/** Files: `POST /v1/files` (multipart), list, retrieve, delete, content. Reference §1.1, §2.1, §6. */
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

/** Purposes a file object can carry (the response enum). */
export const FilePurposeSchema = z
  .enum([
    'assistants',
    'assistants_output',
    'batch',
    'batch_output',
    'fine-tune',
    'fine-tune-results',
    'vision',
    'user_data',
  ])
  .meta({
    id: 'FilePurpose',
    description: 'What a file is for. `fine-tune-results` marks a job result file.',
  });
export type FilePurpose = z.infer<typeof FilePurposeSchema>;

/** Purposes accepted on upload (`evals` is accepted on create only). */
export const FileCreatePurposeSchema = z
  .enum(['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'])
  .meta({ id: 'FileCreatePurpose', description: 'Purposes accepted by `POST /v1/files`.' });

export const FileStatusSchema = z.enum(['uploaded', 'processed', 'error']).meta({
  id: 'FileStatus',
  description: 'Deprecated by OpenAI but still sent: processing state of the file.',
});

export const FileObjectSchema = z
  .object({
    id: idSchema('file').describe('File id, `file-` + alphanumerics.'),
    object: z.literal('file'),
    bytes: z.number().int().nonnegative().describe('Size of the file in bytes.'),
    created_at: UnixSecondsSchema,
    expires_at: UnixSecondsSchema.optional().describe('When the file expires; absent when it never does.'),
    filename: z.string().describe('Name taken from the multipart part.'),
    purpose: FilePurposeSchema,
    status: FileStatusSchema,
    status_details: z
      .string()
      .nullable()
      .optional()
      .describe('Deprecated. Why processing failed, if it did.'),
  })
  .meta({ id: 'FileObject', description: 'An uploaded file.' });
export type FileObject = z.infer<typeof FileObjectSchema>;

export const FileDeletedSchema = deletedSchema('file').meta({
  id: 'FileDeleted',
  description: 'Confirmation that a file was deleted.',
});
export type FileDeleted = z.infer<typeof FileDeletedSchema>;

export const FileListSchema = cursorListWithIdsSchema(FileObjectSchema).meta({
  id: 'FileList',
  description: 'A page of files, newest first unless `order=asc`.',
});
export type FileList = z.infer<typeof FileListSchema>;

export const FileExpiresAfterSchema = z
  .strictObject({
    anchor: z.literal('created_at'),
    // Multipart fields are text (`expires_after[seconds]=3600`), hence the coercion.
    seconds: z.coerce.number().int().min(3600).max(2592000),
  })
  .meta({
    id: 'FileExpiresAfter',
    description: 'Expiry policy: the file expires `seconds` (3600 to 2592000) after `anchor`.',
  });

/**
 * Fields of the multipart upload. `file` is the binary part; the server streams it to disk and validates
 * the text fields with `FileCreateFieldsSchema` after folding `expires_after[…]` with `foldBracketQuery`.
 */
export const FileCreateParamsSchema = z
  .strictObject({
    file: z.file().describe('The file to upload (JSONL for `fine-tune`). Its filename comes from the part.'),
    purpose: FileCreatePurposeSchema,
    expires_after: FileExpiresAfterSchema.optional(),
  })
  .meta({ id: 'FileCreateParams', description: 'multipart/form-data body of `POST /v1/files`.' });
export type FileCreateParams = z.infer<typeof FileCreateParamsSchema>;

/** The text fields of `FileCreateParams`, for validating a multipart upload whose file part is a stream. */
export const FileCreateFieldsSchema = FileCreateParamsSchema.omit({ file: true });
export type FileCreateFields = z.infer<typeof FileCreateFieldsSchema>;

export const FileListParamsSchema = z.object({
  purpose: z.string().min(1).optional().describe('Only return files with this purpose.'),
  limit: limitParamSchema(10000, DEFAULT_LIMIT.files).optional(),
  after: AfterParamSchema.optional(),
  order: z
    .enum(['asc', 'desc'])
    .optional()
    .meta({ description: 'Sort order by `created_at`. Default `desc`.', default: 'desc' }),
});
export type FileListParams = z.infer<typeof FileListParamsSchema>;

export const FileIdPathSchema = z.object({ file_id: z.string().min(1).describe('The id of the file.') });
