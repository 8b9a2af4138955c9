/** Adapters (tunekit extension): list, retrieve, delete, and the PEFT folder as a tar archive. */
import { readdirSync } from 'node:fs';
import { create as createTar } from 'tar';
import { DEFAULT_LIMIT } from '../contract/common';
import { notFound } from '../http/errors';
import { sendMergedAdapter } from '../serving/merged-adapter';
import type { RouteHandler } from './context';

export const listAdapters: RouteHandler<'listAdapters'> = ({ caller, query, services }) => ({
  object: 'list',
  ...services.store.adapters.list(caller!.projectId, {
    after: query.after,
    limit: query.limit ?? DEFAULT_LIMIT.adapters,
    fineTuningJobId: query.fine_tuning_job_id,
  }),
});

export const retrieveAdapter: RouteHandler<'retrieveAdapter'> = ({ caller, params, services }) => {
  const adapter = services.store.adapters.get(caller!.projectId, params.adapter_id);
  if (!adapter) throw notFound('Adapter', params.adapter_id, 'adapter_id');
  return adapter;
};

export const deleteAdapter: RouteHandler<'deleteAdapter'> = ({ caller, params, services }) => {
  if (!services.store.adapters.delete(caller!.projectId, params.adapter_id)) {
    throw notFound('Adapter', params.adapter_id, 'adapter_id');
  }
  return { id: params.adapter_id, object: 'adapter', deleted: true };
};

export const downloadAdapter: RouteHandler<'downloadAdapter'> = async ({
  caller,
  params,
  query,
  services,
  reply,
}) => {
  const dir = services.store.adapters.dir(caller!.projectId, params.adapter_id);
  if (!dir) throw notFound('Adapter', params.adapter_id, 'adapter_id');
  if (query.format === 'merged') {
    const adapter = services.store.adapters.get(caller!.projectId, params.adapter_id);
    if (!adapter) throw notFound('Adapter', params.adapter_id, 'adapter_id');
    return sendMergedAdapter({ projectId: caller!.projectId, adapter, adapterDir: dir, reply, ...services });
  }
  const entries = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
  const archive = createTar({ cwd: dir, portable: true, noDirRecurse: true }, entries);
  return reply
    .type('application/x-tar')
    .header('content-disposition', `attachment; filename="${params.adapter_id}.tar"`)
    .send(archive);
};
