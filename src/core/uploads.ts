import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { FinalRequestOptions, RequestOptions } from '../internal/request-options';
import { TunekitError } from './errors';

/**
 * What `files.create({ file })` accepts: a file path, an `fs.ReadStream`, a Blob or File, a Buffer,
 * Uint8Array or ArrayBuffer, or any stream of bytes (web ReadableStream or async iterable).
 * Paths and ReadStreams are sent from the disk as file-backed Blobs (never read into memory, and
 * retryable); other streams are sent once as a chunked multipart body and are not retried.
 */
export type Uploadable =
  | string
  | fs.ReadStream
  | Blob
  | File
  | ArrayBuffer
  | ArrayBufferView
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

/** A file-like value with a name: the result of `toFile`, or any Blob/File. */
export type FileLike = Blob & { readonly name?: string };

/**
 * Makes a named File from a path (file-backed: contents are read lazily while sending), a Blob or bytes.
 * @example
 * await client.files.create({ file: await toFile(Buffer.from(jsonl), 'train.jsonl'), purpose: 'fine-tune' });
 */
export async function toFile(
  value: string | Blob | ArrayBuffer | ArrayBufferView,
  name?: string,
  options: { type?: string } = {},
): Promise<File> {
  if (typeof value === 'string') {
    const blob = await fs.openAsBlob(value, options.type ? { type: options.type } : {});
    return new File([blob], name ?? basename(value), { type: options.type ?? blob.type });
  }
  if (value instanceof Blob) {
    const fileName = name ?? (value as FileLike).name ?? 'unknown_file';
    return new File([value], fileName, { type: options.type ?? value.type });
  }
  const bytes = (
    ArrayBuffer.isView(value)
      ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
      : new Uint8Array(value)
  ) as Uint8Array<ArrayBuffer>;
  return new File([bytes], name ?? 'unknown_file', { type: options.type ?? '' });
}

type ResolvedPart =
  | { kind: 'text'; value: string }
  | { kind: 'blob'; value: Blob; filename: string }
  | StreamPart;
type StreamPart = { kind: 'stream'; value: AsyncIterable<Uint8Array>; filename: string };

/**
 * Builds multipart request options: a FormData of file-backed Blobs when every file can be re-read
 * (retryable), else a hand-streamed multipart body (chunked, `duplex: 'half'`) that is sent once.
 */
export async function multipartFormRequestOptions(
  opts: Omit<FinalRequestOptions, 'method' | 'path'> & { body: Record<string, unknown> },
): Promise<Omit<FinalRequestOptions, 'method' | 'path'>> {
  const parts: Array<[string, ResolvedPart]> = [];
  for (const [key, value] of Object.entries(opts.body)) await addField(parts, key, value);
  const streaming = parts.some(([, part]) => part.kind === 'stream');
  if (!streaming) {
    const form = new FormData();
    for (const [key, part] of parts) {
      if (part.kind === 'text') form.append(key, part.value);
      else if (part.kind === 'blob') form.append(key, part.value, part.filename);
    }
    return { ...opts, body: form };
  }
  const boundary = `tunekit-${randomUUID()}`;
  const headers: RequestOptions['headers'] = {
    ...(opts.headers instanceof Headers ? Object.fromEntries(opts.headers) : opts.headers),
    'content-type': `multipart/form-data; boundary=${boundary}`,
  };
  return { ...opts, headers, body: Readable.toWeb(Readable.from(multipartStream(parts, boundary))) };
}

async function addField(parts: Array<[string, ResolvedPart]>, key: string, value: unknown): Promise<void> {
  if (value === undefined) return;
  if (value === null) throw new TunekitError(`Null is not a valid form value for "${key}"`);
  if (typeof value === 'number' || typeof value === 'boolean') {
    parts.push([key, { kind: 'text', value: String(value) }]);
  } else if (typeof value === 'string') {
    parts.push([key, key === 'file' ? await blobPart(value) : { kind: 'text', value }]);
  } else if (isUploadable(value)) {
    parts.push([key, await uploadablePart(value)]);
  } else if (Array.isArray(value)) {
    for (const item of value) await addField(parts, `${key}[]`, item);
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) await addField(parts, `${key}[${k}]`, v);
  } else {
    throw new TunekitError(`Invalid form value for "${key}": ${typeof value}`);
  }
}

function isUploadable(value: object): value is Exclude<Uploadable, string> {
  return (
    value instanceof Blob ||
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value) ||
    value instanceof ReadableStream ||
    Symbol.asyncIterator in value
  );
}

async function blobPart(path: string): Promise<ResolvedPart> {
  const blob = await fs.openAsBlob(path);
  return { kind: 'blob', value: blob, filename: basename(path) };
}

async function uploadablePart(value: Exclude<Uploadable, string>): Promise<ResolvedPart> {
  if (value instanceof fs.ReadStream && typeof value.path === 'string') {
    // Re-open the file as a file-backed Blob (so a retry can re-read it) and release the stream's descriptor.
    const { start, end } = value as fs.ReadStream & { start?: number; end?: number };
    let blob: Blob = await fs.openAsBlob(value.path);
    if (start !== undefined || (end !== undefined && end !== Number.POSITIVE_INFINITY)) {
      blob = blob.slice(
        start ?? 0,
        end === undefined || end === Number.POSITIVE_INFINITY ? undefined : end + 1,
      );
    }
    value.destroy();
    return { kind: 'blob', value: blob, filename: basename(value.path) };
  }
  if (value instanceof Blob)
    return { kind: 'blob', value, filename: (value as FileLike).name || 'unknown_file' };
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { kind: 'blob', value: await toFile(value), filename: 'unknown_file' };
  }
  const filename = streamFilename(value);
  if (value instanceof ReadableStream)
    return { kind: 'stream', value: Readable.fromWeb(value as never), filename };
  return { kind: 'stream', value, filename };
}

function streamFilename(value: object): string {
  const path = (value as { path?: unknown }).path;
  return typeof path === 'string' ? basename(path) : 'unknown_file';
}

async function* multipartStream(
  parts: Array<[string, ResolvedPart]>,
  boundary: string,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  for (const [key, part] of parts) {
    const name = escapeName(key);
    if (part.kind === 'text') {
      yield encoder.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${part.value}\r\n`,
      );
      continue;
    }
    const type = (part.kind === 'blob' && part.value.type) || 'application/octet-stream';
    yield encoder.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${escapeName(part.filename)}"\r\n` +
        `Content-Type: ${type}\r\n\r\n`,
    );
    if (part.kind === 'blob') {
      for await (const chunk of part.value.stream() as unknown as AsyncIterable<Uint8Array>) yield chunk;
    } else {
      for await (const chunk of part.value) yield typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    }
    yield encoder.encode('\r\n');
  }
  yield encoder.encode(`--${boundary}--\r\n`);
}

function escapeName(value: string): string {
  return value.replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/"/g, '%22');
}
