/** Files: multipart upload streamed to the store, list, retrieve, delete, raw content. */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Multipart, MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { DEFAULT_LIMIT, foldBracketQuery } from '../contract/common';
import { type FileCreateFields, FileCreateFieldsSchema, type FilePurpose } from '../contract/files';
import { badRequest, notFound } from '../http/errors';
import type { FileUpload } from '../store/index';
import type { RouteHandler } from './context';

/** How far into a fine-tune upload the JSONL sniff looks for the end of the first line. */
const JSONL_SNIFF_BYTES = 8 * 1024 * 1024;

export const createFile: RouteHandler<'createFile'> = async (context) => {
  try {
    return await storeUpload(context);
  } catch (error) {
    throw asMultipartError(error);
  }
};

/**
 * Errors of the multipart parser (busboy: no boundary, truncated or malformed parts) are the client's; they
 * carry no status, so they are turned into a 400. Errors with a status pass through, and so do system errors
 * of the store's disk writes (they carry a `syscall`), which are the server's.
 */
function asMultipartError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof z.ZodError) return error;
  if ('statusCode' in error || 'status' in error || 'syscall' in error) return error;
  return badRequest(`Malformed multipart/form-data body: ${error.message}.`, null, 'invalid_multipart');
}

async function storeUpload({ request, caller, services }: Parameters<RouteHandler<'createFile'>>[0]) {
  if (!request.isMultipart()) {
    throw badRequest(
      'Uploads must be multipart/form-data with a `file` part and a `purpose` field.',
      'file',
      'invalid_content_type',
    );
  }
  const parts = request.parts();
  const fields: Record<string, unknown> = {};
  const filePart = await readFieldsUntilFile(parts, fields);
  if (!filePart) {
    throw badRequest("Missing required parameter: 'file'.", 'file', 'missing_required_parameter');
  }
  let parsed: FileCreateFields | undefined;
  const filename = filePart.filename || 'unknown_file';
  const upload: FileUpload = {
    filename,
    // The official SDK sends `file` before `purpose`, so the text fields are only known once the bytes are
    // stored (in tmp); `check` reads them and the store reads these getters when it inserts the row.
    get purpose(): FilePurpose {
      return storedPurpose(parsed!.purpose);
    },
    get expiresAfterSeconds() {
      return parsed?.expires_after?.seconds;
    },
    content: filePart.file,
    maxBytes: services.maxUploadBytes,
    check: async (blobPath, bytes) => {
      await readRemainingFields(parts, fields);
      parsed = FileCreateFieldsSchema.parse(foldBracketQuery(fields));
      if (parsed.purpose === 'fine-tune') await checkJsonl(filename, blobPath, bytes);
    },
  };
  return services.store.files.createFromUpload(caller!.projectId, upload);
}

/** `evals` is accepted on upload but is not a purpose a file object carries; such files are user data. */
function storedPurpose(purpose: FileCreateFields['purpose']): FilePurpose {
  return purpose === 'evals' ? 'user_data' : purpose;
}

type Parts = ReturnType<FastifyRequest['parts']>;

async function readFieldsUntilFile(
  parts: Parts,
  fields: Record<string, unknown>,
): Promise<MultipartFile | undefined> {
  for (;;) {
    const { value, done } = await parts.next();
    if (done) return undefined;
    const part = value as Multipart;
    if (part.type === 'file') {
      if (part.fieldname === 'file') return part;
      part.file.resume();
      throw badRequest(`Unexpected file part '${part.fieldname}': send the file as 'file'.`, part.fieldname);
    }
    fields[part.fieldname] = part.value;
  }
}

async function readRemainingFields(parts: Parts, fields: Record<string, unknown>): Promise<void> {
  for (;;) {
    const { value, done } = await parts.next();
    if (done) return;
    const part = value as Multipart;
    if (part.type === 'file') {
      part.file.resume();
      throw badRequest('Send exactly one file per upload.', part.fieldname);
    }
    fields[part.fieldname] = part.value;
  }
}

/**
 * Fine-tuning data must be JSONL: a `.jsonl` name (when the name has an extension) and a first line that
 * is a JSON object. Each line is checked later, when a job validates the file, so errors can name the line.
 */
async function checkJsonl(filename: string, blobPath: string, bytes: number): Promise<void> {
  const extension = /\.([^./\\]+)$/.exec(filename)?.[1]?.toLowerCase();
  const refuse = (why: string) =>
    badRequest(
      `Invalid file format for Fine-Tuning API. Must be .jsonl (${why}).`,
      'file',
      'invalid_file_format',
    );
  if (extension !== undefined && extension !== 'jsonl') throw refuse(`got a .${extension} file`);
  if (bytes === 0) throw refuse('the file is empty');
  const handle = await open(blobPath, 'r');
  let head: string;
  try {
    const buffer = Buffer.alloc(Math.min(bytes, JSONL_SNIFF_BYTES));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
  const firstLine = head
    .replace(/^\uFEFF/, '')
    .split('\n')
    .find((line) => line.trim() !== '');
  if (firstLine === undefined) throw refuse('the file holds only blank lines');
  const complete = head.includes('\n') || bytes <= JSONL_SNIFF_BYTES;
  if (!complete) return;
  let value: unknown;
  try {
    value = JSON.parse(firstLine);
  } catch {
    throw refuse('line 1 is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw refuse('line 1 is not a JSON object');
  }
}

export const listFiles: RouteHandler<'listFiles'> = ({ caller, query, services }) => ({
  object: 'list',
  ...services.store.files.list(caller!.projectId, {
    purpose: query.purpose,
    order: query.order,
    after: query.after,
    limit: query.limit ?? DEFAULT_LIMIT.files,
  }),
});

export const retrieveFile: RouteHandler<'retrieveFile'> = ({ caller, params, services }) => {
  const file = services.store.files.get(caller!.projectId, params.file_id);
  if (!file) throw notFound('File', params.file_id);
  return file;
};

export const deleteFile: RouteHandler<'deleteFile'> = ({ caller, params, services }) => {
  if (!services.store.files.delete(caller!.projectId, params.file_id)) throw notFound('File', params.file_id);
  return { id: params.file_id, object: 'file', deleted: true };
};

export const downloadFile: RouteHandler<'downloadFile'> = ({ caller, params, services, reply }) => {
  const file = services.store.files.get(caller!.projectId, params.file_id);
  const path = services.store.files.blobPath(caller!.projectId, params.file_id);
  if (!file || !path) throw notFound('File', params.file_id);
  return reply
    .type('application/octet-stream')
    .header('content-length', file.bytes)
    .header('content-disposition', `attachment; filename="${file.filename.replace(/["\\\r\n]/g, '_')}"`)
    .send(createReadStream(path));
};
