// Parity with Hugging Face transformers + PEFT through the addon, against the committed fixtures
// (test/fixtures/README.md): logits and loss within 1e-5, the three AdamW steps (loss, grad norm, lr per step)
// and the adapter after them within 1e-4 (max-norm relative error).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluate, logits, type TrainProgress, train } from '../../native/index';
import { maxRelError, readF32Safetensors, tempDir } from './helpers';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const tmp = tempDir('native-parity');
afterAll(() => tmp.remove());

for (const name of ['llama-tiny', 'qwen2-gqa-tied']) {
  describe(`parity: ${name}`, () => {
    const dir = join(fixtures, name);
    const modelDir = join(dir, 'model');
    const adapterDir = join(dir, 'lora_init');
    const tokensPath = join(dir, 'tokens.bin');
    const ref = readF32Safetensors(join(dir, 'reference.safetensors'));
    const scalar = (key: string) => ref.get(key)!.data[0]!;
    const batch = JSON.parse(readFileSync(join(dir, 'batch.json'), 'utf8')) as { input_ids: number[] }[];

    it('logits of each example match within 1e-5', async () => {
      for (const [i, example] of batch.entries()) {
        const out = await logits({ modelDir, adapterDir, ids: example.input_ids, threads: 2 });
        const expected = ref.get(`logits.${i}`)!;
        expect([out.rows, out.cols]).toEqual(expected.shape);
        expect(maxRelError(out.logits, expected.data)).toBeLessThan(1e-5);
      }
    });

    it('loss with and without the adapter matches within 1e-5', async () => {
      const withAdapter = await evaluate({ modelDir, adapterDir, tokensPath, maxSeqLen: 64, threads: 2 });
      expect(withAdapter.nTokens).toBe(25);
      expect(maxRelError([withAdapter.loss], [scalar('loss')])).toBeLessThan(1e-5);
      const base = await evaluate({ modelDir, tokensPath, maxSeqLen: 64, threads: 2 });
      expect(maxRelError([base.loss], [scalar('base_loss')])).toBeLessThan(1e-5);
    });

    it('three AdamW steps reproduce the reference trajectory and adapter within 1e-4', async () => {
      const steps: TrainProgress[] = [];
      const result = await train(
        {
          modelDir,
          initAdapterDir: adapterDir,
          outputDir: join(tmp.path, name),
          trainTokens: tokensPath,
          batchSize: 2,
          nEpochs: 3,
          maxSeqLen: 64,
          learningRate: 1e-2,
          lrScheduler: 'linear',
          warmupRatio: 0.3, // ceil(3 * 0.3) = 1 warmup step, as get_linear_schedule_with_warmup(1, 3)
          weightDecay: 0.01,
          maxGradNorm: 1.0,
          threads: 2,
        },
        (p) => steps.push(p),
      );
      expect(result.steps).toBe(3);
      for (const [k, p] of steps.entries()) {
        expect(maxRelError([p.trainLoss], [scalar(`loss_step${k + 1}`)])).toBeLessThan(1e-5);
        expect(maxRelError([p.gradNorm], [scalar(`grad_norm_step${k + 1}`)])).toBeLessThan(1e-4);
        const lr = scalar(`lr_step${k + 1}`); // stored as fp32
        if (lr === 0) expect(p.learningRate).toBe(0);
        else expect(maxRelError([p.learningRate], [lr])).toBeLessThan(1e-7);
      }
      const adapter = readF32Safetensors(join(result.outputDir, 'adapter_model.safetensors'));
      const expectedKeys = [...ref.keys()]
        .filter((k) => k.startsWith('step3.'))
        .map((k) => k.slice('step3.'.length));
      expect([...adapter.keys()].sort()).toEqual(expectedKeys.sort());
      for (const key of expectedKeys) {
        const err = maxRelError(adapter.get(key)!.data, ref.get(`step3.${key}`)!.data);
        expect(err, key).toBeLessThan(1e-4);
      }
      const after = await evaluate({
        modelDir,
        adapterDir: result.outputDir,
        tokensPath,
        maxSeqLen: 64,
        threads: 2,
      });
      expect(maxRelError([after.loss], [scalar('loss_after_step3')])).toBeLessThan(1e-5);
    });
  });
}
