/** Models: the catalog's base models plus the caller's fine-tuned models (final and checkpoint names). */
import type { Model } from '../contract/models';
import { EmulatorError } from '../store/errors';
import type { FineTunedModelRecord } from '../store/index';
import type { RouteHandler } from './context';

function modelNotFound(model: string): EmulatorError {
  return new EmulatorError(
    404,
    `The model '${model}' does not exist or you do not have access to it.`,
    'model',
    'model_not_found',
  );
}

function fineTunedModel(record: FineTunedModelRecord): Model {
  return { id: record.id, object: 'model', created: record.created, owned_by: record.ownedBy };
}

export const listModels: RouteHandler<'listModels'> = ({ caller, services }) => ({
  object: 'list',
  data: [...services.models.list(), ...services.store.models.list(caller!.projectId)],
});

export const retrieveModel: RouteHandler<'retrieveModel'> = ({ caller, params, services }) => {
  const base = services.models.get(params.model);
  if (base) return base;
  const record = services.store.models.find(caller!.projectId, params.model);
  if (!record) throw modelNotFound(params.model);
  return fineTunedModel(record);
};

export const deleteModel: RouteHandler<'deleteModel'> = ({ caller, params, services }) => {
  if (services.models.get(params.model)) {
    throw new EmulatorError(
      403,
      `You are not allowed to delete the base model '${params.model}'.`,
      'model',
      'permission_denied',
    );
  }
  const record = services.store.models.find(caller!.projectId, params.model);
  if (record && record.checkpointStep !== null) {
    throw new EmulatorError(
      403,
      `'${params.model}' is a checkpoint; delete its fine-tuned model ${record.id.replace(/:ckpt-step-\d+$/, '')} instead.`,
      'model',
      'permission_denied',
    );
  }
  if (!services.store.models.delete(caller!.projectId, params.model)) throw modelNotFound(params.model);
  return { id: params.model, object: 'model', deleted: true };
};
