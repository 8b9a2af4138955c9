/**
 * Together's fine-tuning routes, translated to and from the domain's job (created and run by the same scheduler
 * as the OpenAI dialect's). What the emulator cannot do is refused with a 400 naming the parameter, never faked;
 * a wrong job state is a 400 too (the SDK retries 409).
 */

import type { z } from 'zod';
import type {
  FineTuningMethod,
  JobCreateParams,
  SupervisedHyperparametersSchema,
} from '../../../contract/jobs';
import { PREFERENCE_METRICS, TERMINAL_JOB_STATUSES } from '../../../contract/jobs';
import { badRequest, notFound } from '../../../http/errors';
import type { JobRecord } from '../../../store';
import { LORA_TARGETS_ALL } from '../../../worker/hyperparameters';
import { togetherDpoToMethod } from '../../../worker/preference-method';
import type { TogetherFineTuneCreate } from '../contract/objects';
import type { TogetherRouteContext, TogetherRouteHandler, TogetherServices } from './context';
import { modelLimits } from './models';
import { iso, TOGETHER_LORA_DEFAULTS, toTogetherCheckpoint, toTogetherEvent, toTogetherJob } from './objects';

type Hyperparameters = z.infer<typeof SupervisedHyperparametersSchema>;
type Caller = TogetherRouteContext<'togetherCreateFineTune'>['caller'];

/** A job of the caller, or 404. */
export function requireJob(services: TogetherServices, caller: Caller, jobId: string): JobRecord {
  const record = services.store.jobs.get(caller.projectId, jobId)
    ? services.store.jobs.record(jobId)
    : undefined;
  if (!record) throw notFound('fine-tuning job', jobId, 'id');
  return record;
}

function unsupported(param: string, what: string): never {
  throw badRequest(
    `${what} is not supported by the tunekit emulator (docs/emulator.md).`,
    param,
    'unsupported_parameter',
  );
}

/** Parameters Together knows and the emulator cannot honour: a 400, not a silent no-op. */
function refuseUnsupported(body: TogetherFineTuneCreate): void {
  for (const key of ['from_hf_model', 'hf_model_revision', 'hf_api_token', 'hf_output_repo_name'] as const) {
    if (body[key] !== undefined) unsupported(key, 'Hugging Face model import and export');
  }
  for (const key of [
    'wandb_api_key',
    'wandb_base_url',
    'wandb_entity',
    'wandb_name',
    'wandb_project_name',
  ] as const) {
    if (body[key] !== undefined) unsupported(key, 'Weights & Biases logging');
  }
  if (body.multimodal_params?.train_vision) unsupported('multimodal_params.train_vision', 'Vision training');
  if (body.early_stopping_enabled) unsupported('early_stopping_enabled', 'Early stopping');
  if ((body.gradient_accumulation_steps ?? 0) > 1) {
    unsupported('gradient_accumulation_steps', 'Gradient accumulation over several batches');
  }
  if (body.training_method?.method === 'dpo' && body.train_on_inputs !== undefined) {
    throw badRequest(
      'train_on_inputs is only supported for SFT training (training_method.method "sft").',
      'train_on_inputs',
      'invalid_value',
    );
  }
  const trainOnInputs =
    body.training_method?.method === 'sft' ? body.training_method.train_on_inputs : undefined;
  if (trainOnInputs === true || body.train_on_inputs === true) {
    unsupported(
      trainOnInputs === true ? 'training_method.train_on_inputs' : 'train_on_inputs',
      'Training on the prompt tokens (train_on_inputs: true; the emulator trains on completions only, as "auto" does)',
    );
  }
  const args = body.lr_scheduler?.lr_scheduler_args;
  if (args?.min_lr_ratio !== undefined && args.min_lr_ratio !== 0) {
    unsupported('lr_scheduler.lr_scheduler_args.min_lr_ratio', 'A learning-rate floor (min_lr_ratio > 0)');
  }
  if (args?.num_cycles !== undefined && args.num_cycles !== 0.5) {
    unsupported(
      'lr_scheduler.lr_scheduler_args.num_cycles',
      'A cosine schedule other than half a cycle (num_cycles 0.5)',
    );
  }
  if ((body.n_evals ?? 0) > 0 && !body.validation_file) {
    throw badRequest('n_evals > 0 needs a validation_file.', 'n_evals', 'missing_required_parameter');
  }
}

/** `from_checkpoint`: a job id or output model name of the caller, optionally `:<step>` → a model name to train on. */
function checkpointModel(services: TogetherServices, caller: Caller, reference: string): string {
  const attempt = (name: string, step: number | undefined): string | undefined => {
    const job = services.store.jobs.get(caller.projectId, name);
    const model = job ? null : services.store.models.find(caller.projectId, name);
    const jobId = job?.id ?? model?.jobId;
    if (!jobId) return undefined;
    const record = services.store.jobs.record(jobId)!;
    if (step === undefined) {
      if (model) return name;
      if (record.job.status !== 'succeeded' || !record.job.fine_tuned_model) {
        throw badRequest(
          `from_checkpoint: job ${jobId} is ${record.job.status}; only a completed job, or one of its checkpoints (\`${jobId}:<step>\`), can be continued.`,
          'from_checkpoint',
          'invalid_checkpoint',
        );
      }
      return record.job.fine_tuned_model;
    }
    const checkpoints = services.store.checkpoints.list(caller.projectId, jobId, { limit: 1000 }).data;
    const found = checkpoints.find((c) => c.step_number === step);
    if (!found) {
      const steps = checkpoints.map((c) => c.step_number).sort((a, b) => a - b);
      throw badRequest(
        `from_checkpoint: job ${jobId} has no checkpoint at step ${step} (its checkpoints: ${steps.join(', ') || 'none'}).`,
        'from_checkpoint',
        'invalid_checkpoint',
      );
    }
    return found.fine_tuned_model_checkpoint;
  };
  const whole = attempt(reference, undefined);
  if (whole) return whole;
  const match = /^(.*):(\d+)$/.exec(reference);
  const stepped = match ? attempt(match[1] as string, Number(match[2])) : undefined;
  if (stepped) return stepped;
  throw badRequest(
    `from_checkpoint: no job or output model \`${reference}\` of yours (a job id or model_output_name, optionally :<step>).`,
    'from_checkpoint',
    'invalid_checkpoint',
  );
}

function trainingType(body: TogetherFineTuneCreate): JobCreateParams['training_type'] {
  const type = body.training_type;
  if (type?.type === 'Full' || (type == null && body.lora === false)) return { type: 'full' };
  const lora =
    type?.type === 'Lora'
      ? type
      : {
          lora_r: body.lora_r ?? TOGETHER_LORA_DEFAULTS.r,
          lora_alpha: body.lora_alpha ?? 2 * (body.lora_r ?? TOGETHER_LORA_DEFAULTS.r),
          lora_dropout: body.lora_dropout,
          lora_trainable_modules: body.lora_trainable_modules,
        };
  const param = type?.type === 'Lora' ? 'training_type.lora_trainable_modules' : 'lora_trainable_modules';
  const modules = lora.lora_trainable_modules;
  let targets: 'all-linear' | string[] = 'all-linear';
  if (modules !== undefined && modules !== 'all-linear') {
    targets = modules.split(',').map((name) => name.trim());
    for (const name of targets) {
      if (!LORA_TARGETS_ALL.includes(name)) {
        throw badRequest(
          `Unknown LoRA module '${name}' in ${param}: use 'all-linear' or names among ${LORA_TARGETS_ALL.join(', ')}.`,
          param,
          'invalid_value',
        );
      }
    }
  }
  return {
    type: 'lora',
    r: lora.lora_r,
    alpha: lora.lora_alpha,
    ...(lora.lora_dropout !== undefined ? { dropout: lora.lora_dropout } : {}),
    target_modules: targets,
  };
}

/**
 * `batch_size`: a number within the model's limits for the method (DPO pairs have their own, smaller cap), or
 * `"max"`, that cap. Absent: the domain's default.
 */
function resolveBatchSize(
  services: TogetherServices,
  caller: Caller,
  model: string,
  body: TogetherFineTuneCreate,
): number | undefined {
  if (body.batch_size === undefined) return undefined;
  const limits = modelLimits(services, caller.projectId, model);
  if (!limits)
    throw badRequest(`Model ${model} is not available for fine-tuning.`, 'model', 'model_not_available');
  const range = limits.lora_training;
  const dpo = body.training_method?.method === 'dpo';
  const max = dpo ? range.max_batch_size_dpo : range.max_batch_size;
  if (body.batch_size === 'max') return max;
  if (body.batch_size > max || body.batch_size < range.min_batch_size) {
    const [bound, limit] =
      body.batch_size > max
        ? ['higher', `maximum allowed value of ${max}`]
        : ['lower', `minimum allowed value of ${range.min_batch_size}`];
    throw badRequest(
      `Requested batch size of ${body.batch_size} is ${bound} than the ${limit}${dpo ? ' for DPO' : ''}.`,
      'batch_size',
      'invalid_value',
    );
  }
  return body.batch_size;
}

/**
 * The domain's method: SFT, or Together's DPO through togetherDpoToMethod (docs/preference.md), with the job's
 * common hyperparameters. Preference pairs are never packed, so `packing` (Together's default, true) does not
 * apply to DPO and is left out.
 */
function trainingMethod(body: TogetherFineTuneCreate, hyperparameters: Hyperparameters): FineTuningMethod {
  const method = body.training_method;
  if (method?.method !== 'dpo') return { type: 'supervised', supervised: { hyperparameters } };
  const { packing: _packing, ...common } = hyperparameters;
  const dpo = togetherDpoToMethod(method).dpo?.hyperparameters;
  return { type: 'dpo', dpo: { hyperparameters: { ...dpo, ...common } } };
}

export const togetherCreateFineTune: TogetherRouteHandler<'togetherCreateFineTune'> = ({
  caller,
  body,
  services,
}) => {
  refuseUnsupported(body);
  // The TS SDK's type requires `model` even with `from_checkpoint` (the Python SDK sends one or the other): with
  // both, the checkpoint gives the weights and `model` must still name a model the caller can use.
  if (
    body.model !== undefined &&
    body.from_checkpoint !== undefined &&
    !services.models.resolve(caller.projectId, body.model)
  ) {
    throw badRequest(
      `Model ${body.model} is not available for fine-tuning or does not exist.`,
      'model',
      'model_not_available',
    );
  }
  if (body.model === undefined && body.from_checkpoint === undefined) {
    throw badRequest(
      'You must specify either a model or a checkpoint.',
      'model',
      'missing_required_parameter',
    );
  }
  const model = body.from_checkpoint
    ? checkpointModel(services, caller, body.from_checkpoint)
    : (body.model as string);
  const batchSize = resolveBatchSize(services, caller, model, body);
  const hyperparameters: Hyperparameters = {};
  if (body.n_epochs !== undefined) hyperparameters.n_epochs = body.n_epochs;
  if (batchSize !== undefined) hyperparameters.batch_size = batchSize;
  if (body.learning_rate !== undefined) hyperparameters.learning_rate = body.learning_rate;
  if (body.lr_scheduler) hyperparameters.lr_scheduler = body.lr_scheduler.lr_scheduler_type;
  if (body.warmup_ratio !== undefined) hyperparameters.warmup_ratio = body.warmup_ratio;
  if (body.weight_decay !== undefined) hyperparameters.weight_decay = body.weight_decay;
  if (body.max_grad_norm !== undefined) hyperparameters.max_grad_norm = body.max_grad_norm;
  if (body.max_seq_length !== undefined) hyperparameters.max_seq_length = body.max_seq_length;
  if (body.packing !== undefined) hyperparameters.packing = body.packing;
  const params: JobCreateParams = {
    model,
    training_file: body.training_file,
    ...(body.validation_file ? { validation_file: body.validation_file } : {}),
    ...(body.suffix ? { suffix: body.suffix } : {}),
    ...(body.random_seed != null ? { seed: body.random_seed } : {}),
    method: trainingMethod(body, hyperparameters),
    training_type: trainingType(body),
    ...(body.n_checkpoints !== undefined ? { n_checkpoints: body.n_checkpoints } : {}),
  };
  const job = services.jobs.createJob(caller.projectId, caller.organizationId, params);
  const together: Record<string, unknown> = {};
  if (body.n_evals !== undefined) together.n_evals = body.n_evals;
  if (body.from_checkpoint !== undefined) together.from_checkpoint = body.from_checkpoint;
  if (body.batch_size === 'max') together.batch_size = 'max';
  const record =
    Object.keys(together).length > 0
      ? services.store.jobs.update(job.id, { runtime: { together } })
      : (services.store.jobs.record(job.id) as JobRecord);
  return toTogetherJob(services.store, record);
};

export const togetherListFineTunes: TogetherRouteHandler<'togetherListFineTunes'> = ({
  caller,
  services,
}) => {
  const data = [];
  let after: string | undefined;
  for (;;) {
    const page = services.store.jobs.list(caller.projectId, { limit: 1000, after });
    for (const job of page.data) {
      const record = services.store.jobs.record(job.id);
      if (record) data.push(toTogetherJob(services.store, record));
    }
    if (!page.has_more || page.data.length === 0) break;
    after = page.data.at(-1)!.id;
  }
  return { data };
};

export const togetherRetrieveFineTune: TogetherRouteHandler<'togetherRetrieveFineTune'> = ({
  caller,
  params,
  services,
}) => toTogetherJob(services.store, requireJob(services, caller, params.id));

export const togetherCancelFineTune: TogetherRouteHandler<'togetherCancelFineTune'> = ({
  caller,
  params,
  services,
}) => {
  requireJob(services, caller, params.id);
  services.jobs.cancel(caller.projectId, params.id);
  return toTogetherJob(services.store, services.store.jobs.record(params.id)!);
};

export const togetherDeleteFineTune: TogetherRouteHandler<'togetherDeleteFineTune'> = ({
  caller,
  params,
  services,
}) => {
  const { job } = requireJob(services, caller, params.id);
  if (!TERMINAL_JOB_STATUSES.includes(job.status)) {
    throw badRequest(
      `Job ${job.id} is still ${job.status}: cancel it first (POST /fine-tunes/${job.id}/cancel), then delete it.`,
      'id',
      'invalid_job_state',
    );
  }
  services.store.deleteJob(caller.projectId, job.id);
  return { message: `Fine-tuning job ${job.id} and its outputs were deleted.` };
};

export const togetherListEvents: TogetherRouteHandler<'togetherListEvents'> = ({
  caller,
  params,
  services,
}) => {
  requireJob(services, caller, params.id);
  const data = [];
  for (const { event } of services.store.events.since(params.id, 0)) {
    const mapped = toTogetherEvent(event);
    if (mapped) data.push(mapped);
  }
  return { data };
};

export const togetherListCheckpoints: TogetherRouteHandler<'togetherListCheckpoints'> = ({
  caller,
  params,
  services,
}) => {
  const { job } = requireJob(services, caller, params.id);
  const page = services.store.checkpoints.list(caller.projectId, job.id, { limit: 1000 });
  return { data: page.data.map((c) => toTogetherCheckpoint(c, job.fine_tuned_model)) };
};

export const togetherListMetrics: TogetherRouteHandler<'togetherListMetrics'> = ({
  caller,
  params,
  query,
  services,
}) => {
  requireJob(services, caller, params.id);
  const from = query.logged_at_from ? Date.parse(query.logged_at_from) / 1000 : -Infinity;
  const to = query.logged_at_to ? Date.parse(query.logged_at_to) / 1000 : Infinity;
  const metrics: Record<string, number>[] = [];
  for (const { event } of services.store.events.since(params.id, 0)) {
    if (event.type !== 'metrics' || !event.data) continue;
    const d = event.data as Record<string, number | undefined>;
    const step = d.step as number;
    if (step < (query.global_step_from ?? 0) || step > (query.global_step_to ?? Infinity)) continue;
    if (event.created_at < from || event.created_at > to) continue;
    const row: Record<string, number> = { 'train/global_step': step, 'train/loss': d.train_loss as number };
    if (d.learning_rate !== undefined) row['train/learning_rate'] = d.learning_rate;
    if (d.train_mean_token_accuracy !== undefined)
      row['train/mean_token_accuracy'] = d.train_mean_token_accuracy;
    if (d.valid_loss !== undefined) row['eval/loss'] = d.valid_loss;
    if (d.full_valid_loss !== undefined) row['eval/full_loss'] = d.full_valid_loss;
    for (const name of PREFERENCE_METRICS) {
      const train = d[name];
      const valid = d[`valid_${name}`];
      const full = d[`full_valid_${name}`];
      if (train !== undefined) row[`train/${name}`] = train;
      if (valid !== undefined) row[`eval/${name}`] = valid;
      if (full !== undefined) row[`eval/full_${name}`] = full;
    }
    row['train/total_steps'] = d.total_steps as number;
    row.logged_at = event.created_at;
    metrics.push(row);
  }
  return { metrics };
};

export { iso };
