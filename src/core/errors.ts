/** Base class of every error the SDK throws. */
export class TunekitError extends Error {}

/** The body's `error` object as the API sends it: `{ message, type, param, code }`. */
export interface ErrorObject {
  message?: string;
  type?: string | null;
  param?: string | null;
  code?: string | null;
  [key: string]: unknown;
}

/**
 * An error response from the API (or an SSE `error` event). `status` is undefined for errors that came
 * without an HTTP status (connection failures and stream error events).
 */
export class APIError<
  TStatus extends number | undefined = number | undefined,
  THeaders extends Headers | undefined = Headers | undefined,
  TError extends object | undefined = object | undefined,
> extends TunekitError {
  /** HTTP status of the response that caused the error. */
  readonly status: TStatus;
  /** HTTP headers of the response that caused the error. */
  readonly headers: THeaders;
  /** The body's `error` object (the whole body when it has no `error` key). */
  readonly error: TError;
  readonly code: string | null | undefined;
  readonly param: string | null | undefined;
  readonly type: string | undefined;
  /** The `x-request-id` response header. */
  readonly requestID: string | null | undefined;

  constructor(status: TStatus, error: TError, message: string | undefined, headers: THeaders) {
    super(APIError.makeMessage(status, error, message));
    this.name = new.target.name;
    this.status = status;
    this.headers = headers;
    this.requestID = headers?.get('x-request-id');
    this.error = error;
    const data = error as ErrorObject | undefined;
    this.code = data?.code;
    this.param = data?.param;
    this.type = data?.type ?? undefined;
  }

  private static makeMessage(
    status: number | undefined,
    error: unknown,
    message: string | undefined,
  ): string {
    const inner = (error as ErrorObject | undefined)?.message;
    const text = inner
      ? typeof inner === 'string'
        ? inner
        : JSON.stringify(inner)
      : error
        ? JSON.stringify(error)
        : message;
    if (status && text) return `${status} ${text}`;
    if (status) return `${status} status code (no body)`;
    if (text) return text;
    return '(no status code or body)';
  }

  /** Maps an HTTP status to its error class (the single place that does so). */
  static generate(
    status: number | undefined,
    errorResponse: object | undefined,
    message: string | undefined,
    headers: Headers | undefined,
  ): APIError {
    if (!status || !headers) {
      return new APIConnectionError({ message, cause: castToError(errorResponse) });
    }
    const error = (errorResponse as Record<string, unknown> | undefined)?.error as object | undefined;
    const body = error ?? errorResponse;
    if (status === 400) return new BadRequestError(status, body, message, headers);
    if (status === 401) return new AuthenticationError(status, body, message, headers);
    if (status === 403) return new PermissionDeniedError(status, body, message, headers);
    if (status === 404) return new NotFoundError(status, body, message, headers);
    if (status === 409) return new ConflictError(status, body, message, headers);
    if (status === 422) return new UnprocessableEntityError(status, body, message, headers);
    if (status === 429) return new RateLimitError(status, body, message, headers);
    if (status >= 500) return new InternalServerError(status, body, message, headers);
    return new APIError(status, body, message, headers);
  }
}

/** The request was aborted through the caller's `signal`. */
export class APIUserAbortError extends APIError<undefined, undefined, undefined> {
  constructor({ message }: { message?: string } = {}) {
    super(undefined, undefined, message || 'Request was aborted.', undefined);
  }
}

/** No response arrived (DNS failure, refused or reset connection, dropped stream). */
export class APIConnectionError extends APIError<undefined, undefined, undefined> {
  constructor({ message, cause }: { message?: string | undefined; cause?: Error | undefined }) {
    super(undefined, undefined, message || 'Connection error.', undefined);
    if (cause) this.cause = cause;
  }
}

/** No response arrived within the request's `timeout`. */
export class APIConnectionTimeoutError extends APIConnectionError {
  constructor({ message }: { message?: string } = {}) {
    super({ message: message ?? 'Request timed out.' });
  }
}

export class BadRequestError extends APIError<400, Headers> {}
export class AuthenticationError extends APIError<401, Headers> {}
export class PermissionDeniedError extends APIError<403, Headers> {}
export class NotFoundError extends APIError<404, Headers> {}
export class ConflictError extends APIError<409, Headers> {}
export class UnprocessableEntityError extends APIError<422, Headers> {}
export class RateLimitError extends APIError<429, Headers> {}
export class InternalServerError extends APIError<number, Headers> {}

export function castToError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'object' && err !== null) {
    try {
      return new Error(JSON.stringify(err));
    } catch {}
  }
  return new Error(String(err));
}

export function isAbortError(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    (('name' in err && err.name === 'AbortError') ||
      ('message' in err && String(err.message).includes('FetchRequestCanceledException')))
  );
}

/**
 * A call the chosen provider has no equivalent for (e.g. adapter downloads on OpenAI, pausing a job on
 * Together). Thrown before any request is sent.
 */
export class UnsupportedFeatureError extends TunekitError {
  constructor(
    /** The client's provider. */
    readonly provider: string,
    /** The call or option, e.g. `fineTuning.jobs.pause` or `method.kto`. */
    readonly feature: string,
    detail?: string,
  ) {
    super(`${feature} is not supported by the ${provider} provider${detail ? `: ${detail}` : ''}.`);
    this.name = 'UnsupportedFeatureError';
  }
}
