/**
 * Domain objects (files, jobs, events, checkpoints) in Together's shapes. The domain is the OpenAI dialect's: ids,
 * names and training are shared, so a job created through one dialect reads the same through the other.
 */
import type { FileObject, FilePurpose } from '../../../contract/files';
import type { FineTuningJob, FineTuningJobCheckpoint, FineTuningJobEvent } from '../../../contract/jobs';
import type { JobRecord, Store } from '../../../store';
import { TEXT } from '../../../worker/events';
import { fineTunedModelName } from '../../../worker/job-runner';
import type { TogetherFile, TogetherFilePurpose, TogetherFineTune } from '../contract/objects';

export function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** Together's purposes as stored: `eval` files are user data, `batch-api` files batch input. */
export function domainPurpose(purpose: TogetherFilePurpose): FilePurpose {
  return purpose === 'eval' ? 'user_data' : purpose === 'batch-api' ? 'batch' : 'fine-tune';
}

function togetherPurpose(purpose: FilePurpose): TogetherFilePurpose {
  return purpose === 'fine-tune' ? 'fine-tune' : purpose === 'batch' ? 'batch-api' : 'eval';
}

export function toTogetherFile(file: FileObject): TogetherFile {
  return {
    id: file.id,
    object: 'file',
    created_at: file.created_at,
    filename: file.filename,
    bytes: file.bytes,
    purpose: togetherPurpose(file.purpose),
    FileType: 'jsonl',
    Processed: true,
    processing_status: file.status === 'error' ? 'FAILED' : 'COMPLETED',
    type: 'jsonl',
  };
}

/** Domain state → Together's. `paused` (OpenAI dialect only) reads as `queued`: the job waits to go on. */
const STATUS: Record<FineTuningJob['status'], TogetherFineTune['status']> = {
  validating_files: 'pending',
  queued: 'queued',
  paused: 'queued',
  running: 'running',
  succeeded: 'completed',
  failed: 'error',
  cancelled: 'cancelled',
};

export const TOGETHER_LORA_DEFAULTS = { r: 16, alpha: 32, dropout: 0 } as const;

function trainingType(job: FineTuningJob): TogetherFineTune['training_type'] {
  const type = job.training_type;
  if (type?.type === 'full') return { type: 'Full' };
  const targets = type?.target_modules;
  return {
    type: 'Lora',
    lora_r: type?.r ?? TOGETHER_LORA_DEFAULTS.r,
    lora_alpha: type?.alpha ?? TOGETHER_LORA_DEFAULTS.alpha,
    lora_dropout: type?.dropout ?? TOGETHER_LORA_DEFAULTS.dropout,
    lora_trainable_modules: Array.isArray(targets) ? targets.join(',') : 'all-linear',
  };
}

/**
 * The job's method as Together's `training_method` (the inverse of togetherDpoToMethod, so a DPO job made through
 * either dialect reads the same here): SimPO → `simpo_gamma` (with its forced length normalisation and no
 * reference), `sigmoid_norm` → `dpo_normalize_logratios_by_length`, `reference_free`, `rpo_alpha`.
 */
function togetherTrainingMethod(job: FineTuningJob): TogetherFineTune['training_method'] {
  if (job.method?.type !== 'dpo') return { method: 'sft', train_on_inputs: false };
  const h = job.method.dpo?.hyperparameters ?? {};
  const types = h.loss_type === undefined ? [] : Array.isArray(h.loss_type) ? h.loss_type : [h.loss_type];
  const simpo = types[0] === 'simpo';
  return {
    method: 'dpo',
    dpo_beta: typeof h.beta === 'number' ? h.beta : 0.1,
    dpo_normalize_logratios_by_length: simpo || types[0] === 'sigmoid_norm',
    dpo_reference_free: simpo || h.reference_free === true,
    rpo_alpha: h.rpo_alpha ?? 0,
    simpo_gamma: simpo ? (h.simpo_gamma ?? 0.5) : 0,
  };
}

function numberOr<T>(value: unknown, fallback: T): number | T {
  return typeof value === 'number' ? value : fallback;
}

/** The job in Together's shape (`FinetuneResponse`); `record.runtime.together` keeps what only Together asked. */
export function toTogetherJob(store: Store, record: JobRecord): TogetherFineTune {
  const { job, runtime } = record;
  const asked = (runtime.together ?? {}) as Record<string, unknown>;
  const h = (job.method?.supervised?.hyperparameters ?? job.method?.dpo?.hyperparameters ?? {}) as Record<
    string,
    unknown
  >;
  const last = store.events.since(job.id, 0).at(-1)?.event.created_at ?? job.created_at;
  const steps = runtime.lastStep;
  const totalSteps = (runtime.resolved as { totalSteps?: number } | undefined)?.totalSteps;
  const out: TogetherFineTune = {
    id: job.id,
    job_id: job.id,
    status: STATUS[job.status],
    created_at: iso(job.created_at),
    updated_at: iso(Math.max(last, job.finished_at ?? 0)),
    user_id: job.organization_id,
    owner_address: job.organization_id,
    model: job.model,
    model_output_name: job.fine_tuned_model ?? fineTunedModelName(job),
    training_file: job.training_file,
    n_evals: numberOr(asked.n_evals, 0),
    random_seed: job.seed,
    training_method: togetherTrainingMethod(job),
    training_type: trainingType(job),
    train_on_inputs: false,
    total_price: 0,
    progress: {
      estimate_available: job.estimated_finish != null,
      seconds_remaining:
        job.estimated_finish != null ? Math.max(0, job.estimated_finish - Date.now() / 1000) : 0,
    },
  };
  if (runtime.startedAt !== undefined) out.started_at = iso(runtime.startedAt);
  if (job.validation_file) out.validation_file = job.validation_file;
  if (job.user_provided_suffix) out.suffix = job.user_provided_suffix;
  if (typeof h.n_epochs === 'number') out.n_epochs = h.n_epochs;
  if (job.n_checkpoints !== undefined) out.n_checkpoints = job.n_checkpoints;
  const batch =
    typeof h.batch_size === 'number' ? h.batch_size : asked.batch_size === 'max' ? 'max' : undefined;
  if (batch !== undefined) out.batch_size = batch;
  for (const key of [
    'learning_rate',
    'warmup_ratio',
    'max_grad_norm',
    'weight_decay',
    'max_seq_length',
  ] as const) {
    if (typeof h[key] === 'number') out[key] = h[key] as number;
  }
  if (typeof h.packing === 'boolean') out.packing = h.packing;
  if (typeof h.lr_scheduler === 'string') {
    out.lr_scheduler = { lr_scheduler_type: h.lr_scheduler as 'linear' | 'cosine' };
  }
  if (typeof asked.from_checkpoint === 'string') out.from_checkpoint = asked.from_checkpoint;
  if (job.trained_tokens != null) out.token_count = job.trained_tokens;
  if (steps !== undefined) out.steps_completed = steps;
  if (totalSteps !== undefined) out.total_steps = totalSteps;
  if (job.status === 'succeeded') out.model_output_path = `tunekit://models/${job.fine_tuned_model}`;
  if (job.error) out.error = job.error.message;
  return out;
}

type TogetherEvent = {
  object: 'fine-tune-event';
  created_at: string;
  message: string;
  type: string;
  level: 'info' | 'warning' | 'error';
  step?: number;
  total_steps?: number;
  checkpoint_path?: string;
  model_path?: string;
};

const CHECKPOINT_MESSAGE = /^Checkpoint created at step (\d+) with Snapshot ID: (.+)$/;
const MODEL_MESSAGE = /^New fine-tuned model created: (.+)$/;

/**
 * A domain event as a Together event (its `type` from the event's meaning), or null for the per-step `metrics`
 * events, which Together serves through `/metrics` instead.
 */
export function toTogetherEvent(event: FineTuningJobEvent): TogetherEvent | null {
  if (event.type === 'metrics') return null;
  const base = {
    object: 'fine-tune-event' as const,
    created_at: iso(event.created_at),
    message: event.message,
    level:
      event.level === 'error'
        ? ('error' as const)
        : event.level === 'warn'
          ? ('warning' as const)
          : ('info' as const),
  };
  const m = event.message;
  const checkpoint = CHECKPOINT_MESSAGE.exec(m);
  if (checkpoint)
    return {
      ...base,
      type: 'checkpoint_save',
      step: Number(checkpoint[1]),
      checkpoint_path: checkpoint[2] as string,
    };
  const model = MODEL_MESSAGE.exec(m);
  if (model) return { ...base, type: 'model_upload_complete', model_path: model[1] as string };
  if (event.level === 'error') return { ...base, type: 'job_error' };
  const type = m.startsWith('Created fine-tuning job')
    ? 'job_pending'
    : m.startsWith('Validating training file')
      ? 'training_data_downloading'
      : m === TEXT.validated
        ? 'training_data_download_complete'
        : m === TEXT.started
          ? 'training_start'
          : m === TEXT.succeeded
            ? 'job_complete'
            : m === TEXT.cancelled
              ? 'cancel_requested'
              : m === TEXT.paused
                ? 'job_stopped'
                : m === TEXT.resumed || m.startsWith('Resumed training') || m.startsWith('The emulator')
                  ? 'job_restarted'
                  : 'warning';
  return { ...base, type };
}

export function toTogetherCheckpoint(checkpoint: FineTuningJobCheckpoint, finalModel: string | null) {
  const final = checkpoint.fine_tuned_model_checkpoint === finalModel;
  return {
    step: checkpoint.step_number,
    path: checkpoint.fine_tuned_model_checkpoint,
    created_at: iso(checkpoint.created_at),
    checkpoint_type: final ? ('Final' as const) : ('Intermediate' as const),
    checkpoint: 'adapter' as const,
  };
}
