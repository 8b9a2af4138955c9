/**
 * The trainer child process. It validates and tokenizes a job's data, or runs the engine's training, for the
 * scheduler that forked it, and reports back over IPC. The native addon is loaded here, never in the server. The
 * process never outlives its parent (`tieToParent`): a trainer left running by a killed server would keep
 * writing checkpoints into a job folder that the next server start owns.
 */
import { tieToParent } from '../child-entry';
import { DatasetError, ModelTokenizer, prepareDataset } from '../data';
import type { JudgeAnswer, JudgeRequest } from '../graders';
import { buildMerges } from './models';
import type { ChildMessage, EngineTrainOptions, ParentMessage, PrepareRequest } from './protocol';
import type { RftRunOptions } from './rft';

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

/** Judge requests of model graders waiting for the parent's answer, by id. */
const judging = new Map<number, { resolve(answer: JudgeAnswer): void; reject(error: Error): void }>();
let judgeIds = 0;

function askJudge(request: JudgeRequest): Promise<JudgeAnswer> {
  const id = ++judgeIds;
  return new Promise((resolve, reject) => {
    judging.set(id, { resolve, reject });
    void send({ type: 'judge', id, request });
  });
}

async function rft(options: RftRunOptions): Promise<ChildMessage> {
  try {
    const { runRft } = await import('./rft');
    const result = await runRft(options, {
      services: { judge: askJudge },
      onProgress: (progress) => void send({ type: 'rft_progress', progress }),
      stopRequested: () => stopRequested,
    });
    return { type: 'trained', result };
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
    case 'rft':
      void rft(message.options).then(async (reply) => {
        await send(reply);
        process.exit(0);
      });
      break;
    case 'judge_answer': {
      const waiting = judging.get(message.id);
      judging.delete(message.id);
      if (message.answer) waiting?.resolve(message.answer);
      else waiting?.reject(new Error(message.error ?? 'the judge did not answer'));
      break;
    }
    case 'stop':
      stopRequested = true;
      cancel?.cancel();
      break;
  }
});
