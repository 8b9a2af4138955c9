/**
 * Starts the whole emulator: the data folder (SQLite + blobs), the model registry, the scheduler with its
 * trainer child processes, and the HTTP server. `close()` stops in the safe order: no new requests, live
 * streams ended, trainings stopped at a checkpoint (re-queued for the next start), then the database closed.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { builtinModelDir } from '../native/index';
import { buildApp } from './app';
import { InferenceClient } from './serving/inference-client';
import { graderServices } from './serving/judge';
import { openStore, type Store } from './store/index';
import { ModelRegistry } from './worker/models';
import { Scheduler } from './worker/scheduler';
import type { TrainerEntry } from './worker/trainer-child';

export interface EmulatorOptions {
  port?: number;
  host?: string;
  dataDir: string;
  modelsDir?: string | undefined;
  /** Accepted keys; null or absent: any non-empty key, each its own project. */
  apiKeys?: ReadonlySet<string> | null;
  maxUploadBytes?: number | undefined;
  workers?: number;
  /** Interval of `: heartbeat` comments on live event streams. */
  heartbeatMs?: number;
  /** Hosted model name → local stand-in; defaults to the registry's table. */
  hostedModels?: Record<string, string>;
  /** The trainer child's entry point (tests); defaults to the source or built one beside this module. */
  trainer?: TrainerEntry;
  /** Engine threads per training; default: the machine's parallelism divided by `workers`. */
  threads?: number;
  /** How long `close()` waits for trainings to reach a checkpoint before ending them (default 60 s). */
  stopTimeoutMs?: number | undefined;
}

export interface RunningEmulator {
  /** Base URL of the API, `http://HOST:PORT/v1`, what the SDKs take as `baseURL`. */
  url: string;
  port: number;
  app: FastifyInstance;
  store: Store;
  scheduler: Scheduler;
  /** The inference child process's client (chat completions, merged adapters). */
  inference: InferenceClient;
  close(): Promise<void>;
}

export const DEFAULT_PORT = 4100;

/** The package version, for /health. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  const store = openStore(options.dataDir);
  const models = new ModelRegistry({
    store,
    builtinDir: builtinModelDir(),
    modelsDir: options.modelsDir,
    hostedModels: options.hostedModels,
  });
  const inference = new InferenceClient();
  const scheduler = new Scheduler({
    store,
    models,
    workers: options.workers,
    threads: options.threads,
    trainer: options.trainer,
    stopTimeoutMs: options.stopTimeoutMs,
    graders: (projectId) => graderServices(models, inference, projectId),
  });
  let app: FastifyInstance;
  try {
    app = await buildApp({
      store,
      jobs: scheduler,
      models,
      inference,
      apiKeys: options.apiKeys ?? null,
      maxUploadBytes: options.maxUploadBytes,
      heartbeatMs: options.heartbeatMs,
      // stdout carries only the ready line; unexpected server errors go to stderr.
      logger: { level: 'error', stream: process.stderr },
      version: packageVersion(),
    });
    await app.listen({ port: options.port ?? DEFAULT_PORT, host: options.host ?? '127.0.0.1' });
  } catch (error) {
    store.close();
    throw error;
  }
  scheduler.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? DEFAULT_PORT);
  const host = options.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}/v1`,
    port,
    app,
    store,
    scheduler,
    inference,
    close() {
      closing ??= (async () => {
        try {
          await app.close();
        } finally {
          await Promise.all([scheduler.stop(), inference.close()]);
          store.close();
        }
      })();
      return closing;
    },
  };
}
