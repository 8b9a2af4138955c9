/**
 * The inference child process. It keeps base models resident (a Generator each, with their adapters loaded on
 * demand and applied unmerged) and answers the server's chat and merge requests over IPC. The native addon is
 * loaded here, never in the server. The process dies with the server (`tieToParent`).
 */
import { EngineError } from '../../native/index';
import { tieToParent } from '../child-entry';
import { ModelTokenizer } from '../data';
import { type ChatRun, type LoadedModel, ServingRequestError, startChat } from './chat-generation';
import type { ChatJob, ChildMessage, MergeJob, ParentMessage, ServingError } from './protocol';
import { TokenBytes } from './token-bytes';

// The server is gone: nobody is waiting for these tokens, and a merge must not write into its data folder.
tieToParent();

/** Base models kept resident at once; the least recently used is closed beyond this. */
const MAX_RESIDENT_MODELS = 2;

const models = new Map<string, Promise<LoadedModel>>();
const running = new Map<number, ChatRun>();
/** Chat requests received whose generation has not started (the model is loading). */
const waiting = new Set<number>();
const cancelledEarly = new Set<number>();

function send(message: ChildMessage): void {
  if (process.send && process.connected) process.send(message);
}

async function engine() {
  // Imported on first use, in this process only.
  return import('../../native/generate');
}

function loadModel(modelDir: string): Promise<LoadedModel> {
  let loaded = models.get(modelDir);
  if (loaded) {
    models.delete(modelDir);
    models.set(modelDir, loaded);
    return loaded;
  }
  loaded = (async () => {
    const tokenizer = ModelTokenizer.load(modelDir);
    const tokenBytes = TokenBytes.load(modelDir);
    const { Generator } = await engine();
    return { generator: await Generator.open({ modelDir }), tokenizer, tokenBytes };
  })();
  models.set(modelDir, loaded);
  loaded.catch(() => models.delete(modelDir));
  while (models.size > MAX_RESIDENT_MODELS) {
    const [oldest, model] = models.entries().next().value as [string, Promise<LoadedModel>];
    models.delete(oldest);
    void model.then((m) => m.generator.close()).catch(() => undefined);
  }
  return loaded;
}

function toServingError(error: unknown): ServingError {
  if (error instanceof ServingRequestError) return error.error;
  const message = error instanceof Error ? error.message : String(error);
  return {
    status: 500,
    message: `The engine could not serve this request: ${message}`,
    param: null,
    code: error instanceof EngineError ? 'engine_error' : 'server_error',
  };
}

async function chat(id: number, job: ChatJob): Promise<void> {
  waiting.add(id);
  try {
    const model = await loadModel(job.modelDir);
    waiting.delete(id);
    if (cancelledEarly.delete(id)) {
      send({ type: 'chat_done', id, outcome: { promptTokens: 0, completionTokens: 0 } });
      return;
    }
    const run = startChat(model, job, (deltas) => send({ type: 'deltas', id, deltas }));
    running.set(id, run);
    const outcome = await run.outcome;
    send({ type: 'chat_done', id, outcome });
  } catch (error) {
    send({ type: 'failed', id, error: toServingError(error) });
  } finally {
    running.delete(id);
    waiting.delete(id);
    cancelledEarly.delete(id);
  }
}

async function merge(id: number, job: MergeJob): Promise<void> {
  try {
    const { mergeAdapter } = await engine();
    await mergeAdapter(job);
    send({ type: 'merged', id });
  } catch (error) {
    send({ type: 'failed', id, error: toServingError(error) });
  }
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'chat':
      void chat(message.id, message.job);
      break;
    case 'merge':
      void merge(message.id, message.job);
      break;
    case 'cancel': {
      const run = running.get(message.id);
      if (run) run.cancel();
      else if (waiting.has(message.id)) cancelledEarly.add(message.id);
      break;
    }
  }
});
