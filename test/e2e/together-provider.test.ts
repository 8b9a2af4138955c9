/**
 * tunekit's SDK with `provider: 'together'` against the emulator's Together dialect (/together/v1): the
 * signed-URL upload, a LoRA job with Together's own options, `wait` (polling: Together has no event stream),
 * events, checkpoints, adapter downloads (final and at a step), chat with the output model, cancel, the typed
 * 400, and UnsupportedFeatureError for pause.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../emulator/main';
import { BadRequestError, Tunekit, UnsupportedFeatureError } from '../../src/index';
import { chatJsonl, MEMORIZE_QA } from '../memorize-qa';

const MODEL = 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference';
const QA = MEMORIZE_QA.slice(0, 12);
let emulator: RunningEmulator;
let dataDir: string;
let workDir: string;
let client: Tunekit;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tunekit-together-provider-'));
  workDir = mkdtempSync(join(tmpdir(), 'tunekit-together-provider-work-'));
  emulator = await startEmulator({ port: 0, dataDir });
  client = new Tunekit({
    provider: 'together',
    apiKey: 'together-key',
    baseURL: emulator.url.replace(/\/v1$/, '/together/v1'),
    maxRetries: 0,
  });
});
afterAll(async () => {
  await emulator?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

describe('the together provider against the emulator', () => {
  it('uploads, trains, follows, downloads and chats', async () => {
    const path = join(workDir, 'train.jsonl');
    writeFileSync(path, chatJsonl(QA));
    const file = await client.files.create({ file: path, purpose: 'fine-tune' });
    expect(file).toMatchObject({
      object: 'file',
      filename: 'train.jsonl',
      purpose: 'fine-tune',
      status: 'processed',
    });

    const created = await client.fineTuning.jobs.create({
      model: MODEL,
      training_file: file.id,
      seed: 5,
      n_checkpoints: 2,
      method: {
        type: 'supervised',
        supervised: { hyperparameters: { n_epochs: 4, batch_size: 4, learning_rate: 2e-3 } },
      },
      training_type: { type: 'lora', r: 8, alpha: 16 },
      together: { lora_trainable_modules: 'q_proj,v_proj', n_evals: 0 },
    });
    expect(created).toMatchObject({
      status: 'validating_files',
      training_type: { type: 'lora', r: 8, alpha: 16, target_modules: ['q_proj', 'v_proj'] },
    });
    expect((await client.fineTuning.jobs.list()).data.map((j) => j.id)).toContain(created.id);

    const messages: string[] = [];
    const job = await client.fineTuning.jobs.wait(created.id, {
      pollInterval: 200,
      onEvent: (e) => messages.push(e.message),
    });
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.fine_tuned_model).toEqual(expect.any(String));
    expect(messages.length).toBeGreaterThan(3);
    const events = await client.fineTuning.jobs.listEvents(job.id, { limit: 100 });
    expect(events.data[0]!.data).toMatchObject({ together_type: 'job_complete' });

    const checkpoints = (await client.fineTuning.jobs.checkpoints.list(job.id)).data;
    expect(checkpoints.length).toBe(2);
    expect(checkpoints[0]!.step_number).toBe(12);
    expect(checkpoints[1]!.fine_tuned_model_checkpoint).toBe(`${job.id}:${checkpoints[1]!.step_number}`);
    const adapter = await client.adapters.download(job.id, join(workDir, 'final'));
    expect(adapter.map((f) => f.slice(join(workDir, 'final').length + 1))).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
    ]);
    await client.adapters.download(
      checkpoints[1]!.fine_tuned_model_checkpoint,
      join(workDir, 'intermediate'),
    );
    expect(readdirSync(join(workDir, 'intermediate')).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
    ]);

    const chat = await client.chat.completions.create({
      model: job.fine_tuned_model!,
      messages: [{ role: 'user', content: QA[0]![0] }],
      temperature: 0,
      max_tokens: 8,
    });
    expect(chat.choices[0]!.message.content).toEqual(expect.any(String));

    const second = await client.fineTuning.jobs.create({ model: MODEL, training_file: file.id });
    expect(() => client.fineTuning.jobs.pause(second.id)).toThrow(UnsupportedFeatureError);
    expect((await client.fineTuning.jobs.cancel(second.id)).status).toBe('cancelled');
    const bad = await client.fineTuning.jobs
      .create({ model: MODEL, training_file: file.id, training_type: { type: 'lora', r: 999 } })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect((bad as BadRequestError).param).toBe('training_type.lora_r');
  }, 300_000);
});
