/**
 * The SFT → DPO recipe end to end through the official `openai` SDK: a supervised job teaches the built-in model a
 * set of answers, then DPO jobs start from its `ft:` model and from one of its `ft:…:ckpt-step-N` checkpoints. The
 * DPO job's starting policy must be the SFT result, not the base: at step 1 (policy = reference = the starting
 * model, the whole set in one batch) `logps/chosen` is minus the summed log-prob of the preferred answers, which
 * the SFT job measured as its token-mean loss on the same answers (plain-text rows on both sides, so the same
 * tokens are trained and scored). Every preferred answer has the same token count L, so `logps/chosen = -L × loss`
 * for any model; L is read off the base model (a DPO job on it, and the SFT job's step-1 loss) and then predicts
 * the `ft:` job's step 1 from the SFT job's final full-validation loss, and the checkpoint job's from the SFT loss
 * at the step after the checkpoint. Chat with the DPO-tuned model gives the preferred answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../emulator/main';
import { BUILTIN_MODEL } from '../../emulator/worker/models';

// Ten questions (the minimum file size); every preferred and every non-preferred answer is five characters long.
const QA: readonly [string, string, string][] = [
  ['Capital of Norway?', 'Oslo.', 'Rome.'],
  ['Capital of Peru?', 'Lima.', 'Kyiv.'],
  ['Capital of Egypt?', 'Cairo', 'Paris'],
  ['Colour of the sky?', 'Blue.', 'Pink.'],
  ['Colour of grass?', 'Green', 'Brown'],
  ['Colour of snow?', 'White', 'Black'],
  ['Capital of Italy?', 'Rome.', 'Oslo.'],
  ['Largest planet?', 'Giant', 'Small'],
  ['Smallest prime?', 'Two..', 'Nine.'],
  ['Opposite of hot?', 'Cold.', 'Warm.'],
];
const N = QA.length;

let emulator: RunningEmulator;
let dataDir: string;
let openai: OpenAI;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tunekit-sft-dpo-'));
  emulator = await startEmulator({ port: 0, dataDir });
  openai = new OpenAI({ apiKey: 'sft-dpo-key', baseURL: emulator.url });
});
afterAll(async () => {
  await emulator?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The prompt as the built-in model's ChatML template renders a user turn with the generation prompt. */
const chatml = (question: string) => `<|im_start|>user\n${question}<|im_end|>\n<|im_start|>assistant\n`;
// Plain text on both sides (OpenAI's legacy prompt/completion rows, TRL's prompt/chosen/rejected): the answer's
// tokens and the end-of-sequence token are trained and scored alike, which the log-prob identity needs.
const sftJsonl = () => QA.map(([q, a]) => JSON.stringify({ prompt: chatml(q), completion: a })).join('\n');
const pairsJsonl = () =>
  QA.map(([q, a, b]) => JSON.stringify({ prompt: chatml(q), chosen: a, rejected: b })).join('\n');

async function upload(text: string, name: string) {
  return openai.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'fine-tune' });
}

type Metrics = Record<string, number>;

/** Creates a job, waits for it to succeed and returns it with its metrics events by step (1-based). */
async function run(params: OpenAI.FineTuning.JobCreateParams) {
  const created = await openai.fineTuning.jobs.create(params);
  let job = created;
  for (let i = 0; i < 2400 && !['succeeded', 'failed', 'cancelled'].includes(job.status); i++) {
    await new Promise((r) => setTimeout(r, 250));
    job = await openai.fineTuning.jobs.retrieve(created.id);
  }
  expect(job.status, `${job.id}: ${JSON.stringify(job.error)}`).toBe('succeeded');
  const steps: Metrics[] = [];
  for await (const event of openai.fineTuning.jobs.listEvents(job.id, { limit: 100 })) {
    const data = event.data as Metrics | null;
    if (event.type === 'metrics' && data?.step !== undefined) steps[data.step] = data;
  }
  return { job, steps };
}

const dpo = (hyperparameters: Record<string, number>) =>
  ({ type: 'dpo', dpo: { hyperparameters } }) as OpenAI.FineTuning.JobCreateParams['method'];

async function greedy(model: string, question: string) {
  const r = await openai.chat.completions.create({
    model,
    messages: [{ role: 'user', content: question }],
    temperature: 0,
    max_completion_tokens: 8,
  });
  return r.choices[0]?.message.content ?? null;
}

describe('SFT then DPO through the openai SDK', () => {
  it('starts DPO from the ft: model and from its checkpoint, and the result chats', async () => {
    const sftFile = await upload(sftJsonl(), 'sft.jsonl');
    const pairs = await upload(pairsJsonl(), 'pairs.jsonl');
    const EPOCHS = 50; // the whole set in one batch: one step per epoch, checkpoints after the last three
    const sft = await run({
      model: BUILTIN_MODEL,
      training_file: sftFile.id,
      validation_file: sftFile.id,
      seed: 5,
      method: {
        type: 'supervised',
        supervised: { hyperparameters: { batch_size: N, n_epochs: EPOCHS, learning_rate_multiplier: 2 } },
      },
    });
    const sftModel = sft.job.fine_tuned_model!;
    const sftFinal = sft.steps[EPOCHS]!.full_valid_loss!;
    expect(sftFinal).toBeLessThan(sft.steps[1]!.train_loss! / 3); // it learned the answers

    const onBase = await run({
      model: BUILTIN_MODEL,
      training_file: pairs.id,
      seed: 5,
      method: dpo({ beta: 0.1, batch_size: N, n_epochs: 1 }),
    });
    // tokens per preferred answer, from the base model: its summed log-prob over its token-mean loss
    const tokens = -onBase.steps[1]!['logps/chosen']! / sft.steps[1]!.train_loss!;
    expect(Math.abs(tokens - Math.round(tokens)), `tokens per answer ${tokens}`).toBeLessThan(1e-3);
    const L = Math.round(tokens);

    const onSft = await run({
      model: sftModel,
      training_file: pairs.id,
      validation_file: pairs.id,
      seed: 5,
      method: dpo({ beta: 0.1, batch_size: N, n_epochs: 8, rpo_alpha: 1 }),
    });
    const first = onSft.steps[1]!;
    const expected = -L * sftFinal;
    console.log(
      `sft-dpo: L ${L}; step-1 logps/chosen base ${onBase.steps[1]!['logps/chosen']}, ` +
        `on ${sftModel} ${first['logps/chosen']} (SFT final loss predicts ${expected})`,
    );
    expect(first['logps/chosen']).toBeCloseTo(expected, 3);
    expect(Math.abs(first['logps/chosen']! - onBase.steps[1]!['logps/chosen']!)).toBeGreaterThan(
      Math.abs(expected) * 2,
    );
    expect(first['rewards/margins']).toBe(0); // the reference is the starting policy
    expect(onSft.job.fine_tuned_model).toMatch(new RegExp(`^ft:${BUILTIN_MODEL}:`));
    const last = onSft.steps.at(-1)!;
    expect(last['full_valid_rewards/accuracies']).toBeGreaterThanOrEqual(0.9);

    // a checkpoint model: DPO starts from the SFT weights at that step
    const checkpoints = await openai.fineTuning.jobs.checkpoints.list(sft.job.id);
    const checkpoint = checkpoints.data.reduce((a, b) => (b.step_number < a.step_number ? b : a));
    expect(checkpoint.step_number).toBeLessThan(EPOCHS);
    expect(checkpoint.fine_tuned_model_checkpoint).toMatch(/:ckpt-step-\d+$/);
    const onCheckpoint = await run({
      model: checkpoint.fine_tuned_model_checkpoint,
      training_file: pairs.id,
      seed: 5,
      method: dpo({ beta: 0.1, batch_size: N, n_epochs: 1 }),
    });
    // the SFT loss at the step after the checkpoint is the checkpoint's loss on the whole set
    const atCheckpoint = -L * sft.steps[checkpoint.step_number + 1]!.train_loss!;
    console.log(
      `sft-dpo: from ${checkpoint.fine_tuned_model_checkpoint} step-1 logps/chosen ` +
        `${onCheckpoint.steps[1]!['logps/chosen']} (SFT predicts ${atCheckpoint})`,
    );
    expect(onCheckpoint.steps[1]!['logps/chosen']).toBeCloseTo(atCheckpoint, 3);
    expect(atCheckpoint).not.toBeCloseTo(expected, 3);

    let right = 0;
    for (const [question, answer] of QA)
      if ((await greedy(onSft.job.fine_tuned_model!, question)) === answer) right++;
    console.log(`sft-dpo: greedy preferred answers ${right}/${N}`);
    expect(right).toBeGreaterThanOrEqual(8);
  }, 600_000);
});
