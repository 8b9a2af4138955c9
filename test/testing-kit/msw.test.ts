/**
 * Issue 18: msw handlers route unchanged SDK code to the emulator. The official `openai` SDK built with no baseURL
 * uploads, fine-tunes, lists events and streams a chat against https://api.openai.com; the job's live event stream
 * (SSE) comes through too, also when the reader stops early. The official `together-ai` SDK with no baseURL does the
 * same against Together's hosts (its signed-URL upload included: the emulator's redirect is pointed back at the
 * hosted name). A route the emulator does not serve fails naming it, and no socket to a non-loopback address is
 * ever opened (the guard below fails the test if one is).
 *
 * Two bugs of together-ai 0.52.0 itself are worked around here, in the test only, as in test/e2e/together-sdk:
 * its upload PUT streams a file without `duplex: 'half'` (a fetch wrapper adds it) and its ESM build calls
 * `require` (the CJS build is loaded).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setupServer } from 'msw/node';
import OpenAI, { NotFoundError, toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Emulator, startEmulator } from '../../emulator/index';
import { emulatorHandlers } from '../../emulator/msw';
import { chatJsonl, MEMORIZE_QA } from '../memorize-qa';

type TogetherModule = typeof import('together-ai');

/** Every connection attempt to an address other than loopback, refused and recorded. */
const outside: string[] = [];
const connect = net.Socket.prototype.connect;
function guardedConnect(this: net.Socket, ...args: unknown[]): net.Socket {
  const first = args[0] as { host?: string; path?: string } | number | string;
  let host = 'localhost';
  if (typeof first === 'object' && first !== null) host = first.path ? 'ipc' : (first.host ?? 'localhost');
  else if (typeof first === 'number' && typeof args[1] === 'string') host = args[1];
  else if (typeof first === 'string') host = 'ipc';
  if (!['127.0.0.1', '::1', 'localhost', 'ipc'].includes(host)) {
    outside.push(host);
    throw new Error(`test network guard: a connection to ${host} was attempted`);
  }
  return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
}

const TRAINING = chatJsonl(MEMORIZE_QA.slice(0, 10));
let emulator: Emulator;
let workDir: string;
const server = setupServer();

beforeAll(async () => {
  net.Socket.prototype.connect = guardedConnect as typeof connect;
  // No base URL from the environment: the SDKs use their hosted defaults.
  for (const name of ['OPENAI_BASE_URL', 'TOGETHER_BASE_URL', 'TOGETHER_API_BASE_URL'])
    vi.stubEnv(name, undefined);
  workDir = mkdtempSync(join(tmpdir(), 'tunekit-msw-'));
  emulator = await startEmulator();
  server.use(...emulatorHandlers(emulator));
  server.listen({ onUnhandledRequest: 'error' });
});

afterAll(async () => {
  server.close();
  net.Socket.prototype.connect = connect;
  vi.unstubAllEnvs();
  await emulator?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

/** Reads a text/event-stream response to its end; returns the `data:` payloads. */
async function eventData(response: Response): Promise<string[]> {
  const text = await response.text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => line.slice('data: '.length));
}

describe('emulatorHandlers', () => {
  it('the network guard itself refuses a non-loopback connection', () => {
    expect(() => new net.Socket().connect(443, '203.0.113.7')).toThrow('test network guard');
    expect(outside.splice(0)).toEqual(['203.0.113.7']);
  });

  it('runs unchanged openai code (no baseURL): upload, fine-tune, events, event stream, streamed chat', async () => {
    const client = new OpenAI({ apiKey: 'msw-openai', maxRetries: 0 });
    expect(client.baseURL).toBe('https://api.openai.com/v1');
    const file = await client.files.create({
      file: await toFile(Buffer.from(TRAINING), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    expect(file).toMatchObject({
      object: 'file',
      bytes: Buffer.byteLength(TRAINING),
      filename: 'train.jsonl',
    });
    const job = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini-2024-07-18',
      training_file: file.id,
      method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2, batch_size: 4 } } },
    });

    // The live event stream, as Server-Sent Events through msw, until the emulator's [DONE].
    const stream = await fetch(`https://api.openai.com/v1/fine_tuning/jobs/${job.id}/events`, {
      headers: { authorization: 'Bearer msw-openai', accept: 'text/event-stream' },
    });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const data = await eventData(stream);
    expect(data.at(-1)).toBe('[DONE]');
    const streamed = data.slice(0, -1).map((d) => JSON.parse(d) as { message: string });
    expect(streamed.at(-1)?.message).toContain('The job has successfully completed');

    const done = await client.fineTuning.jobs.retrieve(job.id);
    expect(done.status).toBe('succeeded');
    const events = await client.fineTuning.jobs.listEvents(job.id, { limit: 100 });
    expect(events.data.map((e) => e.message).sort()).toEqual(streamed.map((e) => e.message).sort());

    const chat = await client.chat.completions.create({
      model: done.fine_tuned_model!,
      messages: [{ role: 'user', content: MEMORIZE_QA[0]![0] }],
      max_tokens: 6,
      stream: true,
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of chat) chunks.push(chunk);
    expect(chunks[0]?.model).toBe(done.fine_tuned_model);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toMatch(/^(stop|length)$/);
    expect(chunks.length).toBeGreaterThan(2);
    expect(outside).toEqual([]);
  }, 180_000);

  it('lets a reader stop a live event stream early (its cancel settles, the emulator ends the stream)', async () => {
    const client = new OpenAI({ apiKey: 'msw-early-stop', maxRetries: 0 });
    const file = await client.files.create({
      file: await toFile(Buffer.from(TRAINING), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    const job = await client.fineTuning.jobs.create({
      model: 'gpt-4o-mini-2024-07-18',
      training_file: file.id,
      method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 50, batch_size: 1 } } },
    });
    const stream = await fetch(`https://api.openai.com/v1/fine_tuning/jobs/${job.id}/events?stream=true`, {
      headers: { authorization: 'Bearer msw-early-stop' },
    });
    const reader = stream.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('data: ');
    // The job runs on: without the handlers' tee, this cancel would wait for msw's unread copy forever.
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      reader.cancel().then(() => 'settled'),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('still pending after 10 s'), 10_000);
      }),
    ]);
    clearTimeout(timer);
    expect(settled).toBe('settled');
    expect((await client.fineTuning.jobs.cancel(job.id)).status).toMatch(/^cancel/);
  }, 60_000);

  it('runs unchanged together-ai code (no baseURL): signed-URL upload, fine-tune, events, streamed chat', async () => {
    const realFetch = globalThis.fetch; // msw's
    // together-ai bug 1: its upload PUT streams a file without duplex: 'half'.
    globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      const body = init?.body as unknown;
      const streamed =
        body instanceof Readable ||
        (typeof body === 'object' && body !== null && Symbol.asyncIterator in body);
      return realFetch(input, streamed ? ({ ...init, duplex: 'half' } as RequestInit) : init);
    }) as typeof fetch;
    try {
      // together-ai bug 2: its ESM build calls require(); the CJS build is loaded.
      const together = createRequire(import.meta.url)('together-ai') as TogetherModule;
      const client = new together.Together({ apiKey: 'msw-together', maxRetries: 0 });
      expect(client.baseURL).toMatch(/^https:\/\/api\.together\.(ai|xyz)\/v1$/);
      const path = join(workDir, 'train.jsonl');
      writeFileSync(path, TRAINING);
      // POST to api.together.xyz, 302 to a signed URL, PUT there, then GET the file: all through the handlers.
      const file = await client.files.upload(path, 'fine-tune');
      expect(file).toMatchObject({
        object: 'file',
        filename: 'train.jsonl',
        bytes: Buffer.byteLength(TRAINING),
      });

      const created = await client.fineTuning.create({
        model: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference',
        training_file: file.id,
        n_epochs: 2,
        batch_size: 4,
      });
      const deadline = Date.now() + 120_000;
      let job = await client.fineTuning.retrieve(created.id);
      while (!['completed', 'error', 'cancelled'].includes(job.status)) {
        if (Date.now() > deadline) throw new Error(`job ${job.id} still ${job.status}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
        job = await client.fineTuning.retrieve(created.id);
      }
      expect(job.status).toBe('completed');
      const types = (await client.fineTuning.listEvents(job.id)).data.map((e) => e.type);
      expect(types[0]).toBe('job_pending');
      expect(types.at(-1)).toBe('job_complete');

      const chat = await client.chat.completions.create({
        model: job.model_output_name!,
        messages: [{ role: 'user', content: MEMORIZE_QA[0]![0] }],
        max_tokens: 6,
        stream: true,
      });
      const chunks: { model: string; choices: { finish_reason?: string | null }[] }[] = [];
      for await (const chunk of chat) chunks.push(chunk);
      expect(chunks[0]?.model).toBe(job.model_output_name);
      expect(chunks.at(-1)?.choices[0]?.finish_reason).toMatch(/^(stop|length|eos)$/);
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(outside).toEqual([]);
  }, 180_000);

  it('fails a route the emulator does not serve, naming it, without touching the network', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const client = new OpenAI({ apiKey: 'msw-unrouted', maxRetries: 0 });
      const error = await client.embeddings
        .create({ model: 'text-embedding-3-small', input: 'x' })
        .catch((e) => e);
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error.message).toContain(
        'POST https://api.openai.com/v1/embeddings has no route in the tunekit emulator',
      );
      expect(error.code).toBe('unrouted_request');
      const together = await fetch('https://api.together.xyz/v1/no-such-route');
      expect(together.status).toBe(404);
      expect(await together.text()).toContain('GET https://api.together.xyz/v1/no-such-route has no route');
      const outsideV1 = await fetch('https://api.openai.com/dashboard');
      expect(outsideV1.status).toBe(404);
      expect(errors.mock.calls.map((call) => String(call[0]))).toEqual([
        expect.stringContaining('POST https://api.openai.com/v1/embeddings has no route'),
        expect.stringContaining('GET https://api.together.xyz/v1/no-such-route has no route'),
        expect.stringContaining('GET https://api.openai.com/dashboard has no route'),
      ]);
      // data: URLs (the openai SDK's runtime probe) pass, with no unhandled-request error.
      expect(await (await fetch('data:,probe')).text()).toBe('probe');
      // A 404 the emulator means (no such file) passes through as it is.
      const missing = await client.files.retrieve('file-missing').catch((e) => e);
      expect(missing).toBeInstanceOf(NotFoundError);
      expect(missing.code).not.toBe('unrouted_request');
      expect(errors).toHaveBeenCalledTimes(3);
    } finally {
      errors.mockRestore();
    }
    expect(outside).toEqual([]);
  });
});
