/**
 * Fine-tuning a fine-tuned model (issue 12, item 2): a second SFT job on `model: "ft:…"` trains a new adapter on
 * the first job's adapter merged into the base, so it starts where the first ended — its loss at step 1 is the
 * first job's final loss (within batch noise, far below the base model's), and after a few more steps it still
 * gives the first job's answers. A job may also start from an `ft:…:ckpt-step-N` checkpoint model. The chained
 * model's merged download answers as the chained model does.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../emulator/main';
import { BUILTIN_MODEL } from '../../emulator/worker/models';
import Tunekit, { toFile } from '../../src/index';
import { chatJsonl, MEMORIZE_QA } from '../memorize-qa';

const QA = MEMORIZE_QA.slice(0, 12);
let emulator: RunningEmulator;
let dataDir: string;
let modelsDir: string;
let client: Tunekit;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tunekit-ft-chain-'));
  modelsDir = mkdtempSync(join(tmpdir(), 'tunekit-ft-chain-models-'));
  emulator = await startEmulator({ port: 0, dataDir, modelsDir });
  client = new Tunekit({ apiKey: 'ft-chain-key', baseURL: emulator.url });
});
afterAll(async () => {
  await emulator?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(modelsDir, { recursive: true, force: true });
});

/** Runs a job to its end and returns it with its per-step training losses. */
async function train(model: string, trainingFile: string, hyperparameters: Record<string, number>) {
  const created = await client.fineTuning.jobs.create({
    model,
    training_file: trainingFile,
    seed: 11,
    method: { type: 'supervised', supervised: { hyperparameters } },
  });
  const job = await client.fineTuning.jobs.wait(created.id);
  expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
  const losses: number[] = [];
  for await (const event of client.fineTuning.jobs.listEvents(created.id)) {
    const data = event.data as { step?: number; train_loss?: number } | null;
    if (event.type === 'metrics' && data?.step !== undefined)
      losses[data.step - 1] = data.train_loss as number;
  }
  return { job, losses };
}

async function answers(model: string): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (const [question] of QA) {
    const completion = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: question }],
      temperature: 0,
      max_completion_tokens: 16,
    });
    out.push(completion.choices[0]?.message.content ?? null);
  }
  return out;
}

const exact = (got: (string | null)[]) => got.filter((answer, i) => answer === QA[i]?.[1]).length;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('fine-tuning a fine-tuned model', () => {
  it('continues from the ft: adapter: step-1 loss ≈ the first job’s final loss, its answers survive', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from(chatJsonl(QA)), 'qa.jsonl'),
      purpose: 'fine-tune',
    });
    // 12 examples, batch 4: 3 steps per epoch; 40 epochs learn the answers by heart.
    const first = await train(BUILTIN_MODEL, file.id, { batch_size: 4, n_epochs: 40 });
    const firstModel = first.job.fine_tuned_model as string;
    const firstAnswers = await answers(firstModel);
    expect(exact(firstAnswers), JSON.stringify(firstAnswers)).toBeGreaterThanOrEqual(10);

    const second = await train(firstModel, file.id, { batch_size: 4, n_epochs: 2 });
    const secondModel = second.job.fine_tuned_model as string;
    expect(secondModel).toMatch(new RegExp(`^ft:${BUILTIN_MODEL}:tunekit::`));
    const finalEpoch = first.losses.slice(-3); // the last epoch: the same 12 examples as any epoch of the second
    const figures = {
      baseStep1: first.losses[0],
      firstFinalEpoch: finalEpoch,
      secondStep1: second.losses[0],
      secondLosses: second.losses,
    };
    console.log(`ft-continuation: ${JSON.stringify(figures)}`);
    // From the base model the first step's loss is several nats; from the ft: model it is where the first ended,
    // within the spread of the first job's last-epoch batches (or 10 %).
    expect(first.losses[0]).toBeGreaterThan(2 * mean(finalEpoch));
    const noise = Math.max(Math.max(...finalEpoch) - Math.min(...finalEpoch), 0.1 * mean(finalEpoch));
    expect(
      Math.abs((second.losses[0] as number) - mean(finalEpoch)),
      JSON.stringify(figures),
    ).toBeLessThanOrEqual(noise);
    const secondAnswers = await answers(secondModel);
    console.log(
      `ft-continuation answers: first ${exact(firstAnswers)}/12, second ${exact(secondAnswers)}/12`,
    );
    expect(exact(secondAnswers), JSON.stringify(secondAnswers)).toBeGreaterThanOrEqual(
      exact(firstAnswers) - 1,
    );

    // A checkpoint model is a starting point too.
    const checkpoints = await client.fineTuning.jobs.checkpoints.list(first.job.id);
    const checkpoint = checkpoints.data.find((c) => c.fine_tuned_model_checkpoint !== firstModel);
    expect(checkpoint?.fine_tuned_model_checkpoint).toMatch(/:ckpt-step-\d+$/);
    const fromCheckpoint = await train(checkpoint!.fine_tuned_model_checkpoint, file.id, {
      batch_size: 4,
      n_epochs: 1,
    });
    expect(fromCheckpoint.losses[0]).toBeLessThan((first.losses[0] as number) / 2);

    // The chained adapter's merged download (its base: the first adapter merged in) answers as the chained model.
    const adapters = await client.adapters.list({ fine_tuning_job_id: second.job.id });
    const adapter = adapters.data.find((a) => a.fine_tuned_model === secondModel)!;
    const mergedDir = join(modelsDir, 'chained');
    mkdirSync(mergedDir);
    await client.adapters.download(adapter.id, mergedDir, { format: 'merged' });
    expect(await answers('chained')).toEqual(secondAnswers);
  }, 600_000);
});
