/**
 * Together's fine-tuning API (../shared/reference/together-wire.md, as the `together-ai` 0.52.0 SDK speaks it)
 * behind tunekit's calls: request bodies and paths are translated here, responses mapped back to tunekit's
 * objects. Options Together has and OpenAI's shape lacks travel in `JobCreateParams.together`; what Together
 * lacks throws UnsupportedFeatureError before any request.
 */
import { Readable, type Transform } from 'node:stream';
import zlib from 'node:zlib';
import type { Tunekit } from '../client';
import type { APIPromise } from '../core/api-promise';
import { TunekitError, UnsupportedFeatureError } from '../core/errors';
import { CursorPage, Page } from '../core/pagination';
import { toFile, type Uploadable } from '../core/uploads';
import { path } from '../internal/path';
import type { FinalRequestOptions, RequestOptions } from '../internal/request-options';
import type { FileCreateParams, FileObject } from '../resources/files';
import type { FineTuningJobCheckpoint } from '../resources/fine-tuning/jobs/checkpoints';
import type {
  FineTuningJob,
  FineTuningJobEvent,
  FineTuningJobStatus,
  FineTuningMethod,
  JobCreateParams,
  TrainingType,
} from '../resources/fine-tuning/jobs/jobs';
import type { Model } from '../resources/models';

const unsupported = (feature: string, detail?: string) =>
  new UnsupportedFeatureError('together', feature, detail);

/** Together's own job settings, sent as they are (`JobCreateParams.together`). */
export interface TogetherJobOptions {
  /** Evaluations of the validation file over the run. */
  n_evals?: number;
  /** Comma-separated projection names or `all-linear` (overrides `training_type.target_modules`). */
  lora_trainable_modules?: string;
  /** Continue from a job, output model or `<job>:<step>` checkpoint. */
  from_checkpoint?: string;
  /** SFT only: also train on the prompt tokens. */
  train_on_inputs?: boolean | 'auto';
  /** `"max"`: the model's largest batch. */
  batch_size?: 'max';
  /** The cosine schedule's floor and cycles. */
  lr_scheduler_args?: { min_lr_ratio?: number; num_cycles?: number };
  gradient_accumulation_steps?: number;
  wandb_api_key?: string;
  wandb_project_name?: string;
  wandb_name?: string;
  wandb_entity?: string;
  wandb_base_url?: string;
}

/** Together's job object (`FinetuneResponse`), the fields tunekit reads. */
export interface TogetherFineTune {
  id: string;
  status: string;
  created_at: string;
  updated_at: string;
  user_id?: string;
  model?: string;
  model_output_name?: string;
  training_file?: string;
  validation_file?: string;
  suffix?: string;
  n_epochs?: number;
  n_checkpoints?: number;
  batch_size?: number | 'max';
  learning_rate?: number;
  warmup_ratio?: number;
  weight_decay?: number;
  max_grad_norm?: number;
  max_seq_length?: number;
  packing?: boolean;
  random_seed?: number | null;
  lr_scheduler?: { lr_scheduler_type?: 'linear' | 'cosine' };
  training_method?: {
    method: 'sft' | 'dpo';
    dpo_beta?: number;
    rpo_alpha?: number;
    simpo_gamma?: number;
    dpo_normalize_logratios_by_length?: boolean;
    dpo_reference_free?: boolean;
  };
  training_type?: {
    type: 'Lora' | 'Full';
    lora_r?: number;
    lora_alpha?: number;
    lora_dropout?: number;
    lora_trainable_modules?: string;
  } | null;
  token_count?: number;
  error?: string;
}

interface TogetherFile {
  id: string;
  bytes?: number;
  created_at?: number;
  filename?: string;
  purpose?: string;
  processing_status?: string;
  validation_report?: { error?: string };
}

interface TogetherEvent {
  created_at: string;
  message: string;
  type: string;
  level?: string | null;
  step?: number;
  checkpoint_path?: string;
}

interface TogetherCheckpoint {
  step: number;
  path: string;
  created_at: string;
  checkpoint_type: string;
}

const seconds = (iso: string | undefined): number => (iso ? Math.floor(Date.parse(iso) / 1000) : 0);

// ---- files ------------------------------------------------------------------------------------------------

const FILE_TYPES = ['jsonl', 'parquet', 'csv'] as const;

function togetherPurpose(purpose: FileCreateParams['purpose']): string {
  if (purpose === 'fine-tune') return 'fine-tune';
  if (purpose === 'batch') return 'batch-api';
  if (purpose === 'evals') return 'eval';
  throw unsupported(
    `files.create purpose '${purpose}'`,
    "Together's purposes are fine-tune, batch and evals",
  );
}

/**
 * Together's upload: `POST /files` form-encoded (`file_name`, `file_type`, `purpose`) answers 302 with a signed
 * `Location` and `X-Together-File-Id`; the bytes go there in one `PUT` with their `Content-Length` and no
 * `Authorization`; then `GET /files/{id}`. The body must have a known size (a path, Blob or bytes).
 */
export function uploadFile(
  client: Tunekit,
  body: FileCreateParams,
  options?: RequestOptions,
): APIPromise<FileObject> {
  const stored = sendBytes(client, body, options).then((fileId) => ({
    ...options,
    method: 'get' as const,
    path: path`/files/${fileId}`,
  }));
  return client.request<TogetherFile>(stored)._thenUnwrap(toFileObject);
}

/** The POST and the PUT of an upload; resolves with the new file's id. */
async function sendBytes(client: Tunekit, body: FileCreateParams, options?: RequestOptions): Promise<string> {
  if (body.expires_after) throw unsupported('files.create expires_after');
  const file = await sizedFile(body.file);
  const fileType = FILE_TYPES.find((type) => file.name.toLowerCase().endsWith(`.${type}`));
  if (!fileType) {
    throw new TunekitError(
      `Together needs the file name to end in .jsonl, .parquet or .csv (got '${file.name}'); name it with toFile(data, 'train.jsonl').`,
    );
  }
  const fields = { file_name: file.name, file_type: fileType, purpose: togetherPurpose(body.purpose) };
  const redirect = await client
    .post<Response>('/files', {
      ...options,
      query: fields,
      body: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...plainHeaders(options?.headers) },
      manualRedirect: true,
      binaryResponse: true,
    })
    .asResponse();
  void redirect.body?.cancel().catch(() => {});
  const location = redirect.headers.get('location');
  const fileId = redirect.headers.get('x-together-file-id');
  if (redirect.status !== 302 || !location || !fileId) {
    throw new TunekitError(
      `Together's upload request answered ${redirect.status} without a signed URL (Location) and file id (X-Together-File-Id).`,
    );
  }
  const stored = await client
    .put<Response>(new URL(location, client.baseURL).href, {
      ...options,
      body: file,
      // The signed URL authorises the write (no key); a Blob body goes out with its Content-Length.
      headers: { 'content-type': 'application/octet-stream', authorization: null },
      binaryResponse: true,
    })
    .asResponse();
  void stored.body?.cancel().catch(() => {});
  return fileId;
}

async function sizedFile(value: Uploadable): Promise<File> {
  if (
    typeof value === 'string' ||
    value instanceof Blob ||
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value)
  ) {
    return toFile(value);
  }
  if (typeof (value as { path?: unknown }).path === 'string') return toFile((value as { path: string }).path);
  throw unsupported(
    'files.create from a stream',
    "Together's signed upload URL needs the size up front; pass a path, Blob or bytes",
  );
}

function plainHeaders(headers: RequestOptions['headers']): Record<string, string | null | undefined> {
  return headers instanceof Headers ? Object.fromEntries(headers) : (headers ?? {});
}

export function toFileObject(file: TogetherFile): FileObject {
  const failed = file.processing_status === 'FAILED' || file.processing_status === 'INVALID_FORMAT';
  const purpose =
    file.purpose === 'batch-api' ? 'batch' : file.purpose === 'eval' ? 'user_data' : 'fine-tune';
  return {
    id: file.id,
    object: 'file',
    bytes: file.bytes ?? 0,
    created_at: file.created_at ?? 0,
    filename: file.filename ?? '',
    purpose,
    status: failed ? 'error' : 'processed',
    ...(failed && file.validation_report?.error ? { status_details: file.validation_report.error } : {}),
  };
}

export function retrieveFile(
  client: Tunekit,
  fileId: string,
  options?: RequestOptions,
): APIPromise<FileObject> {
  return client.get<TogetherFile>(path`/files/${fileId}`, options)._thenUnwrap(toFileObject);
}

/** `{data: FileResponse[]}`, never paged, as one cursor page of tunekit files. */
export class TogetherFilesPage extends CursorPage<FileObject> {
  constructor(client: Tunekit, response: Response, body: unknown, options: FinalRequestOptions) {
    const data = ((body as { data?: TogetherFile[] })?.data ?? []).map(toFileObject);
    super(client, response, { data, has_more: false }, options);
  }
}

// ---- jobs -------------------------------------------------------------------------------------------------

function dpoTrainingMethod(method: FineTuningMethod): NonNullable<TogetherFineTune['training_method']> {
  const h = method.dpo?.hyperparameters ?? {};
  const types = h.loss_type === undefined ? [] : Array.isArray(h.loss_type) ? h.loss_type : [h.loss_type];
  if (types.length > 1 || (types[0] && !['sigmoid', 'sigmoid_norm', 'simpo'].includes(types[0]))) {
    throw unsupported(
      `method.dpo loss_type ${JSON.stringify(h.loss_type)}`,
      "Together trains DPO ('sigmoid'), its length-normalised form ('sigmoid_norm') and SimPO ('simpo')",
    );
  }
  for (const key of ['loss_weights', 'label_smoothing'] as const) {
    if (h[key] !== undefined) throw unsupported(`method.dpo.hyperparameters.${key}`);
  }
  const simpo = types[0] === 'simpo';
  if (simpo && h.reference_free === false) {
    throw unsupported('SimPO with a reference model', 'Together’s simpo_gamma is always reference-free');
  }
  return {
    method: 'dpo',
    ...(typeof h.beta === 'number' ? { dpo_beta: h.beta } : {}),
    ...(h.rpo_alpha !== undefined ? { rpo_alpha: h.rpo_alpha } : {}),
    ...(simpo ? { simpo_gamma: h.simpo_gamma ?? 0.5 } : {}),
    ...(types[0] === 'sigmoid_norm' ? { dpo_normalize_logratios_by_length: true } : {}),
    ...(h.reference_free ? { dpo_reference_free: true } : {}),
  };
}

/**
 * tunekit's `training_type` as Together's: `{type: 'Full'}`, or `Lora` with `lora_r` (required there), `lora_alpha`
 * (default 2r, as Together's CLI), dropout and modules. Absent: Together's default LoRA.
 */
function togetherTrainingType(type: TrainingType | null | undefined, modules: string | undefined) {
  if (type?.type === 'full') {
    if (modules) throw new TunekitError('together.lora_trainable_modules needs a LoRA training_type.');
    return { type: 'Full' as const };
  }
  if (!type && !modules) return undefined;
  if (type?.use_rslora) throw unsupported('training_type.use_rslora');
  if (type?.r === undefined) {
    throw new TunekitError("Together needs the LoRA rank: pass training_type: { type: 'lora', r, alpha }.");
  }
  const targets = type.target_modules;
  return {
    type: 'Lora' as const,
    lora_r: type.r,
    lora_alpha: type.alpha ?? 2 * type.r,
    ...(type.dropout !== undefined ? { lora_dropout: type.dropout } : {}),
    lora_trainable_modules: modules ?? (Array.isArray(targets) ? targets.join(',') : 'all-linear'),
  };
}

/** `JobCreateParams` as the body of Together's `POST /fine-tunes`; throws for what Together cannot take. */
export function toTogetherCreateBody(params: JobCreateParams): Record<string, unknown> {
  const method = params.method ?? { type: 'supervised' as const };
  if (method.type !== 'supervised' && method.type !== 'dpo')
    throw unsupported(`method.type '${method.type}'`);
  if (params.hyperparameters)
    throw unsupported('hyperparameters (deprecated)', 'use method.*.hyperparameters');
  if (params.integrations?.length) throw unsupported('integrations', 'pass together.wandb_* instead');
  if (params.metadata) throw unsupported('metadata');
  const h = (method.type === 'dpo' ? method.dpo?.hyperparameters : method.supervised?.hyperparameters) ?? {};
  if (h.learning_rate_multiplier !== undefined && h.learning_rate_multiplier !== 'auto') {
    throw unsupported('learning_rate_multiplier', 'Together takes an absolute learning_rate');
  }
  const {
    lr_scheduler_args,
    lora_trainable_modules,
    train_on_inputs,
    batch_size: maxBatch,
    ...rest
  } = params.together ?? {};
  const body: Record<string, unknown> = {
    model: params.model,
    training_file: params.training_file,
    ...(params.validation_file ? { validation_file: params.validation_file } : {}),
    ...(params.suffix ? { suffix: params.suffix } : {}),
    ...(params.seed != null ? { random_seed: params.seed } : {}),
    ...(params.n_checkpoints !== undefined ? { n_checkpoints: params.n_checkpoints } : {}),
  };
  if (typeof h.n_epochs === 'number') body.n_epochs = h.n_epochs;
  if (maxBatch === 'max') body.batch_size = 'max';
  else if (typeof h.batch_size === 'number') body.batch_size = h.batch_size;
  for (const key of [
    'learning_rate',
    'warmup_ratio',
    'weight_decay',
    'max_grad_norm',
    'max_seq_length',
  ] as const) {
    if (h[key] !== undefined) body[key] = h[key];
  }
  if ('packing' in h && h.packing !== undefined) body.packing = h.packing;
  if (h.lr_scheduler || lr_scheduler_args) {
    body.lr_scheduler = {
      lr_scheduler_type: h.lr_scheduler ?? 'linear',
      ...(lr_scheduler_args ? { lr_scheduler_args } : {}),
    };
  }
  if (method.type === 'dpo') {
    if (train_on_inputs !== undefined)
      throw unsupported('together.train_on_inputs with DPO', 'it is for SFT only');
    body.training_method = dpoTrainingMethod(method);
  } else {
    body.training_method = { method: 'sft', ...(train_on_inputs !== undefined ? { train_on_inputs } : {}) };
  }
  const trainingType = togetherTrainingType(params.training_type, lora_trainable_modules);
  if (trainingType) body.training_type = trainingType;
  return { ...body, ...rest };
}

const STATUS: Record<string, FineTuningJobStatus> = {
  pending: 'validating_files',
  queued: 'queued',
  running: 'running',
  compressing: 'running',
  uploading: 'running',
  cancel_requested: 'running',
  cancelled: 'cancelled',
  error: 'failed',
  completed: 'succeeded',
};

/** Together's job as tunekit's `FineTuningJob` (times in Unix seconds, states in OpenAI's names). */
export function toFineTuningJob(job: TogetherFineTune): FineTuningJob {
  const status = STATUS[job.status] ?? 'running';
  const finished = status === 'succeeded' || status === 'failed' || status === 'cancelled';
  const common = {
    ...(job.n_epochs !== undefined ? { n_epochs: job.n_epochs } : {}),
    ...(typeof job.batch_size === 'number' ? { batch_size: job.batch_size } : {}),
    ...(job.learning_rate !== undefined ? { learning_rate: job.learning_rate } : {}),
    ...(job.lr_scheduler?.lr_scheduler_type ? { lr_scheduler: job.lr_scheduler.lr_scheduler_type } : {}),
    ...(job.warmup_ratio !== undefined ? { warmup_ratio: job.warmup_ratio } : {}),
    ...(job.weight_decay !== undefined ? { weight_decay: job.weight_decay } : {}),
    ...(job.max_grad_norm !== undefined ? { max_grad_norm: job.max_grad_norm } : {}),
    ...(job.max_seq_length !== undefined ? { max_seq_length: job.max_seq_length } : {}),
  };
  const tm = job.training_method;
  let method: FineTuningMethod;
  if (tm?.method === 'dpo') {
    const simpo = (tm.simpo_gamma ?? 0) > 0;
    method = {
      type: 'dpo',
      dpo: {
        hyperparameters: {
          ...common,
          beta: tm.dpo_beta ?? 0.1,
          loss_type: simpo ? 'simpo' : tm.dpo_normalize_logratios_by_length ? 'sigmoid_norm' : 'sigmoid',
          ...(simpo ? { simpo_gamma: tm.simpo_gamma } : {}),
          ...(tm.rpo_alpha ? { rpo_alpha: tm.rpo_alpha } : {}),
          ...(!simpo && tm.dpo_reference_free ? { reference_free: true } : {}),
        },
      },
    };
  } else {
    method = {
      type: 'supervised',
      supervised: {
        hyperparameters: { ...common, ...(job.packing !== undefined ? { packing: job.packing } : {}) },
      },
    };
  }
  const type = job.training_type;
  const training_type: TrainingType =
    type?.type === 'Full'
      ? { type: 'full' }
      : {
          type: 'lora',
          ...(type?.lora_r !== undefined ? { r: type.lora_r } : {}),
          ...(type?.lora_alpha !== undefined ? { alpha: type.lora_alpha } : {}),
          ...(type?.lora_dropout !== undefined ? { dropout: type.lora_dropout } : {}),
          target_modules:
            !type?.lora_trainable_modules || type.lora_trainable_modules === 'all-linear'
              ? 'all-linear'
              : type.lora_trainable_modules.split(',').map((m) => m.trim()),
        };
  return {
    id: job.id,
    object: 'fine_tuning.job',
    created_at: seconds(job.created_at),
    error:
      status === 'failed'
        ? { code: 'job_error', message: job.error ?? 'The job failed (see its events).', param: null }
        : null,
    fine_tuned_model: status === 'succeeded' ? (job.model_output_name ?? null) : null,
    finished_at: finished ? seconds(job.updated_at) : null,
    hyperparameters: null,
    model: job.model ?? '',
    organization_id: job.user_id ?? '',
    result_files: [],
    seed: job.random_seed ?? 0,
    status,
    trained_tokens: status === 'succeeded' ? (job.token_count ?? null) : null,
    training_file: job.training_file ?? '',
    validation_file: job.validation_file ?? null,
    user_provided_suffix: job.suffix ?? null,
    method,
    training_type,
    ...(job.n_checkpoints !== undefined ? { n_checkpoints: job.n_checkpoints } : {}),
  };
}

/** `{data: job[]}`, never paged, newest first like OpenAI's list. */
export class TogetherJobsPage extends CursorPage<FineTuningJob> {
  constructor(client: Tunekit, response: Response, body: unknown, options: FinalRequestOptions) {
    const data = ((body as { data?: TogetherFineTune[] })?.data ?? [])
      .map(toFineTuningJob)
      .sort((a, b) => b.created_at - a.created_at);
    super(client, response, { data, has_more: false }, options);
  }
}

// ---- events and checkpoints -------------------------------------------------------------------------------

/**
 * Together's events (all of them, oldest first, no ids) as tunekit's, newest first, paged here by `after` and
 * `limit`. An event's id is `<job id>:event:<position>`, stable because the log only grows.
 */
export class TogetherEventsPage extends CursorPage<FineTuningJobEvent> {
  constructor(client: Tunekit, response: Response, body: unknown, options: FinalRequestOptions) {
    const jobId = /\/fine-tunes\/([^/]+)\/events/.exec(options.path)?.[1] ?? '';
    const all = ((body as { data?: TogetherEvent[] })?.data ?? [])
      .map((event, i) => toEvent(decodeURIComponent(jobId), event, i))
      .reverse();
    const query = (options.query ?? {}) as { after?: string; limit?: number };
    const start = query.after ? all.findIndex((e) => e.id === query.after) + 1 : 0;
    const limit = query.limit ?? 20;
    const data = all.slice(start, start + limit);
    super(client, response, { data, has_more: start + limit < all.length }, options);
  }
}

function toEvent(jobId: string, event: TogetherEvent, position: number): FineTuningJobEvent {
  const level = event.level === 'error' ? 'error' : event.level === 'warning' ? 'warn' : 'info';
  return {
    id: `${jobId}:event:${position}`,
    object: 'fine_tuning.job.event',
    created_at: seconds(event.created_at),
    level,
    message: event.message,
    type: 'message',
    data: {
      together_type: event.type,
      ...(event.step !== undefined ? { step: event.step } : {}),
      ...(event.checkpoint_path ? { checkpoint_path: event.checkpoint_path } : {}),
    },
  };
}

/**
 * Together's checkpoints as tunekit's. `fine_tuned_model_checkpoint` is the name Together's `from_checkpoint`
 * takes: `<job id>:<step>` for an intermediate one, the job id for the final one (as the `together` CLI names them).
 */
export class TogetherCheckpointsPage extends CursorPage<FineTuningJobCheckpoint> {
  constructor(client: Tunekit, response: Response, body: unknown, options: FinalRequestOptions) {
    const jobId = decodeURIComponent(/\/fine-tunes\/([^/]+)\/checkpoints/.exec(options.path)?.[1] ?? '');
    const data = ((body as { data?: TogetherCheckpoint[] })?.data ?? [])
      .map((c) => {
        const final = /final/i.test(c.checkpoint_type);
        return {
          id: final ? jobId : `${jobId}:${c.step}`,
          object: 'fine_tuning.job.checkpoint' as const,
          created_at: seconds(c.created_at),
          fine_tuned_model_checkpoint: final ? jobId : `${jobId}:${c.step}`,
          fine_tuning_job_id: jobId,
          step_number: c.step,
          metrics: { step: c.step },
        };
      })
      .sort((a, b) => b.step_number - a.step_number);
    super(client, response, { data, has_more: false }, options);
  }
}

// ---- models -----------------------------------------------------------------------------------------------

/** `GET /models` is a bare array on Together. */
export class TogetherModelsPage extends Page<Model> {
  constructor(client: Tunekit, response: Response, body: unknown, options: FinalRequestOptions) {
    const models = (Array.isArray(body) ? body : []) as {
      id: string;
      created?: number;
      organization?: string;
    }[];
    super(
      client,
      response,
      {
        object: 'list',
        data: models.map((m) => ({
          id: m.id,
          object: 'model' as const,
          created: m.created ?? 0,
          owned_by: m.organization ?? '',
        })),
      },
      options,
    );
  }
}

// ---- downloads --------------------------------------------------------------------------------------------

/**
 * `GET /finetune/download`: the job's adapter (`checkpoint=adapter`) or merged model (`merged`); an id
 * `<job id>:<step>` asks for that checkpoint (`checkpoint_step`).
 */
export function togetherDownload(
  client: Tunekit,
  adapterId: string,
  query: { format?: 'adapter' | 'merged' },
  options?: RequestOptions,
): APIPromise<Response> {
  const match = /^(.*):(\d+)$/.exec(adapterId);
  const [ftId, step] = match ? [match[1] as string, Number(match[2])] : [adapterId, undefined];
  return client.get('/finetune/download', {
    ...options,
    query: {
      ft_id: ftId,
      checkpoint: query.format ?? 'adapter',
      ...(step !== undefined ? { checkpoint_step: step } : {}),
    },
    headers: { accept: 'application/octet-stream', ...plainHeaders(options?.headers) },
    binaryResponse: true,
  });
}

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/**
 * The archive as a plain tar stream: Together serves `.tar.zst` (the emulator a plain tar). zstd is decompressed
 * with node:zlib where Node has it (≥ 22.15); on an older Node a zstd archive is a clear error.
 */
export async function tarStream(body: Readable, adapterId: string): Promise<Readable> {
  const iterator = body[Symbol.asyncIterator]();
  const first = await iterator.next();
  const head: Buffer = first.done ? Buffer.alloc(0) : Buffer.from(first.value as Uint8Array);
  const rest = Readable.from(
    (async function* () {
      if (head.length > 0) yield head;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value as Uint8Array;
      }
    })(),
  );
  if (!ZSTD_MAGIC.every((byte, i) => head[i] === byte)) return rest;
  const createZstd = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;
  if (!createZstd) {
    rest.destroy();
    throw new TunekitError(
      `The archive of ${adapterId} is zstd-compressed and Node ${process.versions.node} has no zstd (Node ≥ 22.15 does); use adapters.content() for the raw bytes.`,
    );
  }
  return rest.pipe(createZstd());
}
