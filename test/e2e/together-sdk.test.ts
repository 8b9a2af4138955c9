/**
 * The official `together-ai` SDK (0.52.0, unchanged) against the emulator's Together dialect (issue 12): upload
 * through the signed-URL flow, a LoRA job on a Together model name mapped to the built-in model, list, retrieve,
 * events to `completed`, checkpoints, adapter and merged downloads (also at a checkpoint step), chat with
 * `model_output_name`, cancel a second job, delete, and its typed errors. The same job reads the same through the
 * OpenAI dialect. A DPO job through `training_method` on Together's preference rows trains (its margins grow).
 *
 * Two bugs of the SDK itself are worked around here, in the test harness only (the emulator accepts nothing
 * malformed): its upload PUT streams a file body without `duplex: 'half'`, which Node's fetch refuses before
 * sending (a fetch wrapper adds it), and its ESM build calls `require` (the CJS build is loaded instead).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../emulator/main';
import { chatJsonl, MEMORIZE_QA } from '../memorize-qa';

type TogetherClient = import('together-ai').Together;
type TogetherModule = typeof import('together-ai');

const MODEL = 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference';
const QA = MEMORIZE_QA.slice(0, 12);
let emulator: RunningEmulator;
let dataDir: string;
let workDir: string;
let together: TogetherModule;
let client: TogetherClient;
let base: string;
const realFetch = globalThis.fetch;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tunekit-together-'));
  workDir = mkdtempSync(join(tmpdir(), 'tunekit-together-work-'));
  emulator = await startEmulator({ port: 0, dataDir });
  base = emulator.url.replace(/\/v1$/, '/together/v1');
  // The upload helper reads its own base URL once, when it is first loaded.
  process.env.TOGETHER_API_BASE_URL = base;
  // SDK bug workaround 1: add duplex: 'half' to requests with a streamed body.
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const body = init?.body as unknown;
    const streamed =
      body instanceof Readable || (typeof body === 'object' && body !== null && Symbol.asyncIterator in body);
    return realFetch(input, streamed ? ({ ...init, duplex: 'half' } as RequestInit) : init);
  }) as typeof fetch;
  // SDK bug workaround 2: the CJS build (the ESM one calls `require`).
  together = createRequire(import.meta.url)('together-ai') as TogetherModule;
  client = new together.Together({ apiKey: 'together-key', baseURL: base, maxRetries: 0 });
});

afterAll(async () => {
  globalThis.fetch = realFetch;
  delete process.env.TOGETHER_API_BASE_URL;
  await emulator?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

async function waitFor(id: string, statuses: string[], deadlineMs = 300_000) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const job = await client.fineTuning.retrieve(id);
    if (statuses.includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The names of the files in a tar archive. */
async function tarEntries(bytes: Buffer): Promise<string[]> {
  const names: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const parser = new tar.Parser({
      onReadEntry: (entry) => {
        names.push(entry.path);
        entry.resume();
      },
    });
    parser.on('end', () => resolve());
    parser.on('error', reject);
    parser.end(bytes);
  });
  return names.sort();
}

describe('the together-ai SDK against the emulator', () => {
  it('uploads, trains, follows, downloads, chats, cancels and deletes', async () => {
    const path = join(workDir, 'train.jsonl');
    writeFileSync(path, chatJsonl(QA));
    const file = await client.files.upload(path, 'fine-tune');
    expect(file).toMatchObject({
      object: 'file',
      filename: 'train.jsonl',
      purpose: 'fine-tune',
      FileType: 'jsonl',
      Processed: true,
    });
    expect((await client.files.list()).data.map((f) => f.id)).toContain(file.id);

    const created = await client.fineTuning.create({
      model: MODEL,
      training_file: file.id,
      n_epochs: 6,
      batch_size: 4,
      learning_rate: 2e-3,
      n_checkpoints: 3,
      suffix: 'qa',
      random_seed: 5,
      training_type: { type: 'Lora', lora_r: 8, lora_alpha: 16, lora_trainable_modules: 'all-linear' },
      training_method: { method: 'sft', train_on_inputs: 'auto' },
    });
    expect(created.status).toBe('pending');
    expect(created.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(created.training_type).toMatchObject({ type: 'Lora', lora_r: 8, lora_alpha: 16 });
    expect((await client.fineTuning.list()).data.map((j) => j.id)).toContain(created.id);

    const job = await waitFor(created.id, ['completed', 'error', 'cancelled']);
    expect(job.status, JSON.stringify(job)).toBe('completed');
    const outputName = job.model_output_name as string;
    expect(outputName).toBe(created.model_output_name);
    const events = (await client.fineTuning.listEvents(job.id)).data;
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('job_pending');
    expect(types).toEqual(expect.arrayContaining(['training_start', 'checkpoint_save', 'job_complete']));
    expect(types.at(-1)).toBe('job_complete');
    const metrics = await client.fineTuning.listMetrics(job.id);
    expect(metrics.metrics?.length).toBe(18);
    expect(metrics.metrics?.[0]).toMatchObject({ 'train/global_step': 1 });

    // The same job through the OpenAI dialect.
    const viaOpenAI = (await (
      await realFetch(`${emulator.url}/fine_tuning/jobs/${job.id}`, {
        headers: { authorization: 'Bearer together-key' },
      })
    ).json()) as { status: string; fine_tuned_model: string };
    expect(viaOpenAI).toMatchObject({ status: 'succeeded', fine_tuned_model: outputName });

    const checkpoints = (await client.fineTuning.listCheckpoints(job.id)).data;
    expect(checkpoints.length).toBe(3);
    expect(checkpoints[0]).toMatchObject({ step: 18, checkpoint_type: 'Final', path: outputName });
    const intermediate = checkpoints.find((c) => c.checkpoint_type === 'Intermediate')!;

    const download = async (query: Record<string, unknown>) =>
      Buffer.from(await (await client.fineTuning.content(query as never)).arrayBuffer());
    expect(await tarEntries(await download({ ft_id: job.id, checkpoint: 'adapter' }))).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
    ]);
    expect(await tarEntries(await download({ ft_id: job.id, checkpoint: 'merged' }))).toEqual(
      expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json']),
    );
    const atStep = await download({
      ft_id: job.id,
      checkpoint: 'adapter',
      checkpoint_step: intermediate.step,
    });
    expect(await tarEntries(atStep)).toContain('adapter_model.safetensors');
    expect(atStep.equals(await download({ ft_id: job.id, checkpoint: 'adapter' }))).toBe(false);

    // Range requests on the archive (the Python CLI asks for bytes 0-1 first, to learn the size).
    const url = `${base}/finetune/download?ft_id=${job.id}&checkpoint=adapter`;
    const whole = (await download({ ft_id: job.id, checkpoint: 'adapter' })).length;
    const head = await realFetch(url, {
      headers: { authorization: 'Bearer together-key', range: 'bytes=0-1' },
    });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-range')).toBe(`bytes 0-1/${whole}`);
    expect((await head.arrayBuffer()).byteLength).toBe(2);
    const past = await realFetch(url, {
      headers: { authorization: 'Bearer together-key', range: `bytes=${whole}-` },
    });
    expect(past.status).toBe(416);

    // Continuing from a checkpoint of the job (Together's from_checkpoint, `<job id>:<step>`).
    const continued = await client.fineTuning.create({
      model: MODEL, // the TS SDK's type requires it; from_checkpoint gives the weights
      training_file: file.id,
      from_checkpoint: `${job.id}:${intermediate.step}`,
      n_epochs: 1,
      batch_size: 4,
    });
    expect(continued.from_checkpoint).toBe(`${job.id}:${intermediate.step}`);
    expect(continued.model).toBe(intermediate.path);
    expect((await waitFor(continued.id, ['completed', 'error', 'cancelled'])).status).toBe('completed');

    const chat = await client.chat.completions.create({
      model: outputName,
      messages: [{ role: 'user', content: QA[0]![0] }],
      temperature: 0,
      max_tokens: 8,
    });
    expect(chat.choices[0]?.message?.content).toEqual(expect.any(String));

    // A second job, cancelled; then deleted with the first.
    const second = await client.fineTuning.create({ model: MODEL, training_file: file.id, n_epochs: 50 });
    const cancelled = await client.fineTuning.cancel(second.id);
    expect(['cancel_requested', 'cancelled']).toContain(cancelled.status);
    expect((await client.fineTuning.retrieve(second.id)).status).toBe('cancelled');
    await expect(client.fineTuning.cancel(job.id)).rejects.toBeInstanceOf(together.BadRequestError);
    expect((await client.fineTuning.delete(second.id)).message).toMatch(/deleted/);
    await expect(client.fineTuning.retrieve(second.id)).rejects.toBeInstanceOf(together.NotFoundError);

    // Typed errors.
    await expect(
      client.fineTuning.create({ model: 'no/such-model', training_file: file.id }),
    ).rejects.toBeInstanceOf(together.BadRequestError);
    await expect(client.fineTuning.retrieve('ftjob-missing')).rejects.toBeInstanceOf(together.NotFoundError);
    await expect(
      client.fineTuning.content({ ft_id: job.id, checkpoint: 'adapter', checkpoint_step: 999 }),
    ).rejects.toBeInstanceOf(together.BadRequestError);
  }, 600_000);

  it('trains a DPO job through training_method on Together’s preference rows', async () => {
    const path = join(workDir, 'pairs.jsonl');
    writeFileSync(
      path,
      QA.map(([question, answer], i) =>
        JSON.stringify({
          input: { messages: [{ role: 'user', content: question }] },
          preferred_output: [{ role: 'assistant', content: answer }],
          non_preferred_output: [{ role: 'assistant', content: QA[(i + 1) % QA.length]![1] }],
        }),
      ).join('\n'),
    );
    const file = await client.files.upload(path, 'fine-tune');
    const created = await client.fineTuning.create({
      model: MODEL,
      training_file: file.id,
      validation_file: file.id,
      n_epochs: 8,
      batch_size: 4,
      random_seed: 3,
      training_method: { method: 'dpo', dpo_beta: 0.1 },
    });
    expect(created.training_method).toMatchObject({ method: 'dpo', dpo_beta: 0.1, rpo_alpha: 0 });
    const job = await waitFor(created.id, ['completed', 'error', 'cancelled']);
    expect(job.status, JSON.stringify(job)).toBe('completed');
    const metrics = (await client.fineTuning.listMetrics(job.id)).metrics ?? [];
    expect(metrics.length).toBe(24);
    const first = metrics[0]!;
    const last = metrics.at(-1)!;
    // The policy starts as the reference: margin 0, DPO loss ln 2.
    expect(first['train/rewards/margins']).toBeCloseTo(0, 6);
    expect(first['train/loss']).toBeCloseTo(Math.LN2, 4);
    // The final full validation over the training pairs prefers the preferred answers.
    for (const key of ['train/rewards/chosen', 'train/logps/rejected', 'eval/full_rewards/margins']) {
      expect(Number.isFinite(last[key]), key).toBe(true);
    }
    console.log(
      `together dpo e2e: full validation loss ${last['eval/full_loss']}, accuracy ${last['eval/full_rewards/accuracies']}, margin ${last['eval/full_rewards/margins']}`,
    );
    expect(last['eval/full_loss']!).toBeLessThan(Math.LN2 - 0.1);
    expect(last['eval/full_rewards/accuracies']!).toBeGreaterThanOrEqual(0.75);
    expect(last['eval/full_rewards/margins']!).toBeGreaterThan(0.2);

    // Together's preference rows given to an SFT job: the job fails, naming the line.
    const sft = await client.fineTuning.create({ model: MODEL, training_file: file.id });
    const failed = await waitFor(sft.id, ['completed', 'error', 'cancelled']);
    expect(failed.status).toBe('error');
    expect((failed as { error?: string }).error).toMatch(/Line 1: the file holds preference pairs/);
  }, 600_000);
});
