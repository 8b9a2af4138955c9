/**
 * `GET /finetune/download`: a job's adapter (PEFT folder) or merged model (base + adapter folded in; for a full
 * fine-tune, its model folder) as an uncompressed tar, final or at a listed checkpoint step. The archive is
 * written to the data folder's tmp first, so its length is known: `Range` requests (the Python CLI sends
 * `bytes=0-1` first) get 206 with `Content-Range`. The files are removed once the response ends.
 */
import { createReadStream, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { badRequest, notFound } from '../../../http/errors';
import { writeMergedAdapter } from '../../../serving/merged-adapter';
import { EmulatorError } from '../../../store/errors';
import type { TogetherRouteHandler } from './context';
import { requireJob } from './fine-tunes';

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → [start, end] inclusive; null when absent; 'unsatisfiable' otherwise. */
export function parseRange(
  header: string | undefined,
  size: number,
): [number, number] | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return 'unsatisfiable';
  let start: number;
  let end: number;
  if (match[1] === '') {
    start = Math.max(0, size - Number(match[2]));
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  return start > end || start >= size ? 'unsatisfiable' : [start, end];
}

export const togetherDownload: TogetherRouteHandler<'togetherDownload'> = async ({
  caller,
  query,
  request,
  reply,
  services,
}) => {
  // `ft-…:<step>` shorthand, as the Python CLI accepts it.
  const shorthand = /^(.*):(\d+)$/.exec(query.ft_id);
  const jobId =
    shorthand && !services.store.jobs.get(caller.projectId, query.ft_id)
      ? (shorthand[1] as string)
      : query.ft_id;
  const step = query.checkpoint_step ?? (shorthand && jobId !== query.ft_id ? Number(shorthand[2]) : 0);
  const { job } = requireJob(services, caller, jobId);
  if (job.status !== 'succeeded' || !job.fine_tuned_model) {
    throw badRequest(
      `Job ${job.id} is ${job.status}: only a completed job can be downloaded.`,
      'ft_id',
      'invalid_job_state',
    );
  }
  const checkpoints = services.store.checkpoints.list(caller.projectId, job.id, { limit: 1000 }).data;
  const checkpoint =
    step === 0
      ? checkpoints.find((c) => c.fine_tuned_model_checkpoint === job.fine_tuned_model)
      : checkpoints.find((c) => c.step_number === step);
  if (!checkpoint) {
    const steps = checkpoints.map((c) => c.step_number).sort((a, b) => a - b);
    throw badRequest(
      `Job ${job.id} has no checkpoint at step ${step} (its checkpoints: ${steps.join(', ')}).`,
      'checkpoint_step',
      'checkpoint_not_found',
    );
  }
  const model = services.store.models.find(caller.projectId, checkpoint.fine_tuned_model_checkpoint);
  if (!model) throw notFound('model', checkpoint.fine_tuned_model_checkpoint, 'ft_id');
  const kind = query.checkpoint === 'adapter' ? 'adapter' : 'merged';
  const work = mkdtempSync(join(services.store.paths.tmp, 'download-'));
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  let archive: string;
  let name: string;
  try {
    let dir: string;
    if (model.weightsDir) {
      if (kind === 'adapter') {
        throw badRequest(
          `Job ${job.id} trained every weight (training_type Full): it has no adapter; ask for checkpoint=merged.`,
          'checkpoint',
          'invalid_value',
        );
      }
      dir = model.weightsDir;
    } else {
      const adapter = model.adapterId
        ? services.store.adapters.get(caller.projectId, model.adapterId)
        : undefined;
      const adapterDir = model.adapterId
        ? services.store.adapters.dir(caller.projectId, model.adapterId)
        : undefined;
      if (!adapter || !adapterDir) throw notFound('adapter', model.adapterId ?? model.id, 'ft_id');
      if (kind === 'adapter') dir = adapterDir;
      else {
        dir = join(work, 'merged');
        await writeMergedAdapter({
          projectId: caller.projectId,
          adapter,
          adapterDir,
          outDir: dir,
          ...services,
        });
      }
    }
    const entries = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name)
      .sort();
    archive = join(work, 'archive.tar');
    await createTar({ cwd: dir, portable: true, noDirRecurse: true, file: archive }, entries);
    name = `${job.id}${step === 0 ? '' : `-checkpoint-${step}`}-${kind}.tar`;
  } catch (error) {
    cleanup();
    throw error;
  }
  const size = statSync(archive).size;
  const range = parseRange(
    typeof request.headers.range === 'string' ? request.headers.range : undefined,
    size,
  );
  if (range === 'unsatisfiable') {
    cleanup();
    reply.header('content-range', `bytes */${size}`);
    throw new EmulatorError(
      416,
      `Range ${request.headers.range} is outside the ${size}-byte archive.`,
      'Range',
      'range_not_satisfiable',
    );
  }
  reply.raw.once('close', cleanup);
  reply
    .type('application/x-tar')
    .header('accept-ranges', 'bytes')
    .header('content-disposition', `attachment; filename="${name}"`);
  if (range === null) return reply.header('content-length', size).send(createReadStream(archive));
  const [start, end] = range;
  return reply
    .code(206)
    .header('content-range', `bytes ${start}-${end}/${size}`)
    .header('content-length', end - start + 1)
    .send(createReadStream(archive, { start, end }));
};
