/**
 * `GET /v1/adapters/{id}/content?format=merged`: the base model with the adapter folded into its weights
 * (PEFT's merge_and_unload, done by the engine in the inference process), as a tar of a plain HF model folder.
 * The folder is written to a temporary directory and removed once the archive has been sent.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyReply } from 'fastify';
import { create as createTar } from 'tar';
import type { Adapter } from '../contract/adapters';
import type { InferenceService, ModelCatalog } from '../routes/context';
import { EmulatorError } from '../store/errors';
import { buildMerges } from '../worker/models';

/** Writes the adapter folded into its base (a plain HF model folder) to `outDir`. */
export async function writeMergedAdapter(options: {
  projectId: string;
  adapter: Adapter;
  adapterDir: string;
  models: ModelCatalog;
  inference: InferenceService;
  outDir: string;
}): Promise<void> {
  const { adapter } = options;
  // The adapter's base: a plain model, or (an adapter trained from a LoRA `ft:` model) that model merged.
  const base = options.models.trainingBase(options.projectId, adapter.base_model);
  if (!base) {
    throw new EmulatorError(
      404,
      `The base model \`${adapter.base_model}\` of adapter ${adapter.id} is no longer available, so it cannot be merged.`,
      'adapter_id',
      'model_not_found',
    );
  }
  await buildMerges(base.merges, (step) => options.inference.merge(step));
  await options.inference.merge({
    modelDir: base.modelDir,
    adapterDir: options.adapterDir,
    outDir: options.outDir,
  });
}

export async function sendMergedAdapter(options: {
  projectId: string;
  adapter: Adapter;
  adapterDir: string;
  models: ModelCatalog;
  inference: InferenceService;
  reply: FastifyReply;
}): Promise<FastifyReply> {
  const { adapter, reply } = options;
  const outDir = mkdtempSync(join(tmpdir(), 'tunekit-merged-'));
  const cleanup = () => rmSync(outDir, { recursive: true, force: true });
  try {
    await writeMergedAdapter({ ...options, outDir });
  } catch (error) {
    cleanup();
    throw error;
  }
  const entries = readdirSync(outDir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
  const archive = createTar({ cwd: outDir, portable: true, noDirRecurse: true }, entries);
  reply.raw.once('close', cleanup);
  return reply
    .type('application/x-tar')
    .header('content-disposition', `attachment; filename="${adapter.id}-merged.tar"`)
    .send(archive);
}
