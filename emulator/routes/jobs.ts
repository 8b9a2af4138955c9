/** Fine-tuning jobs: create (the scheduler checks model, method and files), list, retrieve, state changes, checkpoints. */
import { DEFAULT_LIMIT } from '../contract/common';
import type { JobCreateParams } from '../contract/jobs';
import { badRequest, notFound } from '../http/errors';
import type { RouteHandler } from './context';
import { requireValidGrader } from './graders';

const JSON_TYPE = 'application/json; charset=utf-8';

/** LoRA target names the engine adapts (Llama-family projections), and the `all-linear` shorthand. */
const LORA_TARGETS = new Set(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);

export const createFineTuningJob: RouteHandler<'createFineTuningJob'> = async ({
  caller,
  body,
  services,
}) => {
  checkTrainingType(body);
  const grader = body.method?.reinforcement?.grader;
  if (grader)
    await requireValidGrader(grader, services.graders(caller!.projectId), 'method.reinforcement.grader');
  return services.jobs.createJob(caller!.projectId, caller!.organizationId, body);
};

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

/**
 * The page is assembled from the jobs' stored JSON text: parsing 20 bodies only to serialize them again was most
 * of this route's cost. The envelope keeps the key order `{object, data, has_more}` of a serialized object.
 */
export const listFineTuningJobs: RouteHandler<'listFineTuningJobs'> = ({
  caller,
  query,
  services,
  reply,
}) => {
  const page = services.store.jobs.listJson(caller!.projectId, {
    after: query.after,
    limit: query.limit ?? DEFAULT_LIMIT.fineTuningJobs,
    metadata: query.metadata,
  });
  return reply
    .type(JSON_TYPE)
    .send(`{"object":"list","data":[${page.data.join(',')}],"has_more":${page.has_more}}`);
};

/** Sent as the job's stored JSON text, like the listing: parsing it only to serialize it again cost every request. */
export const retrieveFineTuningJob: RouteHandler<'retrieveFineTuningJob'> = ({
  caller,
  params,
  services,
  reply,
}) => {
  const job = services.store.jobs.getJson(caller!.projectId, params.fine_tuning_job_id);
  if (job === undefined) throw jobNotFound(params.fine_tuning_job_id);
  return reply.type(JSON_TYPE).send(job);
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
