import type { APIPromise } from '../core/api-promise';
import { UnsupportedFeatureError } from '../core/errors';
import { CursorPage, type CursorPageParams, type PagePromise } from '../core/pagination';
import { APIResource } from '../core/resource';
import { multipartFormRequestOptions, type Uploadable } from '../core/uploads';
import { headersObject } from '../internal/headers';
import { path } from '../internal/path';
import type { RequestOptions } from '../internal/request-options';
import { retrieveFile, TogetherFilesPage, uploadFile } from '../providers/together';

export class Files extends APIResource {
  /**
   * Uploads a file (multipart, streamed from disk: a path or ReadStream is never read into memory).
   * @example
   * const file = await client.files.create({ file: './train.jsonl', purpose: 'fine-tune' });
   */
  create(body: FileCreateParams, options?: RequestOptions): APIPromise<FileObject> {
    if (this._client.provider === 'together') {
      return uploadFile(this._client, body, options);
    }
    return this._client.post('/files', multipartFormRequestOptions({ body: { ...body }, ...options }));
  }

  /**
   * Returns a file's metadata.
   * @example
   * const file = await client.files.retrieve('file-abc123');
   */
  retrieve(fileId: string, options?: RequestOptions): APIPromise<FileObject> {
    if (this._client.provider === 'together') return retrieveFile(this._client, fileId, options);
    return this._client.get(path`/files/${fileId}`, options);
  }

  /**
   * Lists files, newest first; iterate with `for await` to walk every page.
   * @example
   * for await (const file of client.files.list({ purpose: 'fine-tune' })) console.log(file.id);
   */
  list(query: FileListParams = {}, options?: RequestOptions): PagePromise<FileObjectsPage, FileObject> {
    if (this._client.provider === 'together') {
      if (Object.keys(query).length > 0)
        throw new UnsupportedFeatureError('together', 'files.list parameters');
      return this._client.getAPIList('/files', TogetherFilesPage, options);
    }
    return this._client.getAPIList('/files', CursorPage<FileObject>, { query, ...options });
  }

  /**
   * Deletes a file.
   * @example
   * const deleted = await client.files.delete('file-abc123');
   */
  delete(fileId: string, options?: RequestOptions): APIPromise<FileDeleted> {
    if (this._client.provider === 'together') {
      return this._client
        .delete<{ id?: string; deleted?: boolean }>(path`/files/${fileId}`, options)
        ._thenUnwrap((r) => ({ id: r?.id ?? fileId, object: 'file' as const, deleted: r?.deleted ?? true }));
    }
    return this._client.delete(path`/files/${fileId}`, options);
  }

  /**
   * Returns the file's contents as the raw fetch Response (stream it, or call `.text()` / `.arrayBuffer()`).
   * @example
   * const response = await client.files.content('file-abc123');
   * const text = await response.text();
   */
  content(fileId: string, options?: RequestOptions): APIPromise<Response> {
    return this._client.get(path`/files/${fileId}/content`, {
      ...options,
      headers: { accept: 'application/binary', ...headersObject(options?.headers) },
      binaryResponse: true,
    });
  }

  /**
   * Returns the file's contents as text (a convenience over `content`).
   * @example
   * const csv = await client.files.text(job.result_files[0]);
   */
  text(fileId: string, options?: RequestOptions): Promise<string> {
    return this.content(fileId, options).then((response) => response.text());
  }
}

export type FileObjectsPage = CursorPage<FileObject>;

/** The purpose a file is uploaded for. */
export type FilePurpose = 'assistants' | 'batch' | 'fine-tune' | 'vision' | 'user_data' | 'evals';

/** A stored file (`object: "file"`). */
export interface FileObject {
  /** `file-…` */
  id: string;
  object: 'file';
  /** Size in bytes. */
  bytes: number;
  /** Unix seconds. */
  created_at: number;
  /** Unix seconds; absent or null when the file does not expire. */
  expires_at?: number | null;
  /** The name of the uploaded file. */
  filename: string;
  purpose:
    | 'assistants'
    | 'assistants_output'
    | 'batch'
    | 'batch_output'
    | 'fine-tune'
    | 'fine-tune-results'
    | 'vision'
    | 'user_data';
  /** Deprecated: `uploaded`, `processed` or `error`. */
  status: 'uploaded' | 'processed' | 'error';
  /** Deprecated: why validation failed. */
  status_details?: string | null;
}

export interface FileDeleted {
  id: string;
  object: 'file';
  deleted: boolean;
}

export interface FileCreateParams {
  /** A path, ReadStream, Blob/File, Buffer/Uint8Array or byte stream. */
  file: Uploadable;
  purpose: FilePurpose;
  /** Expiration policy; `anchor` is always `created_at`, `seconds` 3600..2592000. */
  expires_after?: { anchor: 'created_at'; seconds: number };
}

export interface FileListParams extends CursorPageParams {
  purpose?: string;
  /** Sort by `created_at`; default `desc`. */
  order?: 'asc' | 'desc';
}
