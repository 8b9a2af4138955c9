// Parity of the preference objectives with TRL 1.13's own trainers (DPOTrainer for sigmoid, ipo, hinge, robust,
// RPO and sigmoid_norm; KTOTrainer; CPOTrainer's SimPO; ORPOTrainer), against test/fixtures/preference (made by
// test/fixtures/make_preference_fixtures.py): the loss and TRL's rewards/* and logps/* metrics at each of the 3
// optimizer steps (and the gradient norm) within rtol 1e-4 + atol 1e-5, and the adapter after them within 1e-4
// (max-norm relative error), on whichever kernel path the CPU runs (AdamW eps 1e-4 keeps the comparison
// well-conditioned: see ADAM_EPS in the generator).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ObjectiveOptions, type TrainProgress, train, writeTokenFile } from '../../native/index';
import { maxRelError, readF32Safetensors, tempDir } from './helpers';

interface Case {
  trainer: string;
  hyperparameters: {
    method: 'dpo' | 'kto';
    loss_type?: string[];
    loss_weights?: number[];
    beta: number;
    label_smoothing?: number;
    simpo_gamma?: number;
    cpo_alpha?: number;
    desirable_weight?: number;
    undesirable_weight?: number;
  };
  rows: { ids: number[]; labels: number[] }[];
  desirable: boolean[] | null;
  adapter_tolerance: number;
  steps: { loss: number; grad_norm: number; metrics: Record<string, number> }[];
}

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const dir = join(fixtures, 'preference');
const meta = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as { cases: Record<string, Case> };
const reference = readF32Safetensors(join(dir, 'reference.safetensors'));
const tmp = tempDir('native-preference-parity');
afterAll(() => tmp.remove());

/**
 * |e - r| / (1e-4 |r| + 1e-5) for scalars (numpy's allclose with rtol 1e-4, atol 1e-5, as a ratio: <= 1 passes);
 * the absolute floor matters for the rewards, small differences of log-probs of magnitude ~50.
 */
function error(engine: number, ref: number): number {
  return Math.abs(engine - ref) / (1e-4 * Math.abs(ref) + 1e-5);
}

describe('parity with TRL', () => {
  for (const [name, c] of Object.entries(meta.cases)) {
    it(`${name} (${c.trainer}): loss, rewards/*, logps/* per step and the adapter within 1e-4`, async () => {
      const h = c.hyperparameters;
      const tokens = join(tmp.path, `${name}.tok`);
      await writeTokenFile(
        tokens,
        c.rows.map((r) => ({ inputIds: r.ids, labels: r.labels })),
      );
      const objective: ObjectiveOptions = {
        method: h.method,
        beta: h.beta,
        ...(h.loss_type && { lossTypes: h.loss_type }),
        ...(h.loss_weights && { lossWeights: h.loss_weights }),
        ...(h.label_smoothing !== undefined && { labelSmoothing: h.label_smoothing }),
        ...(h.simpo_gamma !== undefined && { simpoGamma: h.simpo_gamma }),
        ...(h.cpo_alpha !== undefined && { cpoAlpha: h.cpo_alpha }),
        ...(h.desirable_weight !== undefined && { desirableWeight: h.desirable_weight }),
        ...(h.undesirable_weight !== undefined && { undesirableWeight: h.undesirable_weight }),
        ...(c.desirable && { desirable: c.desirable.map(Number) }),
      };
      const progress: TrainProgress[] = [];
      const outputDir = join(tmp.path, name);
      await train(
        {
          modelDir: join(fixtures, 'llama-tiny', 'model'),
          initAdapterDir: join(fixtures, 'llama-tiny', 'lora_init'),
          outputDir,
          trainTokens: tokens,
          batchSize: c.rows.length / (h.method === 'dpo' ? 2 : 1), // the whole data set in one batch
          nEpochs: 3,
          maxSeqLen: 128,
          learningRate: 1e-2,
          lrScheduler: 'linear',
          weightDecay: 0.01,
          maxGradNorm: 1,
          adamEps: 1e-4, // make_preference_fixtures.py ADAM_EPS
          threads: 2,
          objective,
        },
        (p) => progress.push(p),
      );
      expect(progress).toHaveLength(c.steps.length);
      const errors: Record<string, number> = {};
      for (const [k, step] of c.steps.entries()) {
        const got = progress[k]!;
        errors[`loss@${k + 1}`] = error(got.trainLoss, step.loss);
        errors[`grad_norm@${k + 1}`] = error(got.gradNorm, step.grad_norm);
        for (const [key, value] of Object.entries(step.metrics)) {
          if (key === 'rewards/accuracies' && step.metrics['rewards/margins'] === 0) continue; // ties at step 1
          expect(got.metrics, `${key} at step ${k + 1}`).toHaveProperty([key]);
          errors[`${key}@${k + 1}`] = error(got.metrics[key]!, value);
        }
      }
      const adapter = readF32Safetensors(join(outputDir, 'adapter_model.safetensors'));
      let worstAdapter = 0;
      for (const [key, t] of reference) {
        if (!key.startsWith(`${name}.`)) continue;
        const got = adapter.get(key.slice(name.length + 1));
        expect(got, key).toBeDefined();
        worstAdapter = Math.max(worstAdapter, maxRelError(got!.data, t.data));
      }
      errors.adapter = worstAdapter / c.adapter_tolerance; // max-norm relative error, 1e-4 (cases.json)
      // the report: worst relative error per group (loss, grad_norm, rewards/*, logps/*), and the adapter's
      const rel: Record<string, number> = {};
      for (const [k, step] of c.steps.entries()) {
        const got = progress[k]!;
        const put = (group: string, e: number, r: number) => {
          rel[group] = Math.max(rel[group] ?? 0, r === 0 ? Math.abs(e) : maxRelError([e], [r])); // absolute at 0
        };
        put('loss', got.trainLoss, step.loss);
        put('grad_norm', got.gradNorm, step.grad_norm);
        for (const [key, value] of Object.entries(step.metrics))
          put(key.split('/')[0]!, got.metrics[key]!, value);
      }
      const table = Object.entries(rel).map(([g, e]) => `${g} ${e.toExponential(1)}`);
      console.log(`parity ${name}: ${table.join(', ')}, adapter ${worstAdapter.toExponential(1)}`);
      for (const [key, e] of Object.entries(errors)) expect(e, key).toBeLessThanOrEqual(1);
    });
  }
});
