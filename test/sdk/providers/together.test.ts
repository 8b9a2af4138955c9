/**
 * The SDK with `provider: 'together'` against msw handlers written from Together's wire format
 * (../shared/reference/together-wire.md, the `together-ai` 0.52.0 SDK's requests), not from the emulator: the
 * exact requests each call sends (paths, methods, headers, bodies) and the mapping of Together's responses back
 * to tunekit's objects; what Together lacks throws UnsupportedFeatureError before any request.
 */
import fs from 'node:fs';
import * as http_ from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HttpResponse, http, passthrough } from 'msw';
import * as tar from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BadRequestError, Tunekit, UnsupportedFeatureError } from '../../../src/index';
import { json, useMswServer } from '../helpers';

const BASE = 'https://api.together.test/v1';
const server = useMswServer();
const client = () => new Tunekit({ provider: 'together', apiKey: 'tg-key', baseURL: BASE, maxRetries: 0 });

let work: string;
let requests: Request[];
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tunekit-together-provider-'));
  requests = [];
  server.events.on('request:start', ({ request }) => {
    requests.push(request.clone());
  });
});
afterEach(() => {
  server.events.removeAllListeners();
  fs.rmSync(work, { recursive: true, force: true });
});

const JOB = {
  id: 'ft-11111111-2222',
  status: 'running',
  created_at: '2026-01-02T03:04:05.000Z',
  updated_at: '2026-01-02T03:05:00.000Z',
  user_id: 'user-1',
  model: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference',
  model_output_name: 'alice/Meta-Llama-3.1-8B-Instruct-Reference-qa-1a2b',
  training_file: 'file-abc',
  suffix: 'qa',
  n_epochs: 3,
  n_checkpoints: 2,
  batch_size: 8,
  learning_rate: 1e-4,
  random_seed: 7,
  training_method: { method: 'sft', train_on_inputs: 'auto' },
  training_type: { type: 'Lora', lora_r: 8, lora_alpha: 16, lora_trainable_modules: 'q_proj,v_proj' },
  token_count: 1234,
};

describe('files', () => {
  it('uploads through POST /files (form, 302) → PUT to the signed URL without the key → GET /files/{id}', async () => {
    const file = path.join(work, 'train.jsonl');
    fs.writeFileSync(file, '{"text":"hello"}\n');
    // The signed URL is a real local server (msw lets it pass), so the PUT's wire headers are the real ones.
    let put: { headers: http_.IncomingHttpHeaders; body: string } | undefined;
    const storage = http_.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        put = { headers: req.headers, body: Buffer.concat(chunks).toString() };
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
    const uploadUrl = `http://127.0.0.1:${(storage.address() as AddressInfo).port}/put/abc?signature=s1`;
    server.use(
      http.post(`${BASE}/files`, () =>
        HttpResponse.text('', {
          status: 302,
          headers: { location: uploadUrl, 'x-together-file-id': 'file-xyz' },
        }),
      ),
      http.put(uploadUrl, () => passthrough()),
      http.get(`${BASE}/files/file-xyz`, () =>
        json({
          id: 'file-xyz',
          object: 'file',
          bytes: 17,
          created_at: 1767323045,
          filename: 'train.jsonl',
          purpose: 'fine-tune',
          FileType: 'jsonl',
          Processed: true,
          processing_status: 'COMPLETED',
        }),
      ),
    );
    try {
      const stored = await client().files.create({ file, purpose: 'fine-tune' });
      expect(stored).toEqual({
        id: 'file-xyz',
        object: 'file',
        bytes: 17,
        created_at: 1767323045,
        filename: 'train.jsonl',
        purpose: 'fine-tune',
        status: 'processed',
      });
    } finally {
      storage.close();
    }
    const [post, , get] = requests;
    expect(post!.method).toBe('POST');
    expect(Object.fromEntries(new URL(post!.url).searchParams)).toEqual({
      file_name: 'train.jsonl',
      file_type: 'jsonl',
      purpose: 'fine-tune',
    });
    expect(post!.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(post!.headers.get('authorization')).toBe('Bearer tg-key');
    expect(post!.headers.get('idempotency-key')).toBeNull();
    expect(Object.fromEntries(new URLSearchParams(await post!.text()))).toEqual({
      file_name: 'train.jsonl',
      file_type: 'jsonl',
      purpose: 'fine-tune',
    });
    expect(put!.headers.authorization).toBeUndefined();
    expect(put!.headers['content-type']).toBe('application/octet-stream');
    expect(put!.headers['content-length']).toBe('17');
    expect(put!.headers['transfer-encoding']).toBeUndefined();
    expect(put!.body).toBe('{"text":"hello"}\n');
    expect(get!.headers.get('authorization')).toBe('Bearer tg-key');
  });

  it('lists and deletes in Together’s shapes; a stream, an odd name or purpose is refused before sending', async () => {
    server.use(
      http.get(`${BASE}/files`, () =>
        json({
          data: [
            {
              id: 'file-1',
              bytes: 3,
              created_at: 5,
              filename: 'a.jsonl',
              purpose: 'eval',
              processing_status: 'FAILED',
              validation_report: { error: 'bad line 2' },
            },
          ],
        }),
      ),
      http.delete(`${BASE}/files/file-1`, () => json({ id: 'file-1', deleted: true })),
    );
    const page = await client().files.list();
    expect(page.data).toEqual([
      {
        id: 'file-1',
        object: 'file',
        bytes: 3,
        created_at: 5,
        filename: 'a.jsonl',
        purpose: 'user_data',
        status: 'error',
        status_details: 'bad line 2',
      },
    ]);
    expect(page.has_more).toBe(false);
    expect(await client().files.delete('file-1')).toEqual({ id: 'file-1', object: 'file', deleted: true });
    const before = requests.length;
    const stream = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    await expect(client().files.create({ file: stream, purpose: 'fine-tune' })).rejects.toBeInstanceOf(
      UnsupportedFeatureError,
    );
    await expect(
      client().files.create({ file: new File(['x'], 'train.txt'), purpose: 'fine-tune' }),
    ).rejects.toThrow(/\.jsonl, \.parquet or \.csv/);
    await expect(
      client().files.create({ file: new File(['x'], 'a.jsonl'), purpose: 'vision' }),
    ).rejects.toBeInstanceOf(UnsupportedFeatureError);
    expect(requests.length).toBe(before);
  });
});

describe('fine-tuning jobs', () => {
  it('create sends Together’s body (training_type, training_method, its own options) and maps the job back', async () => {
    let body: unknown;
    server.use(
      http.post(`${BASE}/fine-tunes`, async ({ request }) => {
        body = await request.json();
        return json({ ...JOB, status: 'pending' });
      }),
    );
    const job = await client().fineTuning.jobs.create({
      model: JOB.model,
      training_file: 'file-abc',
      validation_file: 'file-val',
      suffix: 'qa',
      seed: 7,
      n_checkpoints: 2,
      method: {
        type: 'supervised',
        supervised: {
          hyperparameters: {
            n_epochs: 3,
            batch_size: 8,
            learning_rate: 1e-4,
            lr_scheduler: 'cosine',
            warmup_ratio: 0.1,
          },
        },
      },
      training_type: { type: 'lora', r: 8, alpha: 16, target_modules: ['q_proj', 'v_proj'] },
      together: { n_evals: 2, train_on_inputs: 'auto', wandb_api_key: 'wk' },
    });
    expect(body).toEqual({
      model: JOB.model,
      training_file: 'file-abc',
      validation_file: 'file-val',
      suffix: 'qa',
      random_seed: 7,
      n_checkpoints: 2,
      n_epochs: 3,
      batch_size: 8,
      learning_rate: 1e-4,
      warmup_ratio: 0.1,
      lr_scheduler: { lr_scheduler_type: 'cosine' },
      training_method: { method: 'sft', train_on_inputs: 'auto' },
      training_type: { type: 'Lora', lora_r: 8, lora_alpha: 16, lora_trainable_modules: 'q_proj,v_proj' },
      n_evals: 2,
      wandb_api_key: 'wk',
    });
    expect(requests[0]!.headers.get('idempotency-key')).toBeNull();
    expect(job).toMatchObject({
      id: JOB.id,
      object: 'fine_tuning.job',
      status: 'validating_files',
      created_at: Date.parse(JOB.created_at) / 1000,
      fine_tuned_model: null,
      finished_at: null,
      seed: 7,
      user_provided_suffix: 'qa',
      method: {
        type: 'supervised',
        supervised: { hyperparameters: { n_epochs: 3, batch_size: 8, learning_rate: 1e-4 } },
      },
      training_type: { type: 'lora', r: 8, alpha: 16, target_modules: ['q_proj', 'v_proj'] },
    });
  });

  it('a DPO method becomes training_method dpo; what Together cannot train is refused before sending', async () => {
    let body: Record<string, unknown> = {};
    server.use(
      http.post(`${BASE}/fine-tunes`, async ({ request }) => {
        body = (await request.json()) as Record<string, unknown>;
        return json({
          ...JOB,
          training_method: {
            method: 'dpo',
            dpo_beta: 0.2,
            simpo_gamma: 1,
            dpo_normalize_logratios_by_length: true,
            dpo_reference_free: true,
          },
        });
      }),
    );
    const job = await client().fineTuning.jobs.create({
      model: JOB.model,
      training_file: 'file-abc',
      method: { type: 'dpo', dpo: { hyperparameters: { beta: 0.2, loss_type: 'simpo', simpo_gamma: 1 } } },
    });
    expect(body.training_method).toEqual({ method: 'dpo', dpo_beta: 0.2, simpo_gamma: 1 });
    expect(job.method).toEqual({
      type: 'dpo',
      dpo: { hyperparameters: expect.objectContaining({ beta: 0.2, loss_type: 'simpo', simpo_gamma: 1 }) },
    });
    await client().fineTuning.jobs.create({
      model: JOB.model,
      training_file: 'file-abc',
      method: {
        type: 'dpo',
        dpo: { hyperparameters: { loss_type: 'sigmoid_norm', rpo_alpha: 0.5, reference_free: true } },
      },
    });
    expect(body.training_method).toEqual({
      method: 'dpo',
      rpo_alpha: 0.5,
      dpo_normalize_logratios_by_length: true,
      dpo_reference_free: true,
    });

    const before = requests.length;
    const refused: Parameters<Tunekit['fineTuning']['jobs']['create']>[0][] = [
      { model: 'm', training_file: 'f', method: { type: 'kto' } },
      {
        model: 'm',
        training_file: 'f',
        method: { type: 'dpo', dpo: { hyperparameters: { loss_type: 'ipo' } } },
      },
      {
        model: 'm',
        training_file: 'f',
        method: { type: 'supervised', supervised: { hyperparameters: { learning_rate_multiplier: 2 } } },
      },
      { model: 'm', training_file: 'f', metadata: { team: 'nlp' } },
      { model: 'm', training_file: 'f', training_type: { type: 'lora', r: 8, use_rslora: true } },
    ];
    for (const params of refused) {
      expect(() => client().fineTuning.jobs.create(params), JSON.stringify(params)).toThrow(
        UnsupportedFeatureError,
      );
    }
    expect(() => client().fineTuning.jobs.pause(JOB.id)).toThrow(
      /fineTuning\.jobs\.pause is not supported by the together provider/,
    );
    expect(() => client().fineTuning.jobs.resume(JOB.id)).toThrow(UnsupportedFeatureError);
    expect(() =>
      client().fineTuning.alpha.graders.run({
        grader: { type: 'string_check', name: 'g', input: 'a', reference: 'a', operation: 'eq' },
        model_sample: 'a',
      } as never),
    ).toThrow(UnsupportedFeatureError);
    expect(() => client().adapters.list()).toThrow(UnsupportedFeatureError);
    expect(() => client().models.retrieve('m')).toThrow(UnsupportedFeatureError);
    expect(() => client().chat.completions.create({ model: 'm', messages: [], logprobs: true })).toThrow(
      UnsupportedFeatureError,
    );
    expect(requests.length).toBe(before);
  });

  it('list, retrieve and cancel use /fine-tunes; states map onto OpenAI’s names', async () => {
    server.use(
      http.get(`${BASE}/fine-tunes`, () =>
        json({
          data: [
            JOB,
            { ...JOB, id: 'ft-2', status: 'error', error: 'boom', created_at: '2026-02-01T00:00:00Z' },
          ],
        }),
      ),
      http.get(`${BASE}/fine-tunes/${JOB.id}`, () => json({ ...JOB, status: 'completed' })),
      http.post(`${BASE}/fine-tunes/${JOB.id}/cancel`, () => json({ ...JOB, status: 'cancel_requested' })),
    );
    const list = await client().fineTuning.jobs.list();
    expect(list.data.map((j) => [j.id, j.status])).toEqual([
      ['ft-2', 'failed'],
      [JOB.id, 'running'],
    ]);
    expect(list.data[0]!.error).toEqual({ code: 'job_error', message: 'boom', param: null });
    const done = await client().fineTuning.jobs.retrieve(JOB.id);
    expect(done).toMatchObject({
      status: 'succeeded',
      fine_tuned_model: JOB.model_output_name,
      finished_at: Date.parse(JOB.updated_at) / 1000,
      trained_tokens: 1234,
    });
    expect((await client().fineTuning.jobs.cancel(JOB.id)).status).toBe('running');
    expect(requests.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual([
      'GET /v1/fine-tunes',
      `GET /v1/fine-tunes/${JOB.id}`,
      `POST /v1/fine-tunes/${JOB.id}/cancel`,
    ]);
  });

  it('events: newest first with stable ids and cursor paging; streamEvents and wait poll until the job ends', async () => {
    const events = [
      {
        object: 'fine-tune-event',
        created_at: '2026-01-02T03:04:05Z',
        message: 'queued',
        type: 'job_pending',
        level: 'info',
      },
      {
        object: 'fine-tune-event',
        created_at: '2026-01-02T03:04:06Z',
        message: 'started',
        type: 'training_start',
        level: 'info',
      },
      {
        object: 'fine-tune-event',
        created_at: '2026-01-02T03:04:07Z',
        message: 'saved',
        type: 'checkpoint_save',
        level: 'info',
        step: 4,
        checkpoint_path: 'p4',
      },
      {
        object: 'fine-tune-event',
        created_at: '2026-01-02T03:04:08Z',
        message: 'done',
        type: 'job_complete',
        level: 'info',
      },
    ];
    let polls = 0;
    server.use(
      http.get(`${BASE}/fine-tunes/${JOB.id}`, () => {
        polls++;
        return json({ ...JOB, status: polls < 2 ? 'running' : 'completed' });
      }),
      http.get(`${BASE}/fine-tunes/${JOB.id}/events`, () =>
        json({ data: polls < 2 ? events.slice(0, 2) : events }),
      ),
    );
    const first = await client().fineTuning.jobs.listEvents(JOB.id, { limit: 1 });
    expect(first.data.map((e) => e.id)).toEqual([`${JOB.id}:event:1`]);
    const second = await first.getNextPage();
    expect(second.data.map((e) => [e.id, e.message, e.data])).toEqual([
      [`${JOB.id}:event:0`, 'queued', { together_type: 'job_pending' }],
    ]);
    expect(second.hasNextPage()).toBe(false);

    const seen: string[] = [];
    const job = await client().fineTuning.jobs.wait(JOB.id, {
      pollInterval: 1,
      onEvent: (e) => seen.push(e.message),
    });
    expect(seen).toEqual(['queued', 'started', 'saved', 'done']);
    expect(job.status).toBe('succeeded');
    expect(() => client().fineTuning.jobs.streamEvents(JOB.id, { lastEventId: 'x' })).toThrow(
      UnsupportedFeatureError,
    );
  });

  it('checkpoints carry the names from_checkpoint takes; a 400 is a BadRequestError with Together’s body', async () => {
    server.use(
      http.get(`${BASE}/fine-tunes/${JOB.id}/checkpoints`, () =>
        json({
          data: [
            {
              step: 4,
              path: 's3://x/4',
              created_at: '2026-01-02T03:04:07Z',
              checkpoint_type: 'Intermediate',
            },
            { step: 8, path: 's3://x/8', created_at: '2026-01-02T03:04:09Z', checkpoint_type: 'Final' },
          ],
        }),
      ),
      http.post(`${BASE}/fine-tunes`, () =>
        json(
          {
            error: {
              message: 'lora_r out of range',
              type: 'invalid_request_error',
              param: 'training_type.lora_r',
              code: null,
            },
          },
          { status: 400 },
        ),
      ),
    );
    const page = await client().fineTuning.jobs.checkpoints.list(JOB.id);
    expect(page.data.map((c) => [c.step_number, c.fine_tuned_model_checkpoint])).toEqual([
      [8, JOB.id],
      [4, `${JOB.id}:4`],
    ]);
    const error = await client()
      .fineTuning.jobs.create({ model: 'm', training_file: 'f' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).param).toBe('training_type.lora_r');
  });
});

describe('downloads, models and chat', () => {
  it('adapters.download GETs /finetune/download and unpacks the tar; a step id asks for that checkpoint', async () => {
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'adapter_config.json'), '{"r":8}');
    const chunks: Buffer[] = [];
    for await (const piece of tar.c({ cwd: src, portable: true }, ['adapter_config.json']))
      chunks.push(piece as Buffer);
    const archive = Buffer.concat(chunks);
    server.use(
      http.get(
        `${BASE}/finetune/download`,
        () => new HttpResponse(archive, { headers: { 'content-type': 'application/octet-stream' } }),
      ),
    );
    const files = await client().adapters.download(`${JOB.id}:4`, path.join(work, 'out'), {
      format: 'merged',
    });
    expect(files).toEqual([path.join(work, 'out', 'adapter_config.json')]);
    const url = new URL(requests[0]!.url);
    expect(url.pathname).toBe('/v1/finetune/download');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      ft_id: JOB.id,
      checkpoint: 'merged',
      checkpoint_step: '4',
    });
    expect(requests[0]!.headers.get('accept')).toBe('application/octet-stream');
  });

  it('a zstd archive (Together’s .tar.zst) is unpacked where Node has zstd, else a clear error', async () => {
    server.use(
      http.get(
        `${BASE}/finetune/download`,
        () =>
          new HttpResponse(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), {
            headers: { 'content-type': 'application/octet-stream' },
          }),
      ),
    );
    const outcome = client().adapters.download(JOB.id, path.join(work, 'out'));
    if ('createZstdDecompress' in (await import('node:zlib'))) await expect(outcome).rejects.toThrow();
    else await expect(outcome).rejects.toThrow(/zstd-compressed .* adapters\.content\(\)/);
  });

  it('models.list reads Together’s bare array; chat posts to /chat/completions', async () => {
    let chatBody: unknown;
    server.use(
      http.get(`${BASE}/models`, () =>
        json([
          { id: 'Qwen/Qwen2.5-7B-Instruct', object: 'model', created: 9, type: 'chat', organization: 'Qwen' },
        ]),
      ),
      http.post(`${BASE}/chat/completions`, async ({ request }) => {
        chatBody = await request.json();
        return json({
          id: 'c1',
          object: 'chat.completion',
          created: 9,
          model: JOB.model_output_name,
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
        });
      }),
    );
    expect((await client().models.list()).data).toEqual([
      { id: 'Qwen/Qwen2.5-7B-Instruct', object: 'model', created: 9, owned_by: 'Qwen' },
    ]);
    const completion = await client().chat.completions.create({
      model: JOB.model_output_name,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 4,
    });
    expect(completion.choices[0]!.message.content).toBe('hi');
    expect(chatBody).toEqual({
      model: JOB.model_output_name,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 4,
    });
  });
});

describe('the provider option', () => {
  it('reads TUNEKIT_PROVIDER, TOGETHER_API_KEY and TOGETHER_BASE_URL; refuses an unknown provider', () => {
    const saved = { ...process.env };
    try {
      process.env.TUNEKIT_PROVIDER = 'together';
      process.env.TOGETHER_API_KEY = 'from-env';
      delete process.env.TOGETHER_BASE_URL;
      const fromEnv = new Tunekit();
      expect([fromEnv.provider, fromEnv.apiKey, fromEnv.baseURL]).toEqual([
        'together',
        'from-env',
        'https://api.together.ai/v1',
      ]);
      process.env.TOGETHER_BASE_URL = 'http://127.0.0.1:4100/together/v1';
      expect(new Tunekit().baseURL).toBe('http://127.0.0.1:4100/together/v1');
      delete process.env.TOGETHER_API_KEY;
      expect(() => new Tunekit()).toThrow(/TOGETHER_API_KEY/);
      expect(() => new Tunekit({ provider: 'bedrock' as never, apiKey: 'k' })).toThrow(
        /Unknown provider 'bedrock'/,
      );
    } finally {
      process.env = saved;
    }
  });
});
