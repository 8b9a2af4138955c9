import fs from 'node:fs/promises';
import nodePath from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import type { APIPromise } from '../core/api-promise';
import { TunekitError } from '../core/errors';
import { CursorPage, type CursorPageParams, type PagePromise } from '../core/pagination';
import { APIResource } from '../core/resource';
import { headersObject } from '../internal/headers';
import { path } from '../internal/path';
import type { RequestOptions } from '../internal/request-options';
import { requireProvider } from '../providers';
import { tarStream, togetherDownload } from '../providers/together';

export class Adapters extends APIResource {
  /**
   * Lists trained adapters, newest first.
   * @example
   * for await (const adapter of client.adapters.list({ fine_tuning_job_id: 'ftjob-abc' })) console.log(adapter.id);
   */
  list(query: AdapterListParams = {}, options?: RequestOptions): PagePromise<AdaptersPage, Adapter> {
    requireProvider(this._client.provider, ['emulator'], 'adapters.list');
    return this._client.getAPIList('/adapters', CursorPage<Adapter>, { query, ...options });
  }

  /**
   * Returns an adapter.
   * @example
   * const adapter = await client.adapters.retrieve('adapter-abc');
   */
  retrieve(adapterId: string, options?: RequestOptions): APIPromise<Adapter> {
    requireProvider(this._client.provider, ['emulator'], 'adapters.retrieve');
    return this._client.get(path`/adapters/${adapterId}`, options);
  }

  /**
   * Deletes an adapter.
   * @example
   * await client.adapters.delete('adapter-abc');
   */
  delete(adapterId: string, options?: RequestOptions): APIPromise<AdapterDeleted> {
    requireProvider(this._client.provider, ['emulator'], 'adapters.delete');
    return this._client.delete(path`/adapters/${adapterId}`, options);
  }

  /**
   * Returns the adapter as a tar archive (the raw Response): the PEFT folder, or with `format: 'merged'`
   * the base model with the adapter merged in.
   * @example
   * const response = await client.adapters.content('adapter-abc');
   */
  content(
    adapterId: string,
    query: AdapterContentParams = {},
    options?: RequestOptions,
  ): APIPromise<Response> {
    requireProvider(
      this._client.provider,
      ['emulator', 'together'],
      'adapters.content',
      'OpenAI serves no weights',
    );
    if (this._client.provider === 'together')
      return togetherDownload(this._client, adapterId, query, options);
    return this._client.get(path`/adapters/${adapterId}/content`, {
      query,
      ...options,
      headers: { accept: 'application/x-tar', ...headersObject(options?.headers) },
      binaryResponse: true,
    });
  }

  /**
   * Downloads the adapter and unpacks it into `dir` (created if needed), streaming: for the default format,
   * `adapter_config.json` and `adapter_model.safetensors`. Resolves with the absolute paths of the files
   * written. Only regular files and folders are extracted, and none outside `dir`.
   * @example
   * const files = await client.adapters.download('adapter-abc', './my-adapter');
   */
  async download(
    adapterId: string,
    dir: string,
    query: AdapterContentParams = {},
    options?: RequestOptions,
  ): Promise<string[]> {
    requireProvider(
      this._client.provider,
      ['emulator', 'together'],
      'adapters.download',
      'OpenAI serves no weights',
    );
    const response = await this.content(adapterId, query, options);
    if (!response.body) throw new TunekitError(`Adapter ${adapterId} content came back without a body`);
    const body = await tarStream(Readable.fromWeb(response.body as never), adapterId);
    const root = nodePath.resolve(dir);
    await fs.mkdir(root, { recursive: true });
    const files: string[] = [];
    const outside: string[] = [];
    await pipeline(
      body,
      tar.x({
        cwd: root,
        strict: true,
        filter: (entryPath, entry) => {
          const type = 'type' in entry ? entry.type : undefined;
          if (type !== 'File' && type !== 'Directory' && type !== 'OldFile') return false;
          const target = nodePath.resolve(root, entryPath);
          if (target !== root && !target.startsWith(root + nodePath.sep)) {
            outside.push(entryPath);
            return false;
          }
          if (type !== 'Directory') files.push(target);
          return true;
        },
      }),
    );
    if (outside.length > 0) {
      throw new TunekitError(
        `Adapter archive entries would be written outside ${root}: ${outside.join(', ')}`,
      );
    }
    return files.sort();
  }
}

export type AdaptersPage = CursorPage<Adapter>;

/** A trained LoRA adapter in PEFT format (`object: "adapter"`; tunekit's own resource). */
export interface Adapter {
  /** `adapter-…` */
  id: string;
  object: 'adapter';
  /** The job that trained it. */
  fine_tuning_job_id: string;
  /** Model name that serves it (a checkpoint name for checkpoints). */
  fine_tuned_model: string;
  /** The base model it applies to. */
  base_model: string;
  /** Training step at which it was saved. */
  step: number;
  peft_type: 'LORA';
  /** LoRA rank. */
  r: number;
  lora_alpha: number;
  /** Adapted module names, e.g. `q_proj`. */
  target_modules: string[];
  /** Size of adapter_model.safetensors. */
  bytes: number;
  created_at: number;
}

export interface AdapterDeleted {
  id: string;
  object: 'adapter';
  deleted: boolean;
}

export interface AdapterListParams extends CursorPageParams {
  /** Only adapters trained by this job. */
  fine_tuning_job_id?: string;
}

export interface AdapterContentParams {
  /** `adapter` (default): the PEFT folder; `merged`: the base model with the adapter merged in. */
  format?: 'adapter' | 'merged';
}
