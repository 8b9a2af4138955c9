/**
 * Together's file routes: the signed-URL upload the SDKs use (form POST → 302 → PUT), the multipart form upload,
 * the multipart-upload flow for big files, and list / retrieve / delete / content over the shared file store.
 * Every fine-tune upload is checked as the `together` CLI checks files (file-check.ts) before it is stored: a
 * failing file is a 400 naming the line and field, and nothing is stored.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Multipart, MultipartFile } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { newId } from '../../../contract/common';
import { badRequest, notFound } from '../../../http/errors';
import { EmulatorError } from '../../../store/errors';
import { type TogetherFilePurpose, TogetherUploadFieldsSchema } from '../contract/objects';
import { TOGETHER_BASE_PATH } from '../contract/routes';
import { checkTogetherFile } from '../file-check';
import type { TogetherRouteContext, TogetherRouteHandler, TogetherServices } from './context';
import { domainPurpose, toTogetherFile } from './objects';
import type { UploadGrant } from './signed-uploads';

/** The emulator trains on JSONL only; Parquet (pre-tokenized) and CSV are refused up front. */
function requireJsonl(fileType: string): void {
  if (fileType !== 'jsonl') {
    throw badRequest(
      `file_type '${fileType}' is not supported by the tunekit emulator: upload a .jsonl file.`,
      'file_type',
      'unsupported_file_type',
    );
  }
}

/** The absolute base of this server as the client reached it (the SDK PUTs to the URL verbatim). */
function origin(request: FastifyRequest): string {
  const forwardedProto = request.headers['x-forwarded-proto'];
  const proto = typeof forwardedProto === 'string' ? forwardedProto.split(',')[0]!.trim() : request.protocol;
  const forwardedHost = request.headers['x-forwarded-host'];
  const host = typeof forwardedHost === 'string' ? forwardedHost.split(',')[0]!.trim() : request.host;
  return `${proto}://${host}`;
}

function uploadUrl(request: FastifyRequest, token: string): string {
  return `${origin(request)}${TOGETHER_BASE_PATH}/uploads/${token}`;
}

/** Stores an upload under its announced id, after Together's checks for fine-tune files. */
function storeUpload(
  services: TogetherServices,
  grant: Omit<UploadGrant, 'part'>,
  content: AsyncIterable<Uint8Array>,
) {
  return services.store.files.createFromUpload(grant.projectId, {
    id: grant.fileId,
    filename: grant.filename,
    purpose: grant.purpose,
    content,
    maxBytes: services.maxUploadBytes,
    check: async (blobPath) => {
      await checkTogetherFile(blobPath, grant.togetherPurpose);
    },
  });
}

export const togetherRequestUpload: TogetherRouteHandler<'togetherRequestUpload'> = ({
  caller,
  body,
  request,
  reply,
  services,
}) => {
  requireJsonl(body.file_type);
  const fileId = newId('file');
  const token = services.uploads.issue({
    projectId: caller.projectId,
    fileId,
    filename: basename(body.file_name),
    purpose: domainPurpose(body.purpose),
    togetherPurpose: body.purpose,
  });
  return reply
    .code(302)
    .header('location', uploadUrl(request, token))
    .header('x-together-file-id', fileId)
    .send();
};

export const togetherPutUpload: TogetherRouteHandler<'togetherPutUpload'> = async ({
  params,
  body,
  request,
  reply,
  services,
}) => {
  const stream = (body ?? request.raw) as Readable;
  let grant: UploadGrant;
  try {
    grant = services.uploads.take(params.token);
  } catch (error) {
    stream.resume(); // drain, so the 403 reaches the client
    throw error;
  }
  if (grant.part) return storePart(services, grant, stream, reply);
  await storeUpload(services, grant, stream);
  return reply.code(200).send();
};

async function storePart(
  services: TogetherServices,
  grant: UploadGrant,
  stream: Readable,
  reply: TogetherRouteContext<'togetherPutUpload'>['reply'],
) {
  const part = grant.part!;
  const upload = services.uploads.multipart.get(part.uploadId);
  if (!upload) {
    stream.resume();
    throw new EmulatorError(
      404,
      `No multipart upload ${part.uploadId} in progress.`,
      'upload_id',
      'upload_not_found',
    );
  }
  let bytes = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > services.maxUploadBytes) {
        return done(
          new EmulatorError(413, 'The part is larger than the server accepts.', 'file', 'file_too_large'),
        );
      }
      done(null, chunk);
    },
  });
  await pipeline(stream, limit, createWriteStream(join(upload.dir, `part-${part.partNumber}`)));
  const etag = `"${randomBytes(16).toString('hex')}"`;
  upload.etags.set(part.partNumber, etag);
  return reply.code(200).header('etag', etag).send();
}

export const togetherUploadFile: TogetherRouteHandler<'togetherUploadFile'> = async ({
  caller,
  request,
  services,
}) => {
  if (!request.isMultipart()) {
    throw badRequest(
      'Send multipart/form-data with `purpose`, `file_name` and a `file` part.',
      'file',
      'invalid_content_type',
    );
  }
  const fields: Record<string, unknown> = {};
  let filePart: MultipartFile | undefined;
  for await (const part of request.parts() as AsyncIterable<Multipart>) {
    if (part.type === 'file') {
      if (part.fieldname !== 'file' || filePart) {
        part.file.resume();
        throw badRequest(
          `Unexpected file part '${part.fieldname}': send one file as 'file'.`,
          part.fieldname,
        );
      }
      // The text fields come first in Together's spec; the bytes are stored once they are known.
      const parsed = TogetherUploadFieldsSchema.parse(fields);
      requireJsonl(parsed.file_type);
      filePart = part;
      return toTogetherFile(
        await storeUpload(
          services,
          {
            projectId: caller.projectId,
            fileId: newId('file'),
            filename: basename(parsed.file_name ?? part.filename ?? 'file.jsonl'),
            purpose: domainPurpose(parsed.purpose),
            togetherPurpose: parsed.purpose,
          },
          part.file,
        ),
      );
    }
    fields[part.fieldname] = part.value;
  }
  throw badRequest("Missing required parameter: 'file'.", 'file', 'missing_required_parameter');
};

export const togetherInitiateMultipart: TogetherRouteHandler<'togetherInitiateMultipart'> = ({
  caller,
  body,
  request,
  services,
}) => {
  requireJsonl(body.file_type);
  if (body.file_size > services.maxUploadBytes) {
    throw new EmulatorError(
      413,
      `file_size ${body.file_size} is larger than the server accepts.`,
      'file_size',
      'file_too_large',
    );
  }
  const uploadId = `upload-${randomBytes(12).toString('hex')}`;
  const fileId = newId('file');
  const dir = join(services.store.paths.tmp, uploadId);
  mkdirSync(dir, { recursive: true });
  const common = {
    projectId: caller.projectId,
    fileId,
    filename: basename(body.file_name),
    purpose: domainPurpose(body.purpose),
    togetherPurpose: body.purpose as TogetherFilePurpose,
  };
  services.uploads.multipart.set(uploadId, { ...common, numParts: body.num_parts, dir, etags: new Map() });
  const parts = Array.from({ length: body.num_parts }, (_, i) => ({
    PartNumber: i + 1,
    URL: uploadUrl(request, services.uploads.issue({ ...common, part: { uploadId, partNumber: i + 1 } })),
    Headers: { 'Content-Type': 'application/octet-stream' },
  }));
  return { upload_id: uploadId, file_id: fileId, parts };
};

function takeMultipart(services: TogetherServices, projectId: string, uploadId: string, fileId: string) {
  const upload = services.uploads.multipart.get(uploadId);
  if (!upload || upload.projectId !== projectId || upload.fileId !== fileId) {
    throw new EmulatorError(
      404,
      `No multipart upload ${uploadId} for file ${fileId} in progress.`,
      'upload_id',
      'upload_not_found',
    );
  }
  return upload;
}

export const togetherCompleteMultipart: TogetherRouteHandler<'togetherCompleteMultipart'> = async ({
  caller,
  body,
  services,
}) => {
  const upload = takeMultipart(services, caller.projectId, body.upload_id, body.file_id);
  const listed = [...body.parts].sort((a, b) => a.part_number - b.part_number);
  listed.forEach((part, i) => {
    if (part.part_number !== i + 1 || upload.etags.get(part.part_number) !== part.etag) {
      throw badRequest(
        `parts[${i}]: part ${part.part_number} was not uploaded with ETag ${part.etag}; list every part 1..${upload.numParts} with the ETag its PUT returned.`,
        `parts[${i}]`,
        'invalid_part',
      );
    }
  });
  if (listed.length !== upload.numParts) {
    throw badRequest(`Expected ${upload.numParts} parts, got ${listed.length}.`, 'parts', 'invalid_part');
  }
  services.uploads.multipart.delete(body.upload_id);
  services.uploads.revoke(body.upload_id);
  async function* joined() {
    for (let n = 1; n <= upload.numParts; n++) yield* createReadStream(join(upload.dir, `part-${n}`));
  }
  try {
    return toTogetherFile(await storeUpload(services, upload, Readable.from(joined())));
  } finally {
    rmSync(upload.dir, { recursive: true, force: true });
  }
};

export const togetherAbortMultipart: TogetherRouteHandler<'togetherAbortMultipart'> = ({
  caller,
  body,
  services,
}) => {
  const upload = takeMultipart(services, caller.projectId, body.upload_id, body.file_id);
  services.uploads.multipart.delete(body.upload_id);
  services.uploads.revoke(body.upload_id);
  rmSync(upload.dir, { recursive: true, force: true });
  return { upload_id: body.upload_id, aborted: true };
};

export const togetherListFiles: TogetherRouteHandler<'togetherListFiles'> = ({ caller, services }) => {
  const data = [];
  let after: string | undefined;
  for (;;) {
    const page = services.store.files.list(caller.projectId, { limit: 10_000, after });
    data.push(...page.data.map(toTogetherFile));
    if (!page.has_more) break;
    after = page.last_id ?? undefined;
  }
  return { data };
};

function requireFile(context: { caller: { projectId: string }; services: TogetherServices }, fileId: string) {
  const file = context.services.store.files.get(context.caller.projectId, fileId);
  if (!file) throw notFound('File', fileId, 'file_id');
  return file;
}

export const togetherRetrieveFile: TogetherRouteHandler<'togetherRetrieveFile'> = (context) =>
  toTogetherFile(requireFile(context, context.params.file_id));

export const togetherPreprocessFile: TogetherRouteHandler<'togetherPreprocessFile'> = (context) =>
  toTogetherFile(requireFile(context, context.params.file_id));

export const togetherDeleteFile: TogetherRouteHandler<'togetherDeleteFile'> = ({
  caller,
  params,
  services,
}) => {
  if (!services.store.files.delete(caller.projectId, params.file_id))
    throw notFound('File', params.file_id, 'file_id');
  return { id: params.file_id, object: 'file', deleted: true };
};

export const togetherFileContent: TogetherRouteHandler<'togetherFileContent'> = (context) => {
  const file = requireFile(context, context.params.file_id);
  const path = context.services.store.files.blobPath(context.caller.projectId, file.id)!;
  return context.reply
    .type('application/octet-stream')
    .header('content-length', file.bytes)
    .send(createReadStream(path));
};
