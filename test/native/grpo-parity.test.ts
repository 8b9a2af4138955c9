// GRPO against TRL 1.13's GRPOTrainer._compute_loss (test/fixtures/grpo/make_grpo_fixtures.py): fixed prompts,
// teacher-forced completions and fixed rewards on llama-tiny with its LoRA init; for each loss_type with beta 0 and
// 0.1 (and two cases at sampling temperatures 0.7 and 1.5, which scale the logits of the log-probs), the loss of both
// optimizer steps and the adapter after the second step match to 1e-4.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ObjectiveOptions, type TrainProgress, train, writeTokenFile } from '../../native/index';
import { readF32Safetensors, tempDir } from './helpers';

const fixtures = join(import.meta.dirname, '..', 'fixtures');

interface Fixture {
  meta: { num_generations: number; learning_rate: number; max_completion_length: number; tolerance: number };
  rows: Array<{ prompt: number[]; completion: number[]; reward: number }>;
  cases: Array<{
    loss_type: NonNullable<ObjectiveOptions['grpoLossType']>;
    beta: number;
    /** The sampling temperature (TRL divides the logits by it); 1 where absent. */
    temperature?: number;
    losses: number[];
    lora: Record<string, { head: number[]; sum: number; norm: number }>;
  }>;
}

const fixture = JSON.parse(readFileSync(join(fixtures, 'grpo', 'grpo.json'), 'utf8')) as Fixture;
const tmp = tempDir('grpo-parity');
const tokens = join(tmp.path, 'rollouts.tok');

beforeAll(async () => {
  await writeTokenFile(
    tokens,
    fixture.rows.map(({ prompt, completion }) => ({
      inputIds: [...prompt, ...completion],
      labels: [...prompt.map(() => -100), ...completion],
    })),
  );
});
afterAll(() => tmp.remove());

describe('grpo matches TRL GRPOTrainer', () => {
  for (const c of fixture.cases) {
    const temperature = c.temperature ?? 1;
    it(`${c.loss_type}, beta ${c.beta}, temperature ${temperature}`, async () => {
      const { meta } = fixture;
      const progress: TrainProgress[] = [];
      const result = await train(
        {
          modelDir: join(fixtures, 'llama-tiny', 'model'),
          initAdapterDir: join(fixtures, 'llama-tiny', 'lora_init'),
          outputDir: join(tmp.path, `${c.loss_type}-${c.beta}-${temperature}`),
          trainTokens: tokens,
          batchSize: fixture.rows.length / meta.num_generations, // every group in one step, as the fixture
          nEpochs: 2,
          maxSeqLen: 64,
          learningRate: meta.learning_rate,
          lrScheduler: 'constant',
          maxGradNorm: 1,
          weightDecay: 0,
          threads: 2,
          objective: {
            method: 'grpo',
            grpoLossType: c.loss_type,
            beta: c.beta,
            numGenerations: meta.num_generations,
            maxCompletionLength: meta.max_completion_length,
            rewards: fixture.rows.map((row) => row.reward),
            temperature,
          },
        },
        (p) => progress.push(p),
      );
      expect(progress.map((p) => p.trainLoss).length).toBe(2);
      progress.forEach((p, i) => {
        expect(
          Math.abs(p.trainLoss - c.losses[i]!),
          `loss of step ${i + 1}: ${p.trainLoss} vs ${c.losses[i]}`,
        ).toBeLessThanOrEqual(meta.tolerance);
      });
      const adapter = readF32Safetensors(join(result.outputDir, 'adapter_model.safetensors'));
      let worst = 0;
      for (const [name, expected] of Object.entries(c.lora)) {
        const data = adapter.get(name)?.data;
        expect(data, name).toBeDefined();
        let sum = 0;
        let squares = 0;
        for (const v of data!) {
          sum += v;
          squares += v * v;
        }
        // the sum's difference as a mean per element, so the measure does not grow with the tensor
        const diffs = [
          Math.abs(sum - expected.sum) / data!.length,
          Math.abs(Math.sqrt(squares) - expected.norm),
        ];
        for (const [i, v] of expected.head.entries()) diffs.push(Math.abs(data![i]! - v));
        worst = Math.max(worst, ...diffs);
      }
      expect(worst).toBeLessThanOrEqual(meta.tolerance);
      expect(Object.keys(c.lora).length).toBe(28);
      expect(progress[1]!.metrics.reward).toBeCloseTo(
        fixture.rows.reduce((s, r) => s + r.reward, 0) / fixture.rows.length,
        12,
      );
      if (c.beta > 0) expect(progress[1]!.metrics.kl).toBeGreaterThan(0); // 0 at step 1: the reference is the start
    });
  }
});

describe('grpo options', () => {
  const base = () => ({
    modelDir: join(fixtures, 'llama-tiny', 'model'),
    outputDir: join(tmp.path, 'bad'),
    trainTokens: tokens,
    batchSize: 2,
    maxSeqLen: 64,
    threads: 2,
  });
  it('refuses an unknown loss type, too few generations and rewards that do not fit the rows', async () => {
    const rewards = fixture.rows.map((row) => row.reward);
    await expect(
      train({ ...base(), objective: { method: 'grpo', grpoLossType: 'nope' as 'dapo', rewards } }),
    ).rejects.toThrow(/loss_type 'nope' is not supported for grpo/);
    await expect(
      train({ ...base(), objective: { method: 'grpo', numGenerations: 1, rewards } }),
    ).rejects.toThrow(TypeError);
    await expect(
      train({ ...base(), objective: { method: 'grpo', numGenerations: 4, rewards: rewards.slice(1) } }),
    ).rejects.toThrow(/7 rewards for a token file of 8 rows/);
    await expect(
      train({ ...base(), objective: { method: 'grpo', numGenerations: 3, rewards } }),
    ).rejects.toThrow(/groups of num_generations \(3\)/);
  });
});
