/**
 * The trainer child process. It validates and tokenizes a job's data, or runs the engine's training, for the
 * scheduler that forked it, and reports back over IPC. The native addon is loaded here, never in the server. The
 * process never outlives its parent (`tieToParent`): a trainer left running by a killed server would keep
 * writing checkpoints into a job folder that the next server start owns.
 */
import { tieToParent } from '../child-entry';
import { DatasetError, ModelTokenizer, prepareDataset } from '../data';
import { buildMerges } from './models';
import type { ChildMessage, EngineTrainOptions, ParentMessage, PrepareRequest } from './protocol';

tieToParent();

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function prepare(request: PrepareRequest): Promise<ChildMessage> {
  try {
    if (request.merges.length > 0) {
      // Imported here, in the child, so the server process never loads the addon.
      const { mergeAdapter } = await import('../../native/generate');
      await buildMerges(request.merges, mergeAdapter);
    }
    const tokenizer = ModelTokenizer.load(request.modelDir);
    const training = await prepareDataset({
      ...request.training,
      role: 'training',
      tokenizer,
      maxSeqLength: request.maxSeqLength,
      method: request.method,
    });
    const validation = request.validation
      ? await prepareDataset({
          ...request.validation,
          role: 'validation',
          tokenizer,
          maxSeqLength: request.maxSeqLength,
          method: request.method,
        })
      : undefined;
    return { type: 'prepared', training, validation };
  } catch (error) {
    if (error instanceof DatasetError) {
      return { type: 'dataset_error', code: error.code, message: error.message, param: error.param };
    }
    return { type: 'error', message: (error as Error).message };
  }
}

let cancel: { cancel(): void } | undefined;
let stopRequested = false;

async function train(options: EngineTrainOptions): Promise<ChildMessage> {
  try {
    const engine = await import('../../native/index');
    const run = engine.startTraining(options, (progress) => {
      void send({ type: 'progress', progress });
    });
    cancel = run;
    if (stopRequested) run.cancel();
    return { type: 'trained', result: await run.result };
  } catch (error) {
    return { type: 'error', message: (error as Error).message };
  }
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'prepare':
      void prepare(message)
        .then(send)
        .then(() => process.exit(0));
      break;
    case 'train':
      void train(message.options).then(async (reply) => {
        await send(reply);
        process.exit(0);
      });
      break;
    case 'stop':
      stopRequested = true;
      cancel?.cancel();
      break;
  }
});
