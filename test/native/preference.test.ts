// Preference objectives through the addon: options reach the engine, TRL's metrics come back per step, bad
// objectives are TypeErrors naming the field. (Parity with TRL's trainers: preference-parity.test.ts.)
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  builtinModelDir,
  type TrainOptions,
  type TrainProgress,
  train,
  writeTokenFile,
} from '../../native/index';
import { tempDir } from './helpers';

const tmp = tempDir('native-preference');
const tokens = join(tmp.path, 'pairs.tok');
const bytes = (s: string) => [...Buffer.from(s, 'utf8')];

function options(name: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    modelDir: builtinModelDir(),
    outputDir: join(tmp.path, name),
    trainTokens: tokens,
    batchSize: 2,
    nEpochs: 1,
    maxSeqLen: 64,
    learningRate: 1e-3,
    threads: 2,
    objective: { method: 'dpo', beta: 0.1 },
    ...extra,
  };
}

beforeAll(async () => {
  const rows = [];
  for (let i = 0; i < 4; i++) {
    const prompt = bytes(`Q${i}?`);
    for (const answer of [`yes ${i}`, `no ${i}`]) {
      rows.push({
        inputIds: [...prompt, ...bytes(answer)],
        labels: [...prompt.map(() => -100), ...bytes(answer)],
      });
    }
  }
  await writeTokenFile(tokens, rows);
});
afterAll(() => tmp.remove());

describe('dpo objective through the addon', () => {
  it('starts at ln 2 and reports TRL metrics every step', async () => {
    const progress: TrainProgress[] = [];
    const result = await train(options('dpo'), (p) => progress.push(p));
    expect(result.totalSteps).toBe(2);
    expect(progress[0]!.trainLoss).toBeCloseTo(Math.LN2, 6);
    for (const key of [
      'rewards/chosen',
      'rewards/rejected',
      'rewards/accuracies',
      'rewards/margins',
      'logps/chosen',
      'logps/rejected',
    ])
      expect(Number.isFinite(progress[1]!.metrics[key]), key).toBe(true);
    expect(progress[0]!.metrics['rewards/margins']).toBe(0);
  });

  it('rejects a bad objective with a TypeError naming the field', async () => {
    await expect(
      train(options('bad', { objective: { method: 'dpo', lossTypes: ['nope'] } })),
    ).rejects.toThrow(/loss_type 'nope' is not supported/);
    await expect(train(options('bad', { objective: { method: 'dpo', beta: -1 } }))).rejects.toThrow(
      TypeError,
    );
    await expect(
      train(
        options('bad', { objective: { method: 'dpo', bogus: 1 } as unknown as TrainOptions['objective'] }),
      ),
    ).rejects.toThrow(/unknown key 'bogus'/);
  });
});
