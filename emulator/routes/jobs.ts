/** Fine-tuning jobs: create (checked against the caller's files and the model catalog), list, retrieve, state changes, checkpoints. */
import { DEFAULT_LIMIT } from '../contract/common';
import type { FileObject } from '../contract/files';
import type { JobCreateParams } from '../contract/jobs';
import { badRequest, notFound } from '../http/errors';
import type { RouteHandler, Services } from './context';

/** LoRA target names the engine adapts (Llama-family projections), and the `all-linear` shorthand. */
const LORA_TARGETS = new Set(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);

export const createFineTuningJob: RouteHandler<'createFineTuningJob'> = ({ caller, body, services }) => {
  const projectId = caller!.projectId;
  checkMethod(body);
  checkModel(services, projectId, body.model);
  checkTrainingType(body);
  checkFile(services, projectId, body.training_file, 'training_file');
  if (body.validation_file) checkFile(services, projectId, body.validation_file, 'validation_file');
  const job = services.store.jobs.create(projectId, { params: body, organizationId: caller!.organizationId });
  services.jobs.enqueue(job.id);
  return job;
};

function checkMethod(body: JobCreateParams): void {
  const type = body.method?.type ?? 'supervised';
  if (type !== 'supervised') {
    throw badRequest(
      `method.type "${type}" is not yet supported by the tunekit emulator; only "supervised" fine-tuning is available.`,
      'method.type',
      'unsupported_method',
    );
  }
}

function checkModel(services: Services, projectId: string, model: string): void {
  if (services.models.get(model)) return;
  const fineTuned = services.store.models.find(projectId, model);
  if (fineTuned && fineTuned.checkpointStep === null) return;
  throw badRequest(
    `Model ${model} is not available for fine-tuning or does not exist. GET /v1/models lists the models this server can train.`,
    'model',
    'model_not_available',
  );
}

function checkTrainingType(body: JobCreateParams): void {
  const trainingType = body.training_type;
  if (trainingType?.type !== 'lora' || !Array.isArray(trainingType.target_modules)) return;
  trainingType.target_modules.forEach((name, index) => {
    if (!LORA_TARGETS.has(name)) {
      throw badRequest(
        `Unknown LoRA target module '${name}': use 'all-linear' or names among ${[...LORA_TARGETS].join(', ')}.`,
        `training_type.target_modules[${index}]`,
        'invalid_value',
      );
    }
  });
}

function checkFile(services: Services, projectId: string, fileId: string, param: string): FileObject {
  const file = services.store.files.get(projectId, fileId);
  if (!file)
    throw badRequest(`Invalid ${param}: no file with id '${fileId}' exists.`, param, 'invalid_file_id');
  if (file.purpose !== 'fine-tune') {
    throw badRequest(
      `Invalid ${param}: file ${fileId} has purpose '${file.purpose}'; fine-tuning needs a file uploaded with purpose 'fine-tune'.`,
      param,
      'invalid_file_purpose',
    );
  }
  return file;
}

export const listFineTuningJobs: RouteHandler<'listFineTuningJobs'> = ({ caller, query, services }) => ({
  object: 'list',
  ...services.store.jobs.list(caller!.projectId, {
    after: query.after,
    limit: query.limit ?? DEFAULT_LIMIT.fineTuningJobs,
    metadata: query.metadata,
  }),
});

export const retrieveFineTuningJob: RouteHandler<'retrieveFineTuningJob'> = ({
  caller,
  params,
  services,
}) => {
  const job = services.store.jobs.get(caller!.projectId, params.fine_tuning_job_id);
  if (!job) throw jobNotFound(params.fine_tuning_job_id);
  return job;
};

export function jobNotFound(jobId: string) {
  return notFound('FineTuningJob', jobId, 'fine_tuning_job_id');
}

export const cancelFineTuningJob: RouteHandler<'cancelFineTuningJob'> = ({ caller, params, services }) =>
  services.jobs.cancel(caller!.projectId, params.fine_tuning_job_id);

export const pauseFineTuningJob: RouteHandler<'pauseFineTuningJob'> = ({ caller, params, services }) =>
  services.jobs.pause(caller!.projectId, params.fine_tuning_job_id);

export const resumeFineTuningJob: RouteHandler<'resumeFineTuningJob'> = ({ caller, params, services }) =>
  services.jobs.resume(caller!.projectId, params.fine_tuning_job_id);

export const listFineTuningJobCheckpoints: RouteHandler<'listFineTuningJobCheckpoints'> = ({
  caller,
  params,
  query,
  services,
}) => {
  const projectId = caller!.projectId;
  if (!services.store.jobs.get(projectId, params.fine_tuning_job_id))
    throw jobNotFound(params.fine_tuning_job_id);
  return {
    object: 'list',
    ...services.store.checkpoints.list(projectId, params.fine_tuning_job_id, {
      after: query.after,
      limit: query.limit ?? DEFAULT_LIMIT.fineTuningJobCheckpoints,
    }),
  };
};
