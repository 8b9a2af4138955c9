/**
 * Starts the emulator's HTTP server on an ephemeral port over a temporary data folder, and talks to it with
 * a fetch that checks every response against openapi.yaml.
 *
 * Server tests need no trainer: the real scheduler is built but not started, so jobs stay where the test
 * puts them, and the test itself writes the events, checkpoints and adapters a worker would write. The
 * end-to-end tests (test/e2e) run the worker and the engine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { buildApp } from '../../../emulator/app';
import { openStore, type Store } from '../../../emulator/store/index';
import { BUILTIN_MODEL, ModelRegistry } from '../../../emulator/worker/models';
import { Scheduler } from '../../../emulator/worker/scheduler';
import { builtinModelDir } from '../../../native/index';
import { validatingFetch } from './openapi-validator';

export const TEST_MODEL = BUILTIN_MODEL;

export const checkedFetch = validatingFetch();

export interface TestServer {
  app: FastifyInstance;
  store: Store;
  dataDir: string;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** `http://127.0.0.1:PORT/v1`, the SDKs' base URL. */
  baseURL: string;
  /** A request through the contract-checking fetch; JSON bodies are parsed. */
  request(
    method: string,
    path: string,
    options?: { key?: string | null; json?: unknown; body?: BodyInit; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; body: unknown }>;
  close(): Promise<void>;
}

export async function startTestServer(
  options: {
    apiKeys?: Set<string>;
    maxUploadBytes?: number;
    heartbeatMs?: number;
    uploadUrlTtlMs?: number;
    dataDir?: string;
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tunekit-server-'));
  const store = openStore(dataDir);
  const models = new ModelRegistry({ store, builtinDir: builtinModelDir() });
  const app = await buildApp({
    logger: process.env.M2_LOG === '1',
    store,
    jobs: new Scheduler({ store, models }),
    models,
    apiKeys: options.apiKeys ?? null,
    maxUploadBytes: options.maxUploadBytes,
    heartbeatMs: options.heartbeatMs,
    uploadUrlTtlMs: options.uploadUrlTtlMs,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const origin = `http://127.0.0.1:${address.port}`;
  return {
    app,
    store,
    dataDir,
    origin,
    baseURL: `${origin}/v1`,
    async request(method, path, { key = 'test-key', json, body, headers = {} } = {}) {
      const allHeaders: Record<string, string> = { ...headers };
      if (key !== null) allHeaders.authorization = `Bearer ${key}`;
      let requestBody = body;
      if (json !== undefined) {
        allHeaders['content-type'] = 'application/json';
        requestBody = JSON.stringify(json);
      }
      const response = await checkedFetch(`${origin}${path}`, {
        method,
        headers: allHeaders,
        body: requestBody,
        redirect: 'manual', // Together's upload answers 302: the test reads it
      });
      const text = await response.text();
      const isJson = response.headers.get('content-type')?.includes('application/json');
      return { status: response.status, headers: response.headers, body: isJson ? JSON.parse(text) : text };
    },
    async close() {
      await app.close();
      store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A chat-format JSONL training set of `n` examples. */
/**
 * For the calling test file: a test server and a temporary work folder, started before its tests and closed and
 * removed after them. Read `server` and `workDir` inside tests (they are set once `beforeAll` has run).
 */
export function useTestServer(workDirPrefix: string): {
  readonly server: TestServer;
  readonly workDir: string;
} {
  const env = {} as { server: TestServer; workDir: string };
  beforeAll(async () => {
    env.server = await startTestServer();
    env.workDir = mkdtempSync(join(tmpdir(), workDirPrefix));
  });
  afterAll(async () => {
    await env.server?.close();
    if (env.workDir) rmSync(env.workDir, { recursive: true, force: true });
  });
  return env;
}

export function chatJsonl(n: number): string {
  let out = '';
  for (let i = 0; i < n; i += 1) {
    out += `${JSON.stringify({
      messages: [
        { role: 'user', content: `What is ${i} + ${i}?` },
        { role: 'assistant', content: `${i + i}` },
      ],
    })}\n`;
  }
  return out;
}

/** Moves a new job to `queued`, as the worker does once its files are valid. */
export function markValidated(server: TestServer, jobId: string): void {
  server.store.jobs.transition(jobId, {
    from: ['validating_files'],
    to: 'queued',
    events: [{ message: 'Files validated, moving job to queued state' }],
  });
}

/** Uploads `content` as a fine-tune file for `key` and returns the file object. */
export async function uploadFile(
  server: TestServer,
  content: string,
  options: { key?: string; filename?: string; purpose?: string } = {},
): Promise<{ id: string; [key: string]: unknown }> {
  const form = new FormData();
  form.append('file', new Blob([content]), options.filename ?? 'train.jsonl');
  form.append('purpose', options.purpose ?? 'fine-tune');
  const response = await server.request('POST', '/v1/files', { key: options.key, body: form });
  if (response.status !== 200) throw new Error(`upload failed: ${JSON.stringify(response.body)}`);
  return response.body as { id: string };
}
