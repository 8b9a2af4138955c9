import { Tunekit } from './client';

export {
  type ClientOptions,
  DEFAULT_BASE_URL,
  DEFAULT_MAX_RETRIES,
  DEFAULT_TIMEOUT_MS,
  Tunekit,
} from './client';
export { APIPromise } from './core/api-promise';
export {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  type ErrorObject,
  InternalServerError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  TunekitError,
  UnprocessableEntityError,
  UnsupportedFeatureError,
} from './core/errors';
export {
  AbstractPage,
  CursorPage,
  type CursorPageParams,
  type CursorPageResponse,
  Page,
  PagePromise,
} from './core/pagination';
export { Stream } from './core/streaming';
export { type FileLike, toFile, type Uploadable } from './core/uploads';
export type { RequestOptions } from './internal/request-options';
export { PROVIDER_DEFAULTS, PROVIDERS, type Provider } from './providers';
export type { TogetherJobOptions } from './providers/together';
export type * from './resources/adapters';
export type * from './resources/chat/completions';
export type * from './resources/files';
export type * from './resources/fine-tuning/alpha/graders';
export type * from './resources/fine-tuning/jobs/checkpoints';
export type * from './resources/fine-tuning/jobs/jobs';
export { TERMINAL_JOB_STATUSES } from './resources/fine-tuning/jobs/jobs';
export type * from './resources/models';
export { VERSION } from './version';

export default Tunekit;
