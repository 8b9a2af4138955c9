import type { APIPromise } from '../core/api-promise';
import { Page, type PagePromise } from '../core/pagination';
import { APIResource } from '../core/resource';
import { path } from '../internal/path';
import type { RequestOptions } from '../internal/request-options';
import { requireProvider } from '../providers';
import { TogetherModelsPage } from '../providers/together';

export class Models extends APIResource {
  /**
   * Lists every model (one page).
   * @example
   * for await (const model of client.models.list()) console.log(model.id);
   */
  list(options?: RequestOptions): PagePromise<ModelsPage, Model> {
    if (this._client.provider === 'together')
      return this._client.getAPIList('/models', TogetherModelsPage, options);
    return this._client.getAPIList('/models', Page<Model>, options);
  }

  /**
   * Returns a model.
   * @example
   * const model = await client.models.retrieve('ft:tiny-llama:org:my-suffix:abc12345');
   */
  retrieve(model: string, options?: RequestOptions): APIPromise<Model> {
    requireProvider(this._client.provider, ['emulator', 'openai'], 'models.retrieve');
    return this._client.get(path`/models/${model}`, options);
  }

  /**
   * Deletes a fine-tuned model (its `:` stay unescaped in the path).
   * @example
   * await client.models.delete('ft:tiny-llama:org::abc12345');
   */
  delete(model: string, options?: RequestOptions): APIPromise<ModelDeleted> {
    requireProvider(this._client.provider, ['emulator', 'openai'], 'models.delete');
    return this._client.delete(path`/models/${model}`, options);
  }
}

export type ModelsPage = Page<Model>;

/** A model chat completions and jobs can use (`object: "model"`). */
export interface Model {
  /** A base model name or `ft:{base}:{org}:{suffix}:{id}`. */
  id: string;
  object: 'model';
  /** Unix seconds. */
  created: number;
  /** `system` for base models, the organization for fine-tuned ones. */
  owned_by: string;
  /** `YYYY-MM-DD` after which the model is no longer served. */
  shutdown_date?: string | null;
}

export interface ModelDeleted {
  id: string;
  object: 'model';
  deleted: boolean;
}
