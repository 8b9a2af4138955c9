import { describe, expect, it } from 'vitest';
import type { FineTuningJob } from '../../../emulator/contract/jobs';
import {
  autoBatchSize,
  autoEpochs,
  checkpointPlan,
  estimateTotalSteps,
  resolveSettings,
} from '../../../emulator/worker/hyperparameters';
import { BUILTIN_MODEL } from '../../../emulator/worker/models';

function job(
  hyperparameters: Record<string, unknown> = {},
  extra: Partial<FineTuningJob> = {},
): FineTuningJob {
  return {
    seed: 7,
    method: { type: 'supervised', supervised: { hyperparameters } },
    training_type: null,
    ...extra,
  } as FineTuningJob;
}

describe('auto hyperparameters', () => {
  it('follows the hosted service’s epoch and batch rules for local models', () => {
    expect(autoEpochs(10)).toBe(10);
    expect(autoEpochs(20)).toBe(5);
    expect(autoEpochs(100)).toBe(3);
    expect(autoEpochs(20_000)).toBe(1);
    expect(autoBatchSize(20)).toBe(1);
    expect(autoBatchSize(5000)).toBe(10);
    expect(autoBatchSize(1_000_000)).toBe(256);
    const s = resolveSettings(job(), {
      nExamples: 100,
      localModelId: 'Qwen/Qwen2.5-0.5B-Instruct',
      modelMaxLength: 32768,
    });
    expect(s).toMatchObject({
      nEpochs: 3,
      batchSize: 1,
      learningRate: 2e-4,
      maxSeqLength: 2048,
      nCheckpoints: 3,
      seed: 7,
    });
    expect(s.lora).toEqual({
      r: 16,
      alpha: 32,
      dropout: 0,
      useRslora: false,
      targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    });
  });

  it('gives the built-in model about 150 steps of third-of-the-set batches at 2e-3', () => {
    const s = resolveSettings(job(), { nExamples: 20, localModelId: BUILTIN_MODEL, modelMaxLength: 1024 });
    expect(s).toMatchObject({ batchSize: 7, nEpochs: 50, learningRate: 2e-3, maxSeqLength: 1024 });
    expect(estimateTotalSteps(s, { nExamples: 20, nTokens: 800 })).toBe(150);
  });

  it('keeps explicit values and scales the learning rate by the multiplier', () => {
    const s = resolveSettings(
      job(
        { batch_size: 64, n_epochs: 2, learning_rate_multiplier: 2, max_seq_length: 128 },
        {
          training_type: { type: 'lora', r: 8, target_modules: ['q_proj', 'v_proj'] },
          n_checkpoints: 5,
        },
      ),
      { nExamples: 12, localModelId: 'local', modelMaxLength: 4096 },
    );
    expect(s).toMatchObject({
      batchSize: 12,
      nEpochs: 2,
      learningRate: 4e-4,
      maxSeqLength: 128,
      nCheckpoints: 5,
    });
    expect(s.lora).toMatchObject({ r: 8, alpha: 16, targets: ['q_proj', 'v_proj'] });
    expect(
      resolveSettings(job({ learning_rate: 0.01 }), { nExamples: 12, localModelId: 'x', modelMaxLength: 9 })
        .learningRate,
    ).toBe(0.01);
  });
});

describe('checkpointPlan', () => {
  const settings = (nEpochs: number, nCheckpoints: number) => ({
    ...resolveSettings(job(), { nExamples: 10, localModelId: 'x', modelMaxLength: 64 }),
    nEpochs,
    nCheckpoints,
  });

  it('lists the ends of the last n epochs when n ≤ epochs, with engine checkpoints every ~5% for resuming', () => {
    const plan = checkpointPlan(settings(5, 3), 100);
    expect(plan).toMatchObject({ checkpointEverySteps: 5, checkpointEachEpoch: true });
    expect(plan.isListed(60, 3)).toBe(true);
    expect(plan.isListed(40, 2)).toBe(false);
    expect(plan.isListed(65, 3.25)).toBe(false);
  });

  it('spreads n checkpoints evenly when n > epochs', () => {
    const plan = checkpointPlan(settings(1, 4), 30);
    expect(plan).toMatchObject({ checkpointEverySteps: 8, checkpointEachEpoch: false });
    expect([8, 16, 24].every((s) => plan.isListed(s, s / 30))).toBe(true);
    expect(plan.isListed(10, 1 / 3)).toBe(false);
  });
});
