import type { Tunekit } from '../client';
import { defaultParseResponse } from '../internal/parse';
import type { APIResponseProps, FinalRequestOptions } from '../internal/request-options';
import { APIPromise } from './api-promise';
import { TunekitError } from './errors';

export type PageConstructor<PageClass> = new (
  client: Tunekit,
  response: Response,
  body: unknown,
  options: FinalRequestOptions,
) => PageClass;

/** One page of a list; iterating it with `for await` walks this page and every page after it. */
export abstract class AbstractPage<Item> implements AsyncIterable<Item> {
  readonly #client: Tunekit;
  protected readonly options: FinalRequestOptions;
  readonly response: Response;

  constructor(client: Tunekit, response: Response, _body: unknown, options: FinalRequestOptions) {
    this.#client = client;
    this.options = options;
    this.response = response;
  }

  /** The request for the next page, or null when this is the last one. */
  abstract nextPageRequestOptions(): FinalRequestOptions | null;

  abstract getPaginatedItems(): Item[];

  hasNextPage(): boolean {
    if (this.getPaginatedItems().length === 0) return false;
    return this.nextPageRequestOptions() !== null;
  }

  async getNextPage(): Promise<this> {
    const next = this.nextPageRequestOptions();
    if (!next) {
      throw new TunekitError(
        'No next page expected; check `.hasNextPage()` before calling `.getNextPage()`.',
      );
    }
    return this.#client.requestAPIList(this.constructor as PageConstructor<this>, next);
  }

  /** Yields this page and then each following page. */
  async *iterPages(): AsyncGenerator<this> {
    let page: this = this;
    yield page;
    while (page.hasNextPage()) {
      page = await page.getNextPage();
      yield page;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Item> {
    for await (const page of this.iterPages()) {
      for (const item of page.getPaginatedItems()) yield item;
    }
  }
}

/**
 * The promise list methods return: await it for the first page, or iterate it with `for await` to walk
 * every item of every page.
 */
export class PagePromise<PageClass extends AbstractPage<Item>, Item = ItemOf<PageClass>>
  extends APIPromise<PageClass>
  implements AsyncIterable<Item>
{
  constructor(client: Tunekit, request: Promise<APIResponseProps>, Page: PageConstructor<PageClass>) {
    super(
      request,
      async (props) => new Page(client, props.response, await defaultParseResponse(props), props.options),
    );
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Item> {
    const page = await this;
    for await (const item of page) yield item as Item;
  }
}

type ItemOf<PageClass> = PageClass extends AbstractPage<infer Item> ? Item : never;

/** A list envelope `{ object: "list", data, has_more }` paged by the `after` cursor (the last item's id). */
export interface CursorPageResponse<Item> {
  object?: 'list';
  data: Item[];
  has_more: boolean;
  first_id?: string | null;
  last_id?: string | null;
}

/** Query parameters every cursor-paged list accepts. */
export interface CursorPageParams {
  /** Return items after this id (the last id of the previous page). */
  after?: string;
  /** Items per page. */
  limit?: number;
}

export class CursorPage<Item extends { id: string }>
  extends AbstractPage<Item>
  implements CursorPageResponse<Item>
{
  data: Item[];
  has_more: boolean;
  first_id?: string | null;
  last_id?: string | null;

  constructor(client: Tunekit, response: Response, body: unknown, options: FinalRequestOptions) {
    super(client, response, body, options);
    const page = (body ?? {}) as Partial<CursorPageResponse<Item>>;
    this.data = page.data ?? [];
    this.has_more = page.has_more ?? false;
    if ('first_id' in page) this.first_id = page.first_id ?? null;
    if ('last_id' in page) this.last_id = page.last_id ?? null;
  }

  getPaginatedItems(): Item[] {
    return this.data;
  }

  override hasNextPage(): boolean {
    return this.has_more !== false && super.hasNextPage();
  }

  nextPageRequestOptions(): FinalRequestOptions | null {
    const last = this.data[this.data.length - 1];
    if (!this.has_more || !last?.id) return null;
    return { ...this.options, query: { ...this.options.query, after: last.id } };
  }
}

/** A list envelope `{ object: "list", data }` that is never paged (models). */
export class Page<Item> extends AbstractPage<Item> {
  object: 'list';
  data: Item[];

  constructor(client: Tunekit, response: Response, body: unknown, options: FinalRequestOptions) {
    super(client, response, body, options);
    const page = (body ?? {}) as { object?: 'list'; data?: Item[] };
    this.object = page.object ?? 'list';
    this.data = page.data ?? [];
  }

  getPaginatedItems(): Item[] {
    return this.data;
  }

  nextPageRequestOptions(): null {
    return null;
  }
}
