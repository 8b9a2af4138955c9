/**
 * Together's dialect under /together/v1, without a trainer (jobs stay where the test puts them): the signed-URL
 * upload and its refusals (expired, foreign, reused URL; a file the `together` CLI's checks reject, with the line
 * and field), the multipart form upload, the multipart-upload flow, bad job requests in Together's error shape with
 * nothing half-written, the job lifecycle that needs no training, models, limits, price estimate and preview.
 * Every response is checked against openapi.yaml.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatJsonl, startTestServer, type TestServer } from './harness';

const T = '/together/v1';
const MODEL = 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

function form(fields: Record<string, string>) {
  return {
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  };
}

/** POST /files → the signed URL (made relative to the test server's origin) and the announced id. */
async function requestUpload(target = server, fields: Record<string, string> = {}) {
  const response = await target.request('POST', `${T}/files`, {
    ...form({ file_name: 'data/train.jsonl', file_type: 'jsonl', purpose: 'fine-tune', ...fields }),
  });
  expect(response.status).toBe(302);
  const location = response.headers.get('location') as string;
  expect(location.startsWith(`${target.origin}${T}/uploads/`)).toBe(true);
  return { location, fileId: response.headers.get('x-together-file-id') as string };
}

async function put(url: string, body: string) {
  const response = await fetch(url, {
    method: 'PUT',
    body,
    headers: { 'content-type': 'application/octet-stream' },
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text === '' ? {} : JSON.parse(text)) as unknown,
  };
}

async function fileIds(): Promise<string[]> {
  const list = await server.request('GET', `${T}/files`);
  return (list.body as { data: { id: string }[] }).data.map((f) => f.id);
}

function errorOf(body: unknown) {
  return (body as { error: { message: string; param: string | null; code: string | null } }).error;
}

describe('the signed-URL upload', () => {
  it('302 → PUT stores the file under the announced id, seen by both dialects', async () => {
    const { location, fileId } = await requestUpload();
    expect((await server.request('GET', `${T}/files/${fileId}`)).status).toBe(404);
    const stored = await put(location, chatJsonl(12));
    expect(stored.status).toBe(200);
    const file = await server.request('GET', `${T}/files/${fileId}`);
    expect(file.body).toMatchObject({
      id: fileId,
      object: 'file',
      filename: 'train.jsonl',
      purpose: 'fine-tune',
      FileType: 'jsonl',
      Processed: true,
      processing_status: 'COMPLETED',
      bytes: Buffer.byteLength(chatJsonl(12)),
    });
    expect((await server.request('GET', `/v1/files/${fileId}`)).body).toMatchObject({
      id: fileId,
      purpose: 'fine-tune',
    });
    const content = await server.request('GET', `${T}/files/${fileId}/content`);
    expect(content.body).toBe(chatJsonl(12));
  });

  it('refuses a second PUT, a foreign URL and an expired one with 403, storing nothing', async () => {
    const { location } = await requestUpload();
    expect((await put(location, chatJsonl(3))).status).toBe(200);
    const again = await put(location, chatJsonl(3));
    expect(again.status).toBe(403);
    expect(errorOf(again.body)).toMatchObject({
      code: 'invalid_upload_url',
      message: expect.stringMatching(/already used/),
    });
    const before = await fileIds();
    const foreign = await put(`${server.origin}${T}/uploads/not-a-token`, chatJsonl(3));
    expect(foreign.status).toBe(403);
    expect(errorOf(foreign.body).message).toMatch(/not valid/);

    const shortLived = await startTestServer({ uploadUrlTtlMs: 1 });
    try {
      const expired = await requestUpload(shortLived);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const late = await put(expired.location, chatJsonl(3));
      expect(late.status).toBe(403);
      expect(errorOf(late.body).message).toMatch(/expired/);
      expect((await shortLived.request('GET', `${T}/files/${expired.fileId}`)).status).toBe(404);
    } finally {
      await shortLived.close();
    }
    expect(await fileIds()).toEqual(before);
  });

  it('applies the together CLI’s file checks: 400 naming the line and field; nothing stored', async () => {
    const before = await fileIds();
    const cases: [string, RegExp][] = [
      [
        `${chatJsonl(1)}{"messages":[{"role":"user","content":"hi"}],"extra":1}\n`,
        /extra column "extra" in the line 2/,
      ],
      [
        `${chatJsonl(2)}{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}\n`,
        /Invalid role turns on line 3.*messages\[1\]\.role/,
      ],
      [
        `${chatJsonl(1)}{"messages":[{"role":"user","content":"a"}]}\n`,
        /line 2.*assistant role must be present/,
      ],
      [
        `${chatJsonl(1)}{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","weight":2}]}\n`,
        /Weight must be either 0 or 1 on line 2.*messages\[1\]\.weight/,
      ],
      ['{"prompt":"a","completion":3}\n', /Invalid value type for "completion" key on line 1/],
      [
        `${chatJsonl(1)}{"text":"plain"}\n`,
        /same dataset format\. Got conversation for the first line and general for the line 2/,
      ],
      ['not json\n', /Unexpected format on line 1/],
      ['', /File is empty/],
    ];
    for (const [text, message] of cases) {
      const { location, fileId } = await requestUpload();
      const refused = await put(location, text);
      expect(refused.status, text).toBe(400);
      expect(errorOf(refused.body)).toMatchObject({ param: 'file', code: 'invalid_file_format' });
      expect(errorOf(refused.body).message).toMatch(message);
      expect((await server.request('GET', `${T}/files/${fileId}`)).status).toBe(404);
    }
    expect(await fileIds()).toEqual(before);
    expect(readdirSync(join(server.dataDir, 'tmp'))).toEqual([]);
  });

  it('refuses non-JSONL file types and malformed requests in the error shape', async () => {
    const parquet = await server.request('POST', `${T}/files`, {
      ...form({ file_name: 'x.parquet', file_type: 'parquet', purpose: 'fine-tune' }),
    });
    expect(parquet.status).toBe(400);
    expect(errorOf(parquet.body).param).toBe('file_type');
    const noPurpose = await server.request('POST', `${T}/files`, { ...form({ file_name: 'x.jsonl' }) });
    expect(noPurpose.status).toBe(400);
    expect(errorOf(noPurpose.body).param).toBe('purpose');
    const unauthenticated = await server.request('POST', `${T}/files`, {
      key: null,
      ...form({ file_name: 'x.jsonl', purpose: 'fine-tune' }),
    });
    expect(unauthenticated.status).toBe(401);
  });
});

describe('other uploads', () => {
  it('POST /files/upload (multipart) checks and stores', async () => {
    const body = new FormData();
    body.append('purpose', 'fine-tune');
    body.append('file_name', 'qa.jsonl');
    body.append('file', new Blob([chatJsonl(4)]), 'qa.jsonl');
    const stored = await server.request('POST', `${T}/files/upload`, { body });
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ filename: 'qa.jsonl', bytes: Buffer.byteLength(chatJsonl(4)) });
    const bad = new FormData();
    bad.append('purpose', 'fine-tune');
    bad.append('file_name', 'bad.jsonl');
    bad.append('file', new Blob(['{"messages":[{"role":"robot","content":"x"}]}\n']), 'bad.jsonl');
    const refused = await server.request('POST', `${T}/files/upload`, { body: bad });
    expect(refused.status).toBe(400);
    expect(errorOf(refused.body).message).toMatch(/Invalid role `robot` in conversation on line 1/);
  });

  it('multipart upload: initiate, PUT parts, complete joins them in order; abort voids the URLs', async () => {
    const text = chatJsonl(10);
    const cut = text.indexOf('\n', text.length / 2) + 1;
    const initiated = await server.request('POST', `${T}/files/multipart/initiate`, {
      json: { file_name: 'big.jsonl', file_size: text.length, num_parts: 2, purpose: 'fine-tune' },
    });
    expect(initiated.status).toBe(200);
    const { upload_id, file_id, parts } = initiated.body as {
      upload_id: string;
      file_id: string;
      parts: { PartNumber: number; URL: string }[];
    };
    // Parts may arrive in any order.
    const second = await put(parts[1]!.URL, text.slice(cut));
    const first = await put(parts[0]!.URL, text.slice(0, cut));
    const etags = [first.headers.get('etag') as string, second.headers.get('etag') as string];
    const wrong = await server.request('POST', `${T}/files/multipart/complete`, {
      json: {
        upload_id,
        file_id,
        parts: [
          { part_number: 1, etag: etags[1] },
          { part_number: 2, etag: etags[0] },
        ],
      },
    });
    expect(wrong.status).toBe(400);
    const done = await server.request('POST', `${T}/files/multipart/complete`, {
      json: {
        upload_id,
        file_id,
        parts: [
          { part_number: 1, etag: etags[0] },
          { part_number: 2, etag: etags[1] },
        ],
      },
    });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id: file_id, bytes: text.length });
    expect((await server.request('GET', `${T}/files/${file_id}/content`)).body).toBe(text);

    const other = await server.request('POST', `${T}/files/multipart/initiate`, {
      json: { file_name: 'x.jsonl', file_size: 10, num_parts: 1, purpose: 'fine-tune' },
    });
    const aborted = other.body as { upload_id: string; file_id: string; parts: { URL: string }[] };
    const abort = await server.request('POST', `${T}/files/multipart/abort`, {
      json: { upload_id: aborted.upload_id, file_id: aborted.file_id },
    });
    expect(abort.status).toBe(200);
    expect((await put(aborted.parts[0]!.URL, chatJsonl(1))).status).toBe(403);
  });
});

describe('fine-tunes without training', () => {
  let fileId: string;
  beforeAll(async () => {
    const { location, fileId: id } = await requestUpload();
    await put(location, chatJsonl(12));
    fileId = id;
  });

  it('refuses bad requests in the error shape, naming the parameter, and creates nothing', async () => {
    const before = (await server.request('GET', `${T}/fine-tunes`)).body as { data: unknown[] };
    const cases: [Record<string, unknown>, string][] = [
      [{ model: 'no/such-model' }, 'model'],
      [{ model: MODEL, training_type: { type: 'Lora', lora_r: 0, lora_alpha: 16 } }, 'training_type.lora_r'],
      [
        {
          model: MODEL,
          training_type: { type: 'Lora', lora_r: 8, lora_alpha: 16, lora_trainable_modules: 'q_proj,wq' },
        },
        'training_type.lora_trainable_modules',
      ],
      [{ model: MODEL, batch_size: 'big' }, 'batch_size'],
      [{ model: MODEL, batch_size: 2.5 }, 'batch_size'],
      [{ model: MODEL, batch_size: 64 }, 'batch_size'],
      [{ model: MODEL, batch_size: 32, training_method: { method: 'dpo' } }, 'batch_size'],
      [{ model: MODEL, training_method: { method: 'dpo', dpo_beta: 0 } }, 'training_method.dpo_beta'],
      [{ model: MODEL, training_method: { method: 'dpo', dpo_beta: 2.5 } }, 'training_method.dpo_beta'],
      [{ model: MODEL, training_method: { method: 'dpo', rpo_alpha: -1 } }, 'training_method.rpo_alpha'],
      [
        { model: MODEL, training_method: { method: 'dpo', simpo_gamma: -0.5 } },
        'training_method.simpo_gamma',
      ],
      [{ model: MODEL, training_method: { method: 'sft', dpo_beta: 0.1 } }, 'training_method.dpo_beta'],
      [{ model: MODEL, training_method: { method: 'dpo' }, train_on_inputs: 'auto' }, 'train_on_inputs'],
      [{ model: MODEL, wandb_api_key: 'k' }, 'wandb_api_key'],
      [
        { model: MODEL, training_method: { method: 'sft', train_on_inputs: true } },
        'training_method.train_on_inputs',
      ],
      [{ model: MODEL, n_evals: 5 }, 'n_evals'],
      [{ model: MODEL, from_checkpoint: 'ftjob-nope' }, 'from_checkpoint'],
      [{}, 'model'],
      [{ model: MODEL, training_file: 'file-missing' }, 'training_file'],
    ];
    for (const [extra, param] of cases) {
      const response = await server.request('POST', `${T}/fine-tunes`, {
        json: { training_file: fileId, ...extra },
      });
      expect(response.status, JSON.stringify(extra)).toBe(400);
      expect(errorOf(response.body).param, JSON.stringify(response.body)).toBe(param);
    }
    const after = (await server.request('GET', `${T}/fine-tunes`)).body as { data: unknown[] };
    expect(after.data.length).toBe(before.data.length);
  });

  it('creates, lists, retrieves, cancels (then 400 to cancel a finished job) and deletes', async () => {
    const created = await server.request('POST', `${T}/fine-tunes`, {
      json: {
        model: MODEL,
        training_file: fileId,
        batch_size: 'max',
        n_epochs: 2,
        suffix: 'x',
        random_seed: 3,
      },
    });
    expect(created.status).toBe(200);
    const job = created.body as {
      id: string;
      status: string;
      model_output_name: string;
      batch_size: unknown;
    };
    expect(job).toMatchObject({ status: 'pending', batch_size: 32, random_seed: 3, model: MODEL });
    expect(job.model_output_name).toMatch(/^ft:meta-llama\/Meta-Llama-3\.1-8B-Instruct-Reference:tunekit:x:/);
    expect((await server.request('GET', `/v1/fine_tuning/jobs/${job.id}`)).body).toMatchObject({
      status: 'validating_files',
      method: { supervised: { hyperparameters: { batch_size: 32, n_epochs: 2 } } },
    });
    const running = await server.request('DELETE', `${T}/fine-tunes/${job.id}`);
    expect(running.status).toBe(400);
    expect(errorOf(running.body).code).toBe('invalid_job_state');
    const cancelled = await server.request('POST', `${T}/fine-tunes/${job.id}/cancel`);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    const events = (await server.request('GET', `${T}/fine-tunes/${job.id}/events`)).body as {
      data: { type: string }[];
    };
    expect(events.data.map((e) => e.type)).toEqual([
      'job_pending',
      'training_data_downloading',
      'cancel_requested',
    ]);
    const download = await server.request('GET', `${T}/finetune/download?ft_id=${job.id}&checkpoint=adapter`);
    expect(download.status).toBe(400);
    expect((await server.request('DELETE', `${T}/fine-tunes/${job.id}`)).body).toMatchObject({
      message: expect.stringMatching(/deleted/),
    });
    expect((await server.request('GET', `${T}/fine-tunes/${job.id}`)).status).toBe(404);
    expect((await server.request('GET', `/v1/fine_tuning/jobs/${job.id}`)).status).toBe(404);
    expect(readdirSync(join(server.dataDir, 'jobs'))).not.toContain(job.id);
  });
});

describe('DPO through training_method', () => {
  it('maps Together’s DPO settings onto the domain’s method and echoes them through both dialects', async () => {
    const { location, fileId } = await requestUpload();
    const pair = (i: number) =>
      JSON.stringify({
        input: { messages: [{ role: 'user', content: `q${i}` }] },
        preferred_output: [{ role: 'assistant', content: `yes ${i}` }],
        non_preferred_output: [{ role: 'assistant', content: `no ${i}` }],
      });
    expect((await put(location, [0, 1, 2].map(pair).join('\n'))).status).toBe(200);
    const create = (training_method: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      server.request('POST', `${T}/fine-tunes`, {
        json: { model: MODEL, training_file: fileId, training_method, ...extra },
      });
    const cases: [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>][] = [
      [
        { method: 'dpo', dpo_beta: 0.2, rpo_alpha: 0.5 },
        { beta: 0.2, loss_type: 'sigmoid', rpo_alpha: 0.5 },
        { dpo_beta: 0.2, rpo_alpha: 0.5, simpo_gamma: 0, dpo_normalize_logratios_by_length: false },
      ],
      [
        { method: 'dpo', dpo_normalize_logratios_by_length: true, dpo_reference_free: true },
        { beta: 0.1, loss_type: 'sigmoid_norm', reference_free: true },
        { dpo_normalize_logratios_by_length: true, dpo_reference_free: true, rpo_alpha: 0 },
      ],
      [
        { method: 'dpo', simpo_gamma: 1, dpo_beta: 1.5 },
        { beta: 1.5, loss_type: 'simpo', simpo_gamma: 1 },
        { simpo_gamma: 1, dpo_normalize_logratios_by_length: true, dpo_reference_free: true },
      ],
    ];
    for (const [method, domain, echoed] of cases) {
      const created = await create(method, {
        batch_size: 'max',
        n_epochs: 2,
        learning_rate: 1e-4,
        packing: true,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(200);
      const job = created.body as { id: string; batch_size: unknown; training_method: unknown };
      expect(job.batch_size).toBe(16); // the model's DPO cap
      expect(job.training_method).toMatchObject({ method: 'dpo', ...echoed });
      const viaOpenAI = (await server.request('GET', `/v1/fine_tuning/jobs/${job.id}`)).body as {
        method: { type: string; dpo: { hyperparameters: Record<string, unknown> } };
      };
      expect(viaOpenAI.method.type).toBe('dpo');
      expect(viaOpenAI.method.dpo.hyperparameters).toEqual({
        ...domain,
        batch_size: 16,
        n_epochs: 2,
        learning_rate: 1e-4,
        learning_rate_multiplier: 'auto',
      });
      expect((await server.request('GET', `${T}/fine-tunes/${job.id}`)).body).toMatchObject({
        training_method: { method: 'dpo', ...echoed },
      });
      expect((await server.request('POST', `${T}/fine-tunes/${job.id}/cancel`)).status).toBe(200);
    }
  });
});

describe('models, limits, estimates, preview, chat parameters', () => {
  it('lists models as a bare array and the fine-tuning catalogue with its limits', async () => {
    const models = await server.request('GET', `${T}/models`);
    expect(Array.isArray(models.body)).toBe(true);
    expect((models.body as { id: string }[]).map((m) => m.id)).toContain(MODEL);
    const supported = (await server.request('GET', `${T}/fine-tunes/models/supported`)).body as {
      models: string[];
    };
    expect(supported.models).toEqual(expect.arrayContaining([MODEL, 'Qwen/Qwen2.5-7B-Instruct']));
    const limits = await server.request(
      'GET',
      `${T}/fine-tunes/models/limits?model_name=${encodeURIComponent(MODEL)}`,
    );
    expect(limits.body).toMatchObject({
      model_name: MODEL,
      lora_training: { max_rank: 64, max_batch_size: 32 },
    });
    const unknown = await server.request('GET', `${T}/fine-tunes/models/limits?model_name=nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ message: 'Model nope is not available for fine-tuning.' });
  });

  it('estimates a price locally and previews the tokenized rows', async () => {
    const { location, fileId } = await requestUpload();
    await put(location, chatJsonl(4));
    const estimate = await server.request('POST', `${T}/fine-tunes/estimate-price`, {
      json: { training_file: fileId, model: MODEL, n_epochs: 2 },
    });
    const tokens = Math.ceil(Buffer.byteLength(chatJsonl(4)) / 4) * 2;
    expect(estimate.body).toMatchObject({ estimation_available: true, estimated_train_token_count: tokens });
    const preview = await server.request('POST', `${T}/fine-tunes/preview`, {
      json: { model: MODEL, training_file: fileId, top_k: 2 },
    });
    expect(preview.status).toBe(200);
    const body = preview.body as {
      dataset_format: string;
      rows: {
        input_ids: number[];
        labels: number[];
        num_trained_tokens: number;
        trained_spans: [number, number][];
        tokens: string[];
      }[];
    };
    expect(body.dataset_format).toBe('conversation');
    expect(body.rows).toHaveLength(2);
    const row = body.rows[0]!;
    expect(row.labels).toHaveLength(row.input_ids.length);
    expect(row.tokens).toHaveLength(row.input_ids.length);
    expect(row.num_trained_tokens).toBe(row.labels.filter((l) => l !== -100).length);
    expect(row.num_trained_tokens).toBeGreaterThan(0);
    expect(row.labels[0]).toBe(-100); // the user turn is not trained on
    const [start, end] = row.trained_spans[0]!;
    expect(row.labels.slice(start, end)).toEqual(row.input_ids.slice(start, end));
  });

  it('refuses chat sampling knobs the engine lacks, and an unknown model', async () => {
    const messages = [{ role: 'user', content: 'hi' }];
    const topK = await server.request('POST', `${T}/chat/completions`, {
      json: { model: MODEL, messages, top_k: 40 },
    });
    expect(topK.status).toBe(400);
    expect(errorOf(topK.body).param).toBe('top_k');
    const unknown = await server.request('POST', `${T}/chat/completions`, {
      json: { model: 'nope', messages },
    });
    expect(unknown.status).toBe(404);
  });
});
