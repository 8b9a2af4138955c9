/**
 * Reinforcement fine-tuning end to end through the official `openai` SDK: an RFT job on the built-in model with a
 * `text_similarity` (fuzzy_match) grader toward a short target string trains by GRPO on its own samples, and the
 * reward rises (the mean train reward of the last quarter of steps clearly above the first quarter's); the job echoes
 * its resolved hyperparameters, reports OpenAI's RFT metrics plus TRL's, lists a checkpoint at each validation
 * step, and `/fine_tuning/alpha/graders/run` gives a recorded sample the reward it got in training. A row that does
 * not end with a user message fails the job naming its line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningEmulator, startEmulator } from '../../emulator/main';
import { BUILTIN_MODEL } from '../../emulator/worker/models';

let emulator: RunningEmulator;
let dataDir: string;
let openai: OpenAI;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tunekit-rft-'));
  emulator = await startEmulator({ port: 0, dataDir });
  openai = new OpenAI({ apiKey: 'rft-key', baseURL: emulator.url });
});
afterAll(async () => {
  await emulator?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const TARGET = 'aaaaaaaaaaaa';
const grader = {
  type: 'text_similarity' as const,
  name: 'close',
  input: '{{sample.output_text}}',
  reference: '{{item.answer}}',
  evaluation_metric: 'fuzzy_match' as const,
};

async function upload(lines: unknown[], name: string) {
  const text = lines.map((l) => JSON.stringify(l)).join('\n');
  return openai.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'fine-tune' });
}

async function finished(id: string) {
  for (let i = 0; i < 2400; i++) {
    const job = await openai.fineTuning.jobs.retrieve(id);
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`job ${id} did not finish`);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('reinforcement fine-tuning through the openai SDK', () => {
  it('raises the reward of its own samples, with RFT metrics, checkpoints and grader agreement', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => ({
      messages: [{ role: 'user', content: `Question ${i}?` }],
      answer: TARGET,
    }));
    const file = await upload(rows, 'rft.jsonl');
    const created = await openai.fineTuning.jobs.create({
      model: BUILTIN_MODEL,
      training_file: file.id,
      validation_file: file.id,
      seed: 1,
      method: {
        type: 'reinforcement',
        reinforcement: {
          grader,
          hyperparameters: {
            batch_size: 4,
            n_epochs: 6,
            eval_interval: 6,
            // tunekit's GRPO extensions (not in the SDK's type)
            ...({ num_generations: 4, max_completion_tokens: 8 } as object),
          },
        },
      },
    });
    const job = await finished(created.id);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    expect(job.fine_tuned_model).toMatch(/^ft:tunekit-tiny-chat:tunekit::/);
    expect(job.method?.reinforcement?.hyperparameters).toMatchObject({
      batch_size: 4,
      n_epochs: 6,
      eval_interval: 6,
      eval_samples: 1,
      compute_multiplier: 1,
      reasoning_effort: 'default',
      num_generations: 4,
      max_completion_tokens: 8,
    });

    const events = [];
    for await (const event of openai.fineTuning.jobs.listEvents(job.id, { limit: 100 })) events.push(event);
    events.reverse();
    const metrics = events.filter((e) => e.type === 'metrics').map((e) => e.data as Record<string, unknown>);
    expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    const rewards = metrics.map((m) => m.train_mean_reward as number);
    const quarter = rewards.length / 4;
    const first = mean(rewards.slice(0, Math.floor(quarter)));
    const last = mean(rewards.slice(-Math.floor(quarter)));
    expect(last, `train rewards ${rewards.map((r) => r.toFixed(3)).join(' ')}`).toBeGreaterThan(first + 0.1);

    // OpenAI's RFT shape, plus TRL's metrics
    const at6 = events.find((e) => e.type === 'metrics' && (e.data as { step: number }).step === 6);
    expect(at6?.message).toMatch(
      /^Step 6\/18 , train mean reward=\d\.\d\d, full validation mean reward=\d\.\d\d, full validation mean parse error=0\.00$/,
    );
    const d6 = at6?.data as Record<string, unknown>;
    expect(d6).toMatchObject({
      step: 6,
      total_steps: 18,
      full_valid_mean_parse_error: 0,
      scores: { graders: [{ name: 'close', type: 'text_similarity' }] },
      timing: { step: {} },
    });
    for (const key of [
      'reward_std',
      'clip_ratio/region_mean',
      'completions/mean_length',
      'completion_tokens_mean',
    ])
      expect(typeof d6[key], key).toBe('number');
    expect(metrics[1]).not.toHaveProperty('full_valid_mean_reward');

    // a checkpoint at each validation step before the end, then the final model
    const checkpoints = (await openai.fineTuning.jobs.checkpoints.list(job.id)).data;
    expect(checkpoints.map((c) => c.step_number).sort((a, b) => a - b)).toEqual([6, 12, 18]);

    // the grader endpoint agrees with the rewards given in training
    const sampled = events.filter((e) => Array.isArray((e.data as { samples?: unknown })?.samples));
    expect(sampled.length).toBeGreaterThanOrEqual(3);
    let checked = 0;
    for (const event of sampled) {
      for (const s of (event.data as { samples: { output: string; reward: number; item: object }[] })
        .samples) {
        const run = await openai.fineTuning.alpha.graders.run({
          grader,
          model_sample: s.output,
          item: s.item,
        });
        expect(run.reward, s.output).toBeCloseTo(s.reward, 12);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(9);
  }, 240_000);

  it('pause and resume reproduce the uninterrupted run; the best three validation checkpoints are kept', async () => {
    const rows = (n: number, offset: number) =>
      Array.from({ length: n }, (_, i) => ({
        messages: [{ role: 'user', content: `Question ${i + offset}?` }],
        answer: TARGET,
      }));
    const training = await upload(rows(12, 0), 'rft-train.jsonl');
    const validation = await upload(rows(4, 100), 'rft-valid.jsonl');
    const params = {
      model: BUILTIN_MODEL,
      training_file: training.id,
      validation_file: validation.id,
      seed: 5,
      method: {
        type: 'reinforcement' as const,
        reinforcement: {
          grader,
          hyperparameters: {
            batch_size: 4,
            n_epochs: 4,
            eval_interval: 2,
            ...({ num_generations: 2, max_completion_tokens: 4 } as object),
          },
        },
      },
    };
    const whole = await finished((await openai.fineTuning.jobs.create(params)).id);
    expect(whole.status, JSON.stringify(whole.error)).toBe('succeeded');

    const paused = await openai.fineTuning.jobs.create(params);
    for (let i = 0; ; i++) {
      const page = await openai.fineTuning.jobs.listEvents(paused.id, { limit: 100 });
      if (page.data.some((e) => e.type === 'metrics' && (e.data as { step: number }).step >= 3)) break;
      if (i > 2400) throw new Error('no step 3');
      await new Promise((r) => setTimeout(r, 100));
    }
    await openai.fineTuning.jobs.pause(paused.id);
    for (let i = 0; ((await openai.fineTuning.jobs.retrieve(paused.id)).status as string) !== 'paused'; i++) {
      if (i > 2400) throw new Error('not paused');
      await new Promise((r) => setTimeout(r, 100));
    }
    await openai.fineTuning.jobs.resume(paused.id);
    const resumed = await finished(paused.id);
    expect(resumed.status, JSON.stringify(resumed.error)).toBe('succeeded');

    const metricsOf = async (id: string) => {
      const out: Record<string, unknown>[] = [];
      for await (const e of openai.fineTuning.jobs.listEvents(id, { limit: 100 }))
        if (e.type === 'metrics') out.push(e.data as Record<string, unknown>);
      return out.reverse();
    };
    // it really stopped mid-run and went on from a checkpoint
    const messages: string[] = [];
    for await (const e of openai.fineTuning.jobs.listEvents(resumed.id, { limit: 100 }))
      messages.push(e.message);
    const from = messages
      .map((m) => /Resumed training from the checkpoint at step (\d+)/.exec(m)?.[1])
      .find(Boolean);
    expect(Number(from), messages.join('\n')).toBeGreaterThanOrEqual(3);
    expect(Number(from)).toBeLessThan(12);
    const [a, b] = [await metricsOf(whole.id), await metricsOf(resumed.id)];
    expect(b.map((m) => m.step)).toEqual(a.map((m) => m.step));
    expect(b.map((m) => [m.train_mean_reward, m.full_valid_mean_reward, m.loss])).toEqual(
      a.map((m) => [m.train_mean_reward, m.full_valid_mean_reward, m.loss]),
    );
    // the same adapter bytes
    const adapters = (await (
      await fetch(`${emulator.url}/adapters?limit=100`, { headers: { authorization: 'Bearer rft-key' } })
    ).json()) as { data: { id: string; fine_tuned_model: string }[] };
    const bytes = (model: string | null) => {
      const adapter = adapters.data.find((x) => x.fine_tuned_model === model);
      expect(adapter, String(model)).toBeDefined();
      return readFileSync(join(dataDir, 'adapters', adapter!.id, 'adapter_model.safetensors'));
    };
    expect(bytes(resumed.fine_tuned_model).equals(bytes(whole.fine_tuned_model))).toBe(true);

    // validations at 2, 4, …, 12; listed checkpoints: the best three of 2…10 by valid reward, and the final model
    const valid = new Map(a.filter((m) => m.full_valid_mean_reward !== undefined).map((m) => [m.step, m]));
    expect([...valid.keys()]).toEqual([2, 4, 6, 8, 10, 12]);
    const listed = (await openai.fineTuning.jobs.checkpoints.list(whole.id)).data;
    const intermediate = listed.filter((c) => c.step_number !== 12);
    expect(intermediate).toHaveLength(3);
    const kept = new Set(intermediate.map((c) => c.step_number));
    const reward = (step: number) => valid.get(step)?.full_valid_mean_reward as number;
    for (const c of intermediate)
      expect((c.metrics as { valid_reward_mean?: number }).valid_reward_mean).toBe(reward(c.step_number));
    for (const step of [2, 4, 6, 8, 10].filter((s) => !kept.has(s)))
      for (const k of kept) expect(reward(k)).toBeGreaterThanOrEqual(reward(step));
  }, 240_000);

  it('fails a job whose row does not end with a user message, naming the line', async () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({
      messages: [{ role: 'user', content: `Q${i}` }],
      answer: 'x',
    }));
    rows[6]!.messages.push({ role: 'assistant', content: 'answered already' });
    const file = await upload(rows, 'bad-rft.jsonl');
    const created = await openai.fineTuning.jobs.create({
      model: BUILTIN_MODEL,
      training_file: file.id,
      method: { type: 'reinforcement', reinforcement: { grader } },
    });
    const job = await finished(created.id);
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'invalid_training_file', param: 'training_file' });
    expect(job.error?.message).toMatch(/Line 7: the last message has role assistant/);
  });
});
