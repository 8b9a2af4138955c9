/** Models: the catalog's base models plus the caller's fine-tuned models (final and checkpoint names). */
import type { Model } from '../contract/models';
import { EmulatorError } from '../store/errors';
import type { RouteContext, RouteHandler } from './context';

function modelNotFound(model: string): EmulatorError {
  return new EmulatorError(
    404,
    `The model '${model}' does not exist or you do not have access to it.`,
    'model',
    'model_not_found',
  );
}

export const listModels: RouteHandler<'listModels'> = ({ caller, services }) => ({
  object: 'list',
  data: services.models.list(caller!.projectId),
});

function findModel({
  caller,
  params,
  services,
}: Pick<RouteContext<'retrieveModel'>, 'caller' | 'params' | 'services'>) {
  const projectId = caller!.projectId;
  const resolved = services.models.resolve(projectId, params.model);
  if (!resolved) throw modelNotFound(params.model);
  return { resolved, record: services.store.models.find(projectId, params.model) };
}

export const retrieveModel: RouteHandler<'retrieveModel'> = (context) => {
  const { params, caller, services } = context;
  const { record } = findModel(context);
  if (record) return { id: record.id, object: 'model', created: record.created, owned_by: record.ownedBy };
  const listed = services.models.list(caller!.projectId).find((model) => model.id === params.model);
  return listed ?? ({ id: params.model, object: 'model', created: 0, owned_by: 'system' } satisfies Model);
};

export const deleteModel: RouteHandler<'deleteModel'> = (context) => {
  const { params, caller, services } = context;
  const { resolved, record } = findModel(context);
  if (resolved.kind !== 'fine-tuned' || !record) {
    throw new EmulatorError(
      403,
      `You are not allowed to delete the base model '${params.model}'; only fine-tuned models can be deleted.`,
      'model',
      'permission_denied',
    );
  }
  if (record.checkpointStep !== null) {
    throw new EmulatorError(
      403,
      `'${params.model}' is a checkpoint of job ${record.jobId}; delete the job's fine-tuned model instead.`,
      'model',
      'permission_denied',
    );
  }
  if (!services.store.models.delete(caller!.projectId, params.model)) throw modelNotFound(params.model);
  return { id: params.model, object: 'model', deleted: true };
};
