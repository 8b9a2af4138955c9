/**
 * Chat with a fully fine-tuned model (training_type full: a model folder of its own, no adapter), through our SDK:
 * it is served like a base model, for the key that trained it only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../emulator/main';
import { BUILTIN_MODEL } from '../../emulator/worker/models';
import Tunekit, { NotFoundError, toFile } from '../../src/index';
import { validatingFetch } from '../emulator/server/openapi-validator';
import { qaDataset } from './helpers';

let emulator: RunningEmulator;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tunekit-chat-models-'));
  emulator = await startEmulator({ port: 0, dataDir });
});
afterAll(async () => {
  await emulator?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('chat with a fully fine-tuned model', () => {
  it('serves the trained model folder, and only to its own key', async () => {
    const tunekit = new Tunekit({ apiKey: 'full-ft', baseURL: emulator.url, fetch: validatingFetch() });
    const file = await tunekit.files.create({
      file: await toFile(Buffer.from(qaDataset()), 'qa.jsonl'),
      purpose: 'fine-tune',
    });
    const created = await tunekit.fineTuning.jobs.create({
      model: BUILTIN_MODEL,
      training_file: file.id,
      seed: 3,
      training_type: { type: 'full' },
      method: { type: 'supervised', supervised: { hyperparameters: { batch_size: 10, n_epochs: 2 } } },
    });
    for await (const _event of tunekit.fineTuning.jobs.streamEvents(created.id));
    const job = await tunekit.fineTuning.jobs.retrieve(created.id);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const model = job.fine_tuned_model!;
    const ask = {
      messages: [{ role: 'user' as const, content: 'Code word for item 3?' }],
      temperature: 0,
      max_tokens: 8,
    };
    const tuned = await tunekit.chat.completions.create({ model, ...ask });
    const base = await tunekit.chat.completions.create({ model: BUILTIN_MODEL, ...ask });
    expect(tuned.model).toBe(model);
    // Other weights, other answer: the base model rambles to the length limit, the trained one has learnt to
    // end its turn after a short answer.
    expect(base.choices[0]?.finish_reason).toBe('length');
    expect(tuned.choices[0]?.finish_reason).toBe('stop');
    expect(tuned.choices[0]?.message.content).not.toBe(base.choices[0]?.message.content);
    expect(tuned.system_fingerprint).not.toBe(base.system_fingerprint);
    const stranger = new Tunekit({ apiKey: 'full-ft-other', baseURL: emulator.url, maxRetries: 0 });
    await expect(stranger.chat.completions.create({ model, ...ask })).rejects.toBeInstanceOf(NotFoundError);
  }, 240_000);
});
