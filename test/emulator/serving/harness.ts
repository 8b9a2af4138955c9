/** A server for the chat tests: the real app, store, registry and inference process, on an ephemeral port. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../emulator/app';
import { type ChatResult, InferenceClient } from '../../../emulator/serving/inference-client';
import type { ChatJob, ChoiceDelta } from '../../../emulator/serving/protocol';
import { openStore, type Store } from '../../../emulator/store/index';
import { ModelRegistry } from '../../../emulator/worker/models';
import { Scheduler } from '../../../emulator/worker/scheduler';
import { builtinModelDir } from '../../../native/index';

/** An inference client that keeps every chat result, so tests can see cancellations. */
export class RecordingInference extends InferenceClient {
  readonly results: ChatResult[] = [];
  /** Chat requests received. */
  started = 0;

  override async chat(
    job: ChatJob,
    onDeltas: (deltas: ChoiceDelta[]) => void,
    signal?: AbortSignal,
  ): Promise<ChatResult> {
    this.started += 1;
    const result = await super.chat(job, onDeltas, signal);
    this.results.push(result);
    return result;
  }
}

export interface ChatServer {
  app: FastifyInstance;
  store: Store;
  inference: RecordingInference;
  baseURL: string;
  close(): Promise<void>;
}

export async function startChatServer(options: { modelsDir?: string } = {}): Promise<ChatServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tunekit-chat-'));
  const store = openStore(dataDir);
  const models = new ModelRegistry({ store, builtinDir: builtinModelDir(), modelsDir: options.modelsDir });
  const inference = new RecordingInference();
  const app = await buildApp({ store, jobs: new Scheduler({ store, models }), models, inference });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    app,
    store,
    inference,
    baseURL: `http://127.0.0.1:${address.port}/v1`,
    async close() {
      await app.close();
      await inference.close();
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Reads a `text/event-stream` body into its `data:` payloads. */
export async function readDataLines(response: Response): Promise<string[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const line = block.split('\n').find((l) => l.startsWith('data: '));
      if (!line) throw new Error(`an event without data: ${JSON.stringify(block)}`);
      return line.slice('data: '.length);
    });
}
