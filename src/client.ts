import type { Dispatcher } from 'undici';
import { APIPromise } from './core/api-promise';
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  castToError,
  TunekitError,
} from './core/errors';
import { type AbstractPage, type PageConstructor, PagePromise } from './core/pagination';
import { backoffDelayMs, serverRequestedDelayMs } from './internal/backoff';
import { createDispatcher } from './internal/dispatcher';
import { readEnv } from './internal/env';
import { stringifyQuery } from './internal/query';
import type {
  APIResponseProps,
  FinalRequestOptions,
  HeadersInit,
  HTTPMethod,
  RequestOptions,
} from './internal/request-options';
import { sleep } from './internal/sleep';
import { idempotencyKey } from './internal/uuid';
import { PROVIDER_DEFAULTS, type Provider, resolveProvider } from './providers';
import { Adapters } from './resources/adapters';
import { Chat } from './resources/chat/chat';
import { Files } from './resources/files';
import { FineTuning } from './resources/fine-tuning/fine-tuning';
import { Models } from './resources/models';
import { VERSION } from './version';

export const DEFAULT_BASE_URL = PROVIDER_DEFAULTS.emulator.baseURL;
export const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
export const DEFAULT_MAX_RETRIES = 2;
const RETRY_COUNT_HEADER = 'x-tunekit-retry-count';

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /**
   * The API spoken: `emulator` (default), `openai` or `together`. Defaults to `process.env.TUNEKIT_PROVIDER`.
   * The same calls map onto each provider's wire format (docs/sdk.md); what a provider lacks throws
   * UnsupportedFeatureError before any request.
   */
  provider?: Provider | undefined;
  /**
   * API key sent as `Authorization: Bearer`. Defaults to the provider's usual variable: `TUNEKIT_API_KEY`,
   * `OPENAI_API_KEY` or `TOGETHER_API_KEY`.
   */
  apiKey?: string | undefined;
  /**
   * Defaults to `TUNEKIT_BASE_URL` / `OPENAI_BASE_URL` / `TOGETHER_BASE_URL`, else the provider's:
   * `http://127.0.0.1:4100/v1` (the emulator), `https://api.openai.com/v1`, `https://api.together.ai/v1`.
   */
  baseURL?: string | null | undefined;
  /** Milliseconds to wait for response headers, per attempt. Default 10 minutes. */
  timeout?: number;
  /** Retries after a connection error, timeout, 408, 409, 429 or 5xx. Default 2. */
  maxRetries?: number;
  /** A fetch implementation. Defaults to `globalThis.fetch`, looked up on every request. */
  fetch?: Fetch;
  /** Extra options for every fetch call. */
  fetchOptions?: RequestInit;
  /** An undici dispatcher (Agent, Pool, ProxyAgent, MockAgent...). Default: a keep-alive Agent. */
  dispatcher?: Dispatcher;
  /** An HTTP(S) proxy URL; by default HTTPS_PROXY / HTTP_PROXY (and NO_PROXY) are honoured. */
  proxy?: string;
  /** Headers sent with every request (`null` removes one of the client's). */
  defaultHeaders?: HeadersInit;
  /** Query parameters sent with every request. */
  defaultQuery?: Record<string, unknown>;
  /** Sent as `OpenAI-Organization` when set. */
  organization?: string | null;
  /** Sent as `OpenAI-Project` when set. */
  project?: string | null;
}

/**
 * The tunekit API client. Holds every piece of HTTP policy: base URL, key, timeouts, retries, headers and
 * the fetch/dispatcher used.
 * @example
 * import Tunekit from 'tunekit';
 * const client = new Tunekit(); // TUNEKIT_API_KEY, TUNEKIT_BASE_URL
 * const job = await client.fineTuning.jobs.create({ model: 'tiny-llama', training_file: 'file-abc' });
 */
export class Tunekit {
  readonly provider: Provider;
  readonly apiKey: string;
  readonly baseURL: string;
  readonly timeout: number;
  readonly maxRetries: number;
  readonly organization: string | null;
  readonly project: string | null;
  readonly #options: ClientOptions;
  #dispatcher: Dispatcher | undefined;

  files: Files = new Files(this);
  fineTuning: FineTuning = new FineTuning(this);
  adapters: Adapters = new Adapters(this);
  models: Models = new Models(this);
  chat: Chat = new Chat(this);

  constructor({
    provider: providerOption,
    apiKey: apiKeyOption,
    baseURL: baseURLOption,
    ...options
  }: ClientOptions = {}) {
    const provider = resolveProvider(providerOption);
    const defaults = PROVIDER_DEFAULTS[provider];
    const apiKey = apiKeyOption ?? readEnv(defaults.keyEnv);
    const baseURL = baseURLOption === undefined ? readEnv(defaults.baseURLEnv) : baseURLOption;
    if (apiKey === undefined || apiKey === '') {
      throw new TunekitError(
        `The ${defaults.keyEnv} environment variable is missing or empty; either provide it, or instantiate the Tunekit client with an apiKey option, like new Tunekit({ apiKey: 'My API Key' }).`,
      );
    }
    this.provider = provider;
    this.apiKey = apiKey;
    this.baseURL = baseURL || defaults.baseURL;
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.organization = options.organization ?? null;
    this.project = options.project ?? null;
    this.#options = { ...options, provider, apiKey, baseURL: this.baseURL };
    if (!Number.isInteger(this.maxRetries) || this.maxRetries < 0) {
      throw new TunekitError(`maxRetries must be a non-negative integer, got ${options.maxRetries}`);
    }
  }

  /** A copy of this client with some options replaced. */
  withOptions(options: Partial<ClientOptions>): Tunekit {
    return new Tunekit({ ...this.#options, ...options });
  }

  get<Rsp>(path: string, opts?: RequestOptions & Partial<FinalRequestOptions>): APIPromise<Rsp> {
    return this.methodRequest('get', path, opts);
  }

  post<Rsp>(
    path: string,
    opts?: PromiseOrValue<RequestOptions & Partial<FinalRequestOptions>>,
  ): APIPromise<Rsp> {
    return this.methodRequest('post', path, opts);
  }

  delete<Rsp>(path: string, opts?: RequestOptions & Partial<FinalRequestOptions>): APIPromise<Rsp> {
    return this.methodRequest('delete', path, opts);
  }

  put<Rsp>(path: string, opts?: RequestOptions & Partial<FinalRequestOptions>): APIPromise<Rsp> {
    return this.methodRequest('put', path, opts);
  }

  private methodRequest<Rsp>(
    method: HTTPMethod,
    path: string,
    opts?: PromiseOrValue<RequestOptions & Partial<FinalRequestOptions>>,
  ): APIPromise<Rsp> {
    return this.request(Promise.resolve(opts).then((o) => ({ ...o, method, path })));
  }

  request<Rsp>(options: PromiseOrValue<FinalRequestOptions>): APIPromise<Rsp> {
    return new APIPromise<Rsp>(this.makeRequest(options));
  }

  /** Requests a list and wraps it in a page that can fetch (and iterate) the pages after it. */
  getAPIList<Item, PageClass extends AbstractPage<Item> = AbstractPage<Item>>(
    path: string,
    Page: PageConstructor<PageClass>,
    opts?: RequestOptions & Partial<FinalRequestOptions>,
  ): PagePromise<PageClass, Item> {
    return new PagePromise<PageClass, Item>(this, this.makeRequest({ ...opts, method: 'get', path }), Page);
  }

  requestAPIList<Item, PageClass extends AbstractPage<Item>>(
    Page: PageConstructor<PageClass>,
    options: FinalRequestOptions,
  ): PagePromise<PageClass, Item> {
    return new PagePromise<PageClass, Item>(this, this.makeRequest(options), Page);
  }

  /** The URL for a path, with default and per-request query parameters. */
  buildURL(path: string, query: object | undefined): string {
    const base = this.baseURL.endsWith('/') ? this.baseURL.slice(0, -1) : this.baseURL;
    const url = /^https?:\/\//i.test(path) ? path : `${base}${path.startsWith('/') ? '' : '/'}${path}`;
    const search = stringifyQuery({ ...this.#options.defaultQuery, ...query });
    return search ? `${url}${url.includes('?') ? '&' : '?'}${search}` : url;
  }

  /**
   * Performs a request with retries: connection errors, timeouts, 408, 409, 429 and 5xx are retried with
   * backoff (or the server's `retry-after-ms` / `retry-after`), unless `x-should-retry` says otherwise or the
   * body is a one-shot stream. The Idempotency-Key is chosen once here, so every attempt carries the same one.
   */
  private async makeRequest(optionsInput: PromiseOrValue<FinalRequestOptions>): Promise<APIResponseProps> {
    const options = await optionsInput;
    const maxRetries = options.maxRetries ?? this.maxRetries;
    // Together's API takes no idempotency key (reference: together-wire.md).
    const key =
      options.method === 'get' || this.provider === 'together'
        ? undefined
        : (options.idempotencyKey ?? idempotencyKey());
    const oneShotBody = isStreamBody(options.body);

    for (let attempt = 0; ; attempt++) {
      const canRetry = attempt < maxRetries && !oneShotBody;
      if (options.signal?.aborted) throw new APIUserAbortError();
      const controller = new AbortController();
      const { url, init, timeout } = this.buildRequest(options, attempt, key);
      let response: Response;
      try {
        response = await this.fetchWithTimeout(url, init, timeout, controller, options.signal);
      } catch (err) {
        if (err instanceof APIUserAbortError) throw err;
        if (canRetry) {
          await sleep(backoffDelayMs(attempt), options.signal);
          continue;
        }
        throw err;
      }
      if (response.ok || (options.manualRedirect && response.status >= 300 && response.status < 400)) {
        return { response, options, controller };
      }

      if (canRetry && shouldRetry(response)) {
        // Not awaited: a cancel can wait on the peer, and the body is of no further use.
        void response.body?.cancel().catch(() => {});
        await sleep(serverRequestedDelayMs(response.headers) ?? backoffDelayMs(attempt), options.signal);
        continue;
      }
      throw await errorFromResponse(response);
    }
  }

  private buildRequest(
    options: FinalRequestOptions,
    retryCount: number,
    key: string | undefined,
  ): { url: string; init: RequestInit & { duplex?: 'half'; dispatcher?: Dispatcher }; timeout: number } {
    const { method, path, query, body, timeout = this.timeout } = options;
    const headers = new Headers();
    headers.set('accept', 'application/json');
    headers.set('user-agent', `Tunekit/JS ${VERSION}`);
    headers.set('authorization', `Bearer ${this.apiKey}`);
    headers.set(RETRY_COUNT_HEADER, String(retryCount));
    if (key) headers.set('idempotency-key', key);
    if (this.organization) headers.set('openai-organization', this.organization);
    if (this.project) headers.set('openai-project', this.project);
    if (options.timeout !== undefined) headers.set('x-tunekit-timeout', String(Math.trunc(timeout / 1000)));

    let requestBody: RequestInit['body'];
    let streaming = false;
    if (body === undefined || body === null) {
      requestBody = undefined;
    } else if (body instanceof FormData) {
      requestBody = body;
      streaming = true;
    } else if (isStreamBody(body)) {
      requestBody = body as ReadableStream;
      streaming = true;
    } else if (typeof body === 'string' || body instanceof Blob || ArrayBuffer.isView(body)) {
      requestBody = body as BodyInit;
    } else {
      headers.set('content-type', 'application/json');
      requestBody = JSON.stringify(body);
    }
    applyHeaders(headers, this.#options.defaultHeaders);
    applyHeaders(headers, options.headers);

    const init: RequestInit & { duplex?: 'half'; dispatcher?: Dispatcher; window?: null } = {
      method: method.toUpperCase(),
      headers,
      ...(requestBody !== undefined ? { body: requestBody } : {}),
      ...(isStreamBody(requestBody) ? { duplex: 'half' as const } : {}),
      // undici's fetch clones (tees) a request body whenever it may have to follow a redirect, and the
      // unread branch keeps every chunk: a 1 GB upload would sit in memory (nodejs/undici#4058).
      // Uploads therefore refuse redirects and opt out of the clone.
      ...(streaming ? { redirect: 'error' as const, window: null } : {}),
      ...(options.manualRedirect ? { redirect: 'manual' as const } : {}),
      dispatcher: this.#options.dispatcher ?? this.defaultDispatcher(),
      ...this.#options.fetchOptions,
      ...options.fetchOptions,
    };
    return { url: this.buildURL(path, query), init, timeout };
  }

  private defaultDispatcher(): Dispatcher {
    this.#dispatcher ??= createDispatcher(this.#options.proxy);
    return this.#dispatcher;
  }

  private async fetchWithTimeout(
    url: string,
    init: RequestInit,
    timeout: number,
    controller: AbortController,
    signal: AbortSignal | null | undefined,
  ): Promise<Response> {
    // The caller's signal stays linked for the life of the response, so it also cancels a body being read.
    signal?.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeout);
    const fetch = this.#options.fetch ?? globalThis.fetch;
    try {
      return await fetch.call(undefined, url, { ...init, signal: controller.signal });
    } catch (err) {
      if (signal?.aborted) throw new APIUserAbortError();
      if (timedOut) throw new APIConnectionTimeoutError();
      throw new APIConnectionError({ cause: castToError(err) });
    } finally {
      clearTimeout(timer);
    }
  }
}

type PromiseOrValue<T> = T | Promise<T>;

function shouldRetry(response: Response): boolean {
  const header = response.headers.get('x-should-retry');
  if (header === 'true') return true;
  if (header === 'false') return false;
  const { status } = response;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

function isStreamBody(body: unknown): boolean {
  return (
    body instanceof ReadableStream ||
    (typeof body === 'object' && body !== null && Symbol.asyncIterator in body && !(body instanceof FormData))
  );
}

function applyHeaders(target: Headers, source: HeadersInit | undefined): void {
  if (!source) return;
  const entries = source instanceof Headers ? source.entries() : Object.entries(source);
  for (const [name, value] of entries) {
    if (value === null) target.delete(name);
    else if (value !== undefined) target.set(name, value);
  }
}

async function errorFromResponse(response: Response): Promise<APIError> {
  const text = await response.text().catch((err) => castToError(err).message);
  let body: object | undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return APIError.generate(response.status, body, body ? undefined : text || undefined, response.headers);
}
