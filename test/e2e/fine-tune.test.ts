/**
 * Issue 4, "Done when": upload a small chat dataset, fine-tune the built-in model, stream the events and see
 * the loss fall, download the adapter and load it in the engine. Through our SDK, every response checked
 * against openapi.yaml.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../emulator/main';
import { BUILTIN_MODEL } from '../../emulator/worker/models';
import { builtinModelDir, evaluate } from '../../native/index';
import Tunekit, { toFile } from '../../src/index';
import { checkStreamedEvent, validatingFetch } from '../emulator/server/openapi-validator';
import { qaDataset } from './helpers';

let emulator: RunningEmulator;
let dataDir: string;
let workDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tunekit-e2e-'));
  workDir = mkdtempSync(join(tmpdir(), 'tunekit-e2e-work-'));
  emulator = await startEmulator({ port: 0, dataDir });
});
afterAll(async () => {
  await emulator?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

describe('fine-tuning end to end', () => {
  it('trains the built-in model, streams a falling loss, and yields an adapter the engine loads', async () => {
    const client = new Tunekit({ apiKey: 'e2e-key', baseURL: emulator.url, fetch: validatingFetch() });
    const file = await client.files.create({
      file: await toFile(Buffer.from(qaDataset()), 'qa.jsonl'),
      purpose: 'fine-tune',
    });
    const created = await client.fineTuning.jobs.create({
      model: BUILTIN_MODEL,
      training_file: file.id,
      suffix: 'qa',
      seed: 1234,
      method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 3, batch_size: 4 } } },
    });
    expect(created.status).toBe('validating_files');

    const losses: number[] = [];
    const messages: string[] = [];
    for await (const event of client.fineTuning.jobs.streamEvents(created.id)) {
      checkStreamedEvent(event);
      messages.push(event.message);
      if (event.type === 'metrics') losses.push((event.data as { train_loss: number }).train_loss);
    }
    expect(messages[0]).toBe(`Created fine-tuning job: ${created.id}`);
    expect(messages).toContain('Fine-tuning job started');
    expect(messages.at(-1)).toBe('The job has successfully completed');
    expect(losses).toHaveLength(15);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)) * 0.8);

    const job = await client.fineTuning.jobs.retrieve(created.id);
    expect(job).toMatchObject({ status: 'succeeded', error: null, model: BUILTIN_MODEL });
    expect(job.fine_tuned_model).toMatch(new RegExp(`^ft:${BUILTIN_MODEL}:[^:]+:qa:[A-Za-z0-9]{8}$`));
    expect(job.trained_tokens).toBeGreaterThan(0);
    expect(job.hyperparameters).toEqual({
      n_epochs: 3,
      batch_size: 4,
      learning_rate_multiplier: expect.any(Number),
    });

    const csv = await (await client.files.content(job.result_files[0]!)).text();
    expect(csv.split('\n')[0]).toBe('step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy');

    const checkpoints = [];
    for await (const checkpoint of client.fineTuning.jobs.checkpoints.list(job.id))
      checkpoints.push(checkpoint);
    expect(checkpoints[0]?.fine_tuned_model_checkpoint).toBe(job.fine_tuned_model);
    expect(checkpoints[0]?.step_number).toBe(15);

    const adapters = [];
    for await (const adapter of client.adapters.list({ fine_tuning_job_id: job.id })) adapters.push(adapter);
    const final = adapters.find((a) => a.fine_tuned_model === job.fine_tuned_model);
    expect(final).toMatchObject({ base_model: BUILTIN_MODEL, step: 15, peft_type: 'LORA' });
    const adapterDir = join(workDir, 'adapter');
    const written = await client.adapters.download(final!.id, adapterDir);
    expect(written.map((p) => p.slice(adapterDir.length + 1))).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
    ]);
    expect(readFileSync(join(adapterDir, 'adapter_model.safetensors')).length).toBe(final!.bytes);

    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models).toContain(job.fine_tuned_model);

    // Load it in the engine: on the job's own token file, the adapter must beat the base model.
    const tokensPath = join(dataDir, 'jobs', job.id, 'train.tokens');
    expect(existsSync(tokensPath)).toBe(true);
    const base = await evaluate({ modelDir: builtinModelDir(), tokensPath });
    const tuned = await evaluate({ modelDir: builtinModelDir(), adapterDir, tokensPath });
    expect(tuned.loss).toBeLessThan(base.loss);
    expect(tuned.loss).toBeLessThan(losses[0]!);
  }, 240_000);
});
