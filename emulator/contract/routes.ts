/**
 * The route table: every operation of the tunekit API, read by the emulator's server (to register and
 * validate routes) and by scripts/gen-openapi.ts (to write openapi.yaml).
 *
 * Paths are absolute on the server: `/v1/...` for the API and `/health` at the root. The SDK's base URL
 * `http://127.0.0.1:4100/v1` therefore maps `client.files.list()` to `GET /v1/files`. Path parameters are
 * written OpenAPI-style (`/v1/files/{file_id}`); `toFastifyPath` gives `/v1/files/:file_id`.
 */
import { z } from 'zod';
import {
  AdapterContentParamsSchema,
  AdapterDeletedSchema,
  AdapterListParamsSchema,
  AdapterListSchema,
  AdapterSchema,
} from './adapters';
import { ChatCompletionChunkSchema, ChatCompletionCreateParamsSchema, ChatCompletionSchema } from './chat';
import { ErrorBodySchema, IdempotencyHeadersSchema } from './common';
import {
  FileCreateParamsSchema,
  FileDeletedSchema,
  FileIdPathSchema,
  FileListParamsSchema,
  FileListSchema,
  FileObjectSchema,
} from './files';
import {
  GraderRunParamsSchema,
  GraderRunResponseSchema,
  GraderValidateParamsSchema,
  GraderValidateResponseSchema,
} from './graders';
import { HealthResponseSchema } from './health';
import {
  CheckpointListParamsSchema,
  FineTuningJobCheckpointListSchema,
  FineTuningJobEventListSchema,
  FineTuningJobEventSchema,
  FineTuningJobListSchema,
  FineTuningJobSchema,
  JobCreateParamsSchema,
  JobEventListParamsSchema,
  JobEventStreamHeadersSchema,
  JobListParamsSchema,
} from './jobs';
import { ModelDeletedSchema, ModelListSchema, ModelSchema } from './models';

export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

/** OpenAPI tags, in the order the document lists them. */
export const TAGS = [
  { name: 'Files', description: 'Upload and manage training data.' },
  { name: 'Fine-tuning', description: 'Create and follow fine-tuning jobs, their events and checkpoints.' },
  { name: 'Models', description: 'Base and fine-tuned models.' },
  { name: 'Chat', description: 'Generate with a base or fine-tuned model.' },
  { name: 'Adapters', description: 'Trained PEFT adapters (tunekit extension).' },
  { name: 'Health', description: 'Server liveness (tunekit extension).' },
  {
    name: 'Together',
    description:
      "Together's fine-tuning dialect under `/together/v1` (the `together-ai` SDK's base URL), over the same " +
      'files, jobs and models as the OpenAI dialect.',
  },
] as const;
export type Tag = (typeof TAGS)[number]['name'];

/** A JSON request body. `required: false` means the body may be absent (the server then uses `{}`). */
export interface JsonBody<S extends z.ZodType = z.ZodType> {
  readonly kind: 'json';
  readonly schema: S;
  readonly required: boolean;
}

/** A multipart/form-data body. `fileFields` are binary parts; the other fields are text. */
export interface MultipartBody<S extends z.ZodType = z.ZodType> {
  readonly kind: 'multipart';
  readonly schema: S;
  readonly fileFields: readonly string[];
}

/** An `application/x-www-form-urlencoded` body, parsed into an object of strings. */
export interface FormBody<S extends z.ZodType = z.ZodType> {
  readonly kind: 'form';
  readonly schema: S;
}

/** Raw bytes (`application/octet-stream`), handed to the route as a stream, unparsed. */
export interface BinaryBody {
  readonly kind: 'binary';
  readonly contentType: string;
}

export type RouteBody = JsonBody | MultipartBody | FormBody | BinaryBody;

/** One media type a response may carry. */
export type ResponseContent =
  | { readonly kind: 'json'; readonly schema: z.ZodType }
  | { readonly kind: 'binary'; readonly contentType: string }
  | { readonly kind: 'event-stream'; readonly schema: z.ZodType };

export interface RouteResponse {
  readonly description: string;
  readonly content: readonly ResponseContent[];
  /** Response headers worth documenting (a redirect's `Location`), name → description. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RouteDef {
  readonly operationId: string;
  readonly method: HttpMethod;
  /** OpenAPI-style path, absolute on the server (`/v1/files/{file_id}`). */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: Tag;
  /** Whether `Authorization: Bearer <key>` is required. */
  readonly auth: boolean;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  /** Request headers the operation reads (lower-case names). */
  readonly headers?: z.ZodObject;
  readonly body?: RouteBody;
  readonly responses: Readonly<Record<number, RouteResponse>>;
  /** The tunekit SDK method that calls this route, e.g. `files.create`; null when the SDK has none. */
  readonly sdkMethod: string | null;
}

export function defineRoute<const R extends RouteDef>(route: R): R {
  return route;
}

export function json<S extends z.ZodType>(schema: S, description: string) {
  return { description, content: [{ kind: 'json', schema }] } as const;
}

const ERROR_DESCRIPTIONS = {
  400: 'Invalid request: a malformed body or header, or a parameter missing, malformed or out of range (`param` names it).',
  401: 'Missing or empty `Authorization: Bearer` header.',
  403: 'The operation is not permitted on this object.',
  404: 'No such object.',
  413: "The upload is larger than the server accepts (the emulator's `--max-upload-bytes`).",
  414: 'A path parameter is longer than 2048 characters.',
  415: 'The body is not in a media type this route reads (JSON, or multipart/form-data for uploads).',
  431: 'The request headers are larger than the HTTP parser accepts.',
  500: 'The server failed while processing the request (e.g. its inference process died); retrying may succeed.',
  507: "The disk of the emulator's data folder is full (`insufficient_storage`, the message names the folder).",
} as const;

/** Errors any request can meet before its route runs: a malformed body, URL or header, too large a body, a body in
 * a media type the route does not read, too long a path parameter, too large headers. */
const REQUEST_ERRORS = [400, 413, 414, 415, 431] as const;

/** Error responses, all with the `ErrorBody` shape: the route's own codes plus {@link REQUEST_ERRORS}. */
export function errors<const C extends keyof typeof ERROR_DESCRIPTIONS>(...codes: C[]) {
  const out = {} as Record<
    C | (typeof REQUEST_ERRORS)[number],
    { description: string; content: readonly [{ kind: 'json'; schema: typeof ErrorBodySchema }] }
  >;
  for (const code of [...REQUEST_ERRORS, ...codes])
    out[code] = json(ErrorBodySchema, ERROR_DESCRIPTIONS[code]);
  return out;
}

const jobIdPath = z.object({
  fine_tuning_job_id: z.string().min(1).describe('The id of the fine-tuning job.'),
});
const modelPath = z.object({
  model: z.string().min(1).describe('The model id; `ft:` ids may be sent raw or percent-encoded.'),
});
const adapterIdPath = z.object({ adapter_id: z.string().min(1).describe('The id of the adapter.') });

export const routes = [
  defineRoute({
    operationId: 'createFile',
    method: 'post',
    path: '/v1/files',
    summary: 'Upload a file',
    description:
      'Streams a multipart upload to storage. Fine-tuning data must be JSONL with purpose `fine-tune`.',
    tag: 'Files',
    auth: true,
    headers: IdempotencyHeadersSchema,
    body: { kind: 'multipart', schema: FileCreateParamsSchema, fileFields: ['file'] },
    responses: { 200: json(FileObjectSchema, 'The uploaded file.'), ...errors(400, 401, 413, 415, 507) },
    sdkMethod: 'files.create',
  }),
  defineRoute({
    operationId: 'listFiles',
    method: 'get',
    path: '/v1/files',
    summary: 'List files',
    tag: 'Files',
    auth: true,
    query: FileListParamsSchema,
    responses: { 200: json(FileListSchema, 'A page of files.'), ...errors(400, 401) },
    sdkMethod: 'files.list',
  }),
  defineRoute({
    operationId: 'retrieveFile',
    method: 'get',
    path: '/v1/files/{file_id}',
    summary: 'Retrieve a file',
    tag: 'Files',
    auth: true,
    params: FileIdPathSchema,
    responses: { 200: json(FileObjectSchema, 'The file.'), ...errors(401, 404) },
    sdkMethod: 'files.retrieve',
  }),
  defineRoute({
    operationId: 'deleteFile',
    method: 'delete',
    path: '/v1/files/{file_id}',
    summary: 'Delete a file',
    tag: 'Files',
    auth: true,
    params: FileIdPathSchema,
    responses: { 200: json(FileDeletedSchema, 'The file was deleted.'), ...errors(401, 404) },
    sdkMethod: 'files.delete',
  }),
  defineRoute({
    operationId: 'downloadFile',
    method: 'get',
    path: '/v1/files/{file_id}/content',
    summary: 'Download the content of a file',
    tag: 'Files',
    auth: true,
    params: FileIdPathSchema,
    responses: {
      200: {
        description: 'The raw bytes of the file.',
        content: [{ kind: 'binary', contentType: 'application/octet-stream' }],
      },
      ...errors(401, 404),
    },
    sdkMethod: 'files.content',
  }),
  defineRoute({
    operationId: 'createFineTuningJob',
    method: 'post',
    path: '/v1/fine_tuning/jobs',
    summary: 'Create a fine-tuning job',
    description:
      'Queues a job. File format problems are found asynchronously: the job turns `failed` with `error` set.',
    tag: 'Fine-tuning',
    auth: true,
    headers: IdempotencyHeadersSchema,
    body: { kind: 'json', schema: JobCreateParamsSchema, required: true },
    responses: { 200: json(FineTuningJobSchema, 'The new job.'), ...errors(400, 401, 415, 507) },
    sdkMethod: 'fineTuning.jobs.create',
  }),
  defineRoute({
    operationId: 'listFineTuningJobs',
    method: 'get',
    path: '/v1/fine_tuning/jobs',
    summary: 'List fine-tuning jobs',
    tag: 'Fine-tuning',
    auth: true,
    query: JobListParamsSchema,
    responses: { 200: json(FineTuningJobListSchema, 'A page of jobs, newest first.'), ...errors(400, 401) },
    sdkMethod: 'fineTuning.jobs.list',
  }),
  defineRoute({
    operationId: 'retrieveFineTuningJob',
    method: 'get',
    path: '/v1/fine_tuning/jobs/{fine_tuning_job_id}',
    summary: 'Retrieve a fine-tuning job',
    tag: 'Fine-tuning',
    auth: true,
    params: jobIdPath,
    responses: { 200: json(FineTuningJobSchema, 'The job.'), ...errors(401, 404) },
    sdkMethod: 'fineTuning.jobs.retrieve',
  }),
  defineRoute({
    operationId: 'cancelFineTuningJob',
    method: 'post',
    path: '/v1/fine_tuning/jobs/{fine_tuning_job_id}/cancel',
    summary: 'Cancel a fine-tuning job',
    description: 'No request body. A job that already finished cannot be cancelled (400).',
    tag: 'Fine-tuning',
    auth: true,
    headers: IdempotencyHeadersSchema,
    params: jobIdPath,
    responses: { 200: json(FineTuningJobSchema, 'The job, `cancelled`.'), ...errors(400, 401, 404) },
    sdkMethod: 'fineTuning.jobs.cancel',
  }),
  defineRoute({
    operationId: 'pauseFineTuningJob',
    method: 'post',
    path: '/v1/fine_tuning/jobs/{fine_tuning_job_id}/pause',
    summary: 'Pause a fine-tuning job',
    description: 'No request body. Only a queued or running job can be paused (else 400).',
    tag: 'Fine-tuning',
    auth: true,
    headers: IdempotencyHeadersSchema,
    params: jobIdPath,
    responses: { 200: json(FineTuningJobSchema, 'The job, `paused`.'), ...errors(400, 401, 404) },
    sdkMethod: 'fineTuning.jobs.pause',
  }),
  defineRoute({
    operationId: 'resumeFineTuningJob',
    method: 'post',
    path: '/v1/fine_tuning/jobs/{fine_tuning_job_id}/resume',
    summary: 'Resume a paused fine-tuning job',
    description: 'No request body. Only a paused job can be resumed (else 400); it goes back to `queued`.',
    tag: 'Fine-tuning',
    auth: true,
    headers: IdempotencyHeadersSchema,
    params: jobIdPath,
    responses: { 200: json(FineTuningJobSchema, 'The job, `queued` again.'), ...errors(400, 401, 404) },
    sdkMethod: 'fineTuning.jobs.resume',
  }),
  defineRoute({
    operationId: 'listFineTuningJobEvents',
    method: 'get',
    path: '/v1/fine_tuning/jobs/{fine_tuning_job_id}/events',
    summary: 'List or stream the events of a fine-tuning job',
    description: [
      'Without streaming: a page of events, newest first; `after` returns the events older than that id.',
      '',
      'Live stream (tunekit extension): when the request sends `Accept: text/event-stream` or `stream=true`,',
      'the response is `text/event-stream`. Events come oldest first, each as one SSE message',
      '`id: <event id>` + `data: <FineTuningJobEvent JSON>`; first those already recorded (after the one named',
      'by `Last-Event-ID`, when sent), then new ones as they happen. Once the job is `succeeded`, `failed` or',
      '`cancelled` and its last event is sent, the server sends `data: [DONE]` and closes the stream. Comment',
      'lines (`: heartbeat`) keep an idle connection open; clients ignore them.',
      '`after` and `limit` do not apply to the stream.',
    ].join('\n'),
    tag: 'Fine-tuning',
    auth: true,
    params: jobIdPath,
    query: JobEventListParamsSchema,
    headers: JobEventStreamHeadersSchema,
    responses: {
      200: {
        description: 'A page of events (JSON), or a live stream of events (text/event-stream).',
        content: [
          { kind: 'json', schema: FineTuningJobEventListSchema },
          { kind: 'event-stream', schema: FineTuningJobEventSchema },
        ],
      },
      ...errors(400, 401, 404),
    },
    sdkMethod: 'fineTuning.jobs.listEvents',
  }),
  defineRoute({
    operationId: 'listFineTuningJobCheckpoints',
    method: 'get',
    path: '/v1/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints',
    summary: 'List the checkpoints of a fine-tuning job',
    tag: 'Fine-tuning',
    auth: true,
    params: jobIdPath,
    query: CheckpointListParamsSchema,
    responses: {
      200: json(FineTuningJobCheckpointListSchema, 'A page of checkpoints, newest first.'),
      ...errors(400, 401, 404),
    },
    sdkMethod: 'fineTuning.jobs.checkpoints.list',
  }),
  defineRoute({
    operationId: 'runGrader',
    method: 'post',
    path: '/v1/fine_tuning/alpha/graders/run',
    summary: 'Run a grader',
    description:
      'Grades one model sample against one dataset row with the code reinforcement jobs grade with. A grading ' +
      'that fails (a template variable that does not resolve, python that raises, a judge answer without a ' +
      'score) is a 200 with reward 0 and the error flagged in `metadata.errors`; an invalid grader is a 400.',
    tag: 'Fine-tuning',
    auth: true,
    body: { kind: 'json', schema: GraderRunParamsSchema, required: true },
    responses: {
      200: json(GraderRunResponseSchema, 'The reward and how it was reached.'),
      ...errors(400, 401),
    },
    sdkMethod: 'fineTuning.alpha.graders.run',
  }),
  defineRoute({
    operationId: 'validateGrader',
    method: 'post',
    path: '/v1/fine_tuning/alpha/graders/validate',
    summary: 'Validate a grader',
    description:
      'Makes the checks job creation makes on `method.reinforcement.grader`; an invalid grader is a 400.',
    tag: 'Fine-tuning',
    auth: true,
    body: { kind: 'json', schema: GraderValidateParamsSchema, required: true },
    responses: { 200: json(GraderValidateResponseSchema, 'The grader, echoed.'), ...errors(400, 401) },
    sdkMethod: 'fineTuning.alpha.graders.validate',
  }),
  defineRoute({
    operationId: 'listModels',
    method: 'get',
    path: '/v1/models',
    summary: 'List models',
    tag: 'Models',
    auth: true,
    responses: { 200: json(ModelListSchema, 'Every model.'), ...errors(401) },
    sdkMethod: 'models.list',
  }),
  defineRoute({
    operationId: 'retrieveModel',
    method: 'get',
    path: '/v1/models/{model}',
    summary: 'Retrieve a model',
    tag: 'Models',
    auth: true,
    params: modelPath,
    responses: { 200: json(ModelSchema, 'The model.'), ...errors(401, 404) },
    sdkMethod: 'models.retrieve',
  }),
  defineRoute({
    operationId: 'deleteModel',
    method: 'delete',
    path: '/v1/models/{model}',
    summary: 'Delete a fine-tuned model',
    description: 'Only fine-tuned models can be deleted; a base model answers 403.',
    tag: 'Models',
    auth: true,
    params: modelPath,
    responses: { 200: json(ModelDeletedSchema, 'The model was deleted.'), ...errors(401, 403, 404) },
    sdkMethod: 'models.delete',
  }),
  defineRoute({
    operationId: 'createChatCompletion',
    method: 'post',
    path: '/v1/chat/completions',
    summary: 'Create a chat completion',
    description: [
      'Generates with a base model or a fine-tuned `ft:` model (base + adapter).',
      'With `stream: true` the response is `text/event-stream`: each SSE message is `data: <ChatCompletionChunk',
      'JSON>`, and the stream ends with `data: [DONE]`.',
    ].join('\n'),
    tag: 'Chat',
    auth: true,
    body: { kind: 'json', schema: ChatCompletionCreateParamsSchema, required: true },
    responses: {
      200: {
        description: 'The completion (JSON), or its chunks (text/event-stream) when `stream` is true.',
        content: [
          { kind: 'json', schema: ChatCompletionSchema },
          { kind: 'event-stream', schema: ChatCompletionChunkSchema },
        ],
      },
      ...errors(400, 401, 404, 415, 500),
    },
    sdkMethod: 'chat.completions.create',
  }),
  defineRoute({
    operationId: 'listAdapters',
    method: 'get',
    path: '/v1/adapters',
    summary: 'List adapters',
    tag: 'Adapters',
    auth: true,
    query: AdapterListParamsSchema,
    responses: { 200: json(AdapterListSchema, 'A page of adapters, newest first.'), ...errors(400, 401) },
    sdkMethod: 'adapters.list',
  }),
  defineRoute({
    operationId: 'retrieveAdapter',
    method: 'get',
    path: '/v1/adapters/{adapter_id}',
    summary: 'Retrieve an adapter',
    tag: 'Adapters',
    auth: true,
    params: adapterIdPath,
    responses: { 200: json(AdapterSchema, 'The adapter.'), ...errors(401, 404) },
    sdkMethod: 'adapters.retrieve',
  }),
  defineRoute({
    operationId: 'downloadAdapter',
    method: 'get',
    path: '/v1/adapters/{adapter_id}/content',
    summary: 'Download an adapter as a tar archive',
    description:
      'A tar archive (uncompressed) of the PEFT folder: `adapter_config.json` and `adapter_model.safetensors` ' +
      'at its root. With `format=merged`, the base model with the adapter merged into its weights instead.',
    tag: 'Adapters',
    auth: true,
    params: adapterIdPath,
    query: AdapterContentParamsSchema,
    responses: {
      200: {
        description: 'The tar archive.',
        content: [{ kind: 'binary', contentType: 'application/x-tar' }],
      },
      ...errors(400, 401, 404),
    },
    sdkMethod: 'adapters.content',
  }),
  defineRoute({
    operationId: 'deleteAdapter',
    method: 'delete',
    path: '/v1/adapters/{adapter_id}',
    summary: 'Delete an adapter',
    tag: 'Adapters',
    auth: true,
    params: adapterIdPath,
    responses: { 200: json(AdapterDeletedSchema, 'The adapter was deleted.'), ...errors(401, 404) },
    sdkMethod: 'adapters.delete',
  }),
  defineRoute({
    operationId: 'getHealth',
    method: 'get',
    path: '/health',
    summary: 'Check that the server is up',
    tag: 'Health',
    auth: false,
    responses: { 200: json(HealthResponseSchema, 'The server is up.'), ...errors() },
    sdkMethod: null,
  }),
] as const;

export type Route = (typeof routes)[number];
export type OperationId = Route['operationId'];
export type RouteById<Id extends OperationId> = Extract<Route, { operationId: Id }>;

type InferOr<S, Fallback> = S extends z.ZodType ? z.infer<S> : Fallback;

/** Parsed path parameters of a route (`{}` when it has none). */
export type RouteParams<R extends RouteDef> = InferOr<R['params'], Record<string, never>>;
/** Parsed query of a route (`{}` when it takes none). */
export type RouteQuery<R extends RouteDef> = InferOr<R['query'], Record<string, never>>;
/** Parsed request headers a route reads (`{}` when none). */
export type RouteHeaders<R extends RouteDef> = InferOr<R['headers'], Record<string, never>>;
/** Parsed request body of a route (`undefined` when it takes none). */
export type RouteBodyOf<R extends RouteDef> = R['body'] extends { schema: infer S }
  ? InferOr<S, undefined>
  : undefined;
/** The JSON body of a route's 200 response (`never` for binary-only responses). */
export type RouteOkJson<R extends RouteDef> = R['responses'] extends { 200: { content: infer C } }
  ? C extends readonly unknown[]
    ? Extract<C[number], { kind: 'json' }> extends { schema: infer S }
      ? InferOr<S, never>
      : never
    : never
  : never;

const byId = new Map<string, Route>(routes.map((route) => [route.operationId, route]));

/** The route with this operationId. */
export function getRoute<Id extends OperationId>(operationId: Id): RouteById<Id> {
  return byId.get(operationId) as RouteById<Id>;
}

/** `/v1/files/{file_id}` → `/v1/files/:file_id` (Fastify / find-my-way syntax). */
export function toFastifyPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}
