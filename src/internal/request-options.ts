import type { Dispatcher } from 'undici';

export type HTTPMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Header values; `null` removes a header the client would otherwise send. */
export type HeadersInit = Record<string, string | null | undefined> | Headers;

/** Options every SDK method accepts as its last argument. */
export interface RequestOptions {
  /** Extra headers for this request (override client defaults; `null` removes one). */
  headers?: HeadersInit;
  /** Extra query parameters for this request. */
  query?: object;
  /** Retries for this request (overrides the client's `maxRetries`). */
  maxRetries?: number;
  /** Milliseconds to wait for the response headers, per attempt (overrides the client's `timeout`). */
  timeout?: number;
  /** Aborts the request (and its retries); the call rejects with APIUserAbortError. */
  signal?: AbortSignal | null;
  /** Idempotency-Key for a non-GET request; by default one is generated per call. */
  idempotencyKey?: string;
  /** Extra options passed to fetch (e.g. a per-request `dispatcher`). */
  fetchOptions?: RequestInit & { dispatcher?: Dispatcher };
}

/** A request as the client performs it. */
export interface FinalRequestOptions extends RequestOptions {
  method: HTTPMethod;
  path: string;
  body?: unknown;
  /** Parse the response as a server-sent event stream (chat streaming). */
  stream?: boolean;
  /** Resolve with the raw Response instead of parsing it. */
  binaryResponse?: boolean;
  /** Do not follow redirects: a 3xx resolves (with `binaryResponse`, as the raw Response). */
  manualRedirect?: boolean;
}

/** What a finished request hands to the parser. */
export interface APIResponseProps {
  response: Response;
  options: FinalRequestOptions;
  controller: AbortController;
}
