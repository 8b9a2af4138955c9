/**
 * The emulator's persistence: SQLite metadata (better-sqlite3, WAL) plus a blob folder, behind one `Store`.
 *
 * Every row belongs to a project (one per API key, see `projectIdForKey`): a lookup from another project finds
 * nothing, so routes answer 404. Methods return objects in the wire shapes of `emulator/contract`, ready to send.
 * Calls are synchronous (better-sqlite3) except those that stream bytes. Each job state change is written with
 * its event in one transaction; blobs are written tmp → fsync → rename. Data folder layout: docs/emulator.md.
 */
import type { Adapter } from '../contract/adapters';
import type { Metadata } from '../contract/common';
import type { FileObject, FilePurpose } from '../contract/files';
import type {
  FineTuningJob,
  FineTuningJobCheckpoint,
  FineTuningJobEvent,
  FineTuningJobStatus,
  JobCreateParams,
} from '../contract/jobs';
import type { Model } from '../contract/models';

/** The `metrics` of a checkpoint (all optional numbers). */
export type CheckpointMetrics = FineTuningJobCheckpoint['metrics'];

export { EmulatorError, insufficientStorage, isOutOfSpace } from './errors';
export { organizationIdForKey, projectIdForKey } from './projects';
export { dataPaths, openStore } from './sqlite-store';

/** A page of a cursor list: `data` in list order, `has_more` when another page follows. */
export interface Page<T> {
  data: T[];
  has_more: boolean;
}

/** A page whose envelope also names its first and last ids (files, checkpoints, adapters). */
export interface PageWithIds<T> extends Page<T> {
  first_id: string | null;
  last_id: string | null;
}

export interface CursorQuery {
  /** Id of the last item of the previous page; the page starts after it. Unknown id → empty page. */
  after?: string | undefined;
  limit: number;
}

// ---------------------------------------------------------------------------------------------- files

export interface FileUpload {
  /** The id to give the file (one announced before its bytes came, as Together's upload does); default: new. */
  id?: string | undefined;
  filename: string;
  purpose: FilePurpose;
  /** Seconds after creation when the file expires (`expires_after[seconds]`), or undefined: never. */
  expiresAfterSeconds?: number | undefined;
  /** The bytes; consumed once. An error thrown by it aborts the upload: no row, no blob. */
  content: AsyncIterable<Uint8Array>;
  /** Upload refused with `EmulatorError` 413 `file_too_large` when the stream exceeds it. */
  maxBytes?: number | undefined;
  /**
   * Checks the complete blob (still in tmp) before it is committed; throw (e.g. an `EmulatorError` 400) to
   * refuse the upload, which then leaves no row and no blob.
   */
  check?: ((blobPath: string, bytes: number) => void | Promise<void>) | undefined;
}

export interface FileListQuery extends CursorQuery {
  purpose?: string | undefined;
  order?: 'asc' | 'desc' | undefined;
}

export interface FileRepo {
  /** Streams the upload to <data>/tmp, fsyncs, renames into <data>/files and inserts the row. */
  createFromUpload(projectId: string, upload: FileUpload): Promise<FileObject>;
  /** A file the emulator writes itself (result CSV), same atomicity. */
  createFromBuffer(
    projectId: string,
    file: { filename: string; purpose: FilePurpose; data: Buffer },
  ): FileObject;
  get(projectId: string, fileId: string): FileObject | undefined;
  list(projectId: string, query: FileListQuery): PageWithIds<FileObject>;
  /** Removes row and blob; false when the project has no such file. */
  delete(projectId: string, fileId: string): boolean;
  /** Absolute path of the blob, or undefined when the project has no such file. */
  blobPath(projectId: string, fileId: string): string | undefined;
}

// ----------------------------------------------------------------------------------------------- jobs

/**
 * What the scheduler keeps about a job beside its wire object. Opaque to routes; stored as JSON.
 * `resolved` is set by validation and completed when training starts; `attempts` counts trainer starts.
 */
export interface JobRuntime {
  attempts: number;
  /** Resolved settings the trainer ran with (see emulator/worker). */
  resolved?: Record<string, unknown> | undefined;
  startedAt?: number | undefined;
  /** The highest step whose metrics event is recorded (written in the same transaction as that event). */
  lastStep?: number | undefined;
  /**
   * Steps of the engine checkpoints a resume may use, oldest first (the newest two). A checkpoint is committed in
   * the transaction that records its step's metrics event, never before; files of any other are removed before a
   * trainer starts (docs/emulator.md, "Crash consistency").
   */
  checkpoints?: number[] | undefined;
  /** What a Together-dialect request asked that the job's fields do not say (`n_evals`, `from_checkpoint`, …). */
  together?: Record<string, unknown> | undefined;
}

/** A job with the project it belongs to and the worker's notes. */
export interface JobRecord {
  projectId: string;
  job: FineTuningJob;
  runtime: JobRuntime;
}

/** Input of `jobs.create`: the parsed request plus what the server derives from the key. */
export interface JobCreateInput {
  params: JobCreateParams;
  organizationId: string;
}

export interface JobListQuery extends CursorQuery {
  /** `{k: v}`: jobs whose metadata has every k = v; null: jobs without metadata; undefined: all jobs. */
  metadata?: Record<string, string> | null | undefined;
}

export interface NewEvent {
  level?: 'info' | 'warn' | 'error';
  message: string;
  type?: 'message' | 'metrics';
  /** `{}` by default; null for "Fine-tuning job started", as the hosted service sends it. */
  data?: Record<string, unknown> | null;
}

export interface JobTransition {
  /** The change happens only if the job is in one of these states; otherwise `transition` returns undefined. */
  from: readonly FineTuningJobStatus[];
  to: FineTuningJobStatus;
  /** Other wire fields to set in the same transaction (error, finished_at, fine_tuned_model, ...). */
  patch?: Partial<FineTuningJob>;
  runtime?: Partial<JobRuntime>;
  /** Events written in the same transaction, in order. */
  events?: NewEvent[];
}

export interface JobRepo {
  /**
   * Inserts a job in `validating_files` with its first two events ("Created fine-tuning job: …",
   * "Validating training file: …") in one transaction. Fills defaults: seed (random when absent),
   * method (supervised, hyperparameters "auto"), top-level hyperparameters copied from the method.
   */
  create(projectId: string, input: JobCreateInput): FineTuningJob;
  get(projectId: string, jobId: string): FineTuningJob | undefined;
  /** `get` as the job's stored JSON text, unparsed (the HTTP route sends it as is). */
  getJson(projectId: string, jobId: string): string | undefined;
  /** Newest first. */
  list(projectId: string, query: JobListQuery): Page<FineTuningJob>;
  /** `list` with each job as its stored JSON text, unparsed (the HTTP route sends it as is). */
  listJson(projectId: string, query: JobListQuery): Page<string>;
  /** Worker access by id alone (job ids are unique across projects). */
  record(jobId: string): JobRecord | undefined;
  /** Jobs in these states, oldest first (the scheduler's queue). */
  withStatus(statuses: readonly FineTuningJobStatus[]): JobRecord[];
  /** Atomic compare-and-set of the status with its patch and events; undefined when `from` did not match. */
  transition(jobId: string, change: JobTransition): JobRecord | undefined;
  /** Updates fields that are not a status change (estimated_finish, runtime), optionally with events. */
  update(
    jobId: string,
    change: { patch?: Partial<FineTuningJob>; runtime?: Partial<JobRuntime>; events?: NewEvent[] },
  ): JobRecord;
}

// --------------------------------------------------------------------------------------------- events

export interface StoredEvent {
  /** Monotonic per job, from 1. */
  seq: number;
  event: FineTuningJobEvent;
}

export interface EventRepo {
  append(jobId: string, event: NewEvent): StoredEvent;
  /** Newest first; `after` = an event id: the events older than it. */
  list(projectId: string, jobId: string, query: CursorQuery): Page<FineTuningJobEvent>;
  /** Events with seq > `seq`, oldest first (SSE replay). */
  since(jobId: string, seq: number): StoredEvent[];
  /** The seq of an event id of this job (a `Last-Event-ID`), or undefined. */
  seqOf(jobId: string, eventId: string): number | undefined;
}

// ---------------------------------------------------------------------------------------- checkpoints

export interface NewCheckpoint {
  jobId: string;
  step: number;
  metrics: CheckpointMetrics;
  /** `…:ckpt-step-N` for intermediate checkpoints, the job's `fine_tuned_model` for the final one. */
  modelName: string;
  adapterId: string | null;
}

export interface CheckpointRepo {
  insert(checkpoint: NewCheckpoint): FineTuningJobCheckpoint;
  /** Newest (highest step) first. */
  list(projectId: string, jobId: string, query: CursorQuery): PageWithIds<FineTuningJobCheckpoint>;
  /**
   * Drops a listed checkpoint (a reinforcement job keeps its best three): its row, and its model name (deleted).
   * Returns its adapter's id (for the caller to delete), or undefined when there was no such checkpoint.
   */
  remove(projectId: string, jobId: string, step: number): { adapterId: string | null } | undefined;
}

// ------------------------------------------------------------------------------------------- adapters

export interface NewAdapter {
  jobId: string;
  fineTunedModel: string;
  baseModel: string;
  step: number;
  /** A PEFT folder (adapter_config.json + adapter_model.safetensors); copied into <data>/adapters/<id>. */
  sourceDir: string;
}

export interface AdapterRepo {
  /** Copies the folder atomically and inserts the row; r, lora_alpha, target_modules come from its config. */
  insert(projectId: string, adapter: NewAdapter): Adapter;
  get(projectId: string, adapterId: string): Adapter | undefined;
  list(
    projectId: string,
    query: CursorQuery & { fineTuningJobId?: string | undefined },
  ): PageWithIds<Adapter>;
  delete(projectId: string, adapterId: string): boolean;
  /** The PEFT folder of an adapter, or undefined. */
  dir(projectId: string, adapterId: string): string | undefined;
}

// --------------------------------------------------------------------------------------------- models

/** A fine-tuned model name the project can use: a job's final model or one of its checkpoints. */
export interface FineTunedModelRecord {
  id: string;
  jobId: string;
  /** The job's `model` (what it was trained from, as the user named it). */
  baseModel: string;
  adapterId: string | null;
  /** A full HF model folder, for jobs trained with `training_type: {type: "full"}` (then `adapterId` is null). */
  weightsDir: string | null;
  /** Null for the final model. */
  checkpointStep: number | null;
  created: number;
  ownedBy: string;
}

export type NewFineTunedModel = Omit<FineTunedModelRecord, 'created'>;

export interface ModelRepo {
  /** Makes a name usable (the worker calls it for final models and checkpoints). */
  register(projectId: string, model: NewFineTunedModel): FineTunedModelRecord;
  /** Final fine-tuned models of the project (not deleted), as wire objects, newest first. */
  list(projectId: string): Model[];
  /** A final or checkpoint model name of the project, or undefined (also once deleted). */
  find(projectId: string, modelId: string): FineTunedModelRecord | undefined;
  /** Deletes a final fine-tuned model (its checkpoint names go with it); false when not found. */
  delete(projectId: string, modelId: string): boolean;
}

// ---------------------------------------------------------------------------------------- idempotency

export interface StoredResponse {
  status: number;
  body: unknown;
}

export interface IdempotencyScope {
  projectId: string;
  key: string;
  /** e.g. `POST /v1/fine_tuning/jobs`. */
  route: string;
  /** Hash of the request body; a reuse of the key with another body is refused (400). */
  fingerprint: string;
}

export interface IdempotencyRepo {
  /**
   * Runs `handler` once per scope and stores its response (2xx and 4xx; a thrown error or a 5xx is not kept, so
   * a retry runs again). A duplicate gets the stored response; a concurrent duplicate waits for the first.
   */
  execute(
    scope: IdempotencyScope,
    handler: () => Promise<StoredResponse>,
  ): Promise<{ response: StoredResponse; replayed: boolean }>;
}

// ------------------------------------------------------------------------------------------ the store

/** A change that live subscribers (SSE) see: a new event, or a new job state. */
export type JobUpdate =
  | { kind: 'event'; jobId: string; seq: number; event: FineTuningJobEvent }
  | { kind: 'status'; jobId: string; job: FineTuningJob };

export interface DataPaths {
  root: string;
  database: string;
  files: string;
  tmp: string;
  jobs: string;
  adapters: string;
  /** <data>/jobs/<job-id>: token files, checkpoints, output, metrics.csv. */
  jobDir(jobId: string): string;
}

export interface Store {
  readonly paths: DataPaths;
  readonly files: FileRepo;
  readonly jobs: JobRepo;
  readonly events: EventRepo;
  readonly checkpoints: CheckpointRepo;
  readonly adapters: AdapterRepo;
  readonly models: ModelRepo;
  readonly idempotency: IdempotencyRepo;
  /** Called after commit for every event and status change of `jobId`; returns the unsubscribe function. */
  subscribe(jobId: string, listener: (update: JobUpdate) => void): () => void;
  /** Runs `fn` in one write transaction (repository calls inside it join it). */
  transaction<T>(fn: () => T): T;
  /**
   * Deletes a job with its events, checkpoints, adapters and model names (one transaction), then its folders;
   * false when the project has no such job. The caller makes sure the job is finished.
   */
  deleteJob(projectId: string, jobId: string): boolean;
  close(): void;
}

export type { Metadata };
