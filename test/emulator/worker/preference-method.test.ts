// The preference methods' mapping onto the engine objective, and Together's DPO training_method onto it.
import { describe, expect, it } from 'vitest';
import { objectiveFromMethod, togetherDpoToMethod } from '../../../emulator/worker/preference-method';

describe('objectiveFromMethod', () => {
  it('maps dpo defaults, loss lists, RPO and SimPO onto TRL names', () => {
    expect(objectiveFromMethod({ type: 'dpo' })).toMatchObject({
      method: 'dpo',
      lossTypes: ['sigmoid'],
      lossWeights: [1],
      beta: 0.1,
    });
    expect(
      objectiveFromMethod({ type: 'dpo', dpo: { hyperparameters: { beta: 'auto', rpo_alpha: 0.5 } } }),
    ).toMatchObject({
      lossTypes: ['sigmoid', 'sft'],
      lossWeights: [1, 0.5],
      beta: 0.1,
    });
    expect(
      objectiveFromMethod({
        type: 'dpo',
        dpo: { hyperparameters: { loss_type: ['sigmoid', 'sft'], loss_weights: [1, 2] } },
      }),
    ).toMatchObject({ lossTypes: ['sigmoid', 'sft'], lossWeights: [1, 2] });
    expect(
      objectiveFromMethod({
        type: 'dpo',
        dpo: { hyperparameters: { loss_type: 'simpo', beta: 2, rpo_alpha: 0.3, simpo_gamma: 1 } },
      }),
    ).toMatchObject({ lossTypes: ['simpo'], cpoAlpha: 0.3, simpoGamma: 1, beta: 2 });
    expect(
      objectiveFromMethod({ type: 'kto', kto: { hyperparameters: { undesirable_weight: 1.5 } } }),
    ).toEqual({
      method: 'kto',
      beta: 0.1,
      desirableWeight: 1,
      undesirableWeight: 1.5,
    });
    expect(objectiveFromMethod({ type: 'supervised' })).toBeUndefined();
  });
});

describe('togetherDpoToMethod', () => {
  it('follows Together: simpo_gamma > 0 means SimPO (reference-free, length-normalised)', () => {
    expect(togetherDpoToMethod({ method: 'dpo' })).toEqual({
      type: 'dpo',
      dpo: { hyperparameters: { beta: 0.1, loss_type: 'sigmoid' } },
    });
    expect(togetherDpoToMethod({ method: 'dpo', dpo_beta: 0.2, rpo_alpha: 0.5 })).toEqual({
      type: 'dpo',
      dpo: { hyperparameters: { beta: 0.2, loss_type: 'sigmoid', rpo_alpha: 0.5 } },
    });
    expect(
      togetherDpoToMethod({
        method: 'dpo',
        dpo_normalize_logratios_by_length: true,
        dpo_reference_free: true,
      }),
    ).toEqual({
      type: 'dpo',
      dpo: { hyperparameters: { beta: 0.1, loss_type: 'sigmoid_norm', reference_free: true } },
    });
    const simpo = togetherDpoToMethod({
      method: 'dpo',
      simpo_gamma: 0.5,
      dpo_beta: 2,
      rpo_alpha: 0.1,
      dpo_reference_free: false,
    });
    expect(simpo).toEqual({
      type: 'dpo',
      dpo: { hyperparameters: { beta: 2, loss_type: 'simpo', simpo_gamma: 0.5, rpo_alpha: 0.1 } },
    });
    expect(objectiveFromMethod(simpo)).toMatchObject({
      lossTypes: ['simpo'],
      simpoGamma: 0.5,
      cpoAlpha: 0.1,
    });
  });

  it('refuses negative values naming the field', () => {
    expect(() => togetherDpoToMethod({ method: 'dpo', rpo_alpha: -1 })).toThrow(
      /training_method.rpo_alpha must be non-negative/,
    );
    expect(() => togetherDpoToMethod({ method: 'dpo', simpo_gamma: -0.1 })).toThrow(/simpo_gamma/);
    expect(() => togetherDpoToMethod({ method: 'dpo', dpo_beta: 0 })).toThrow(
      /dpo_beta must be greater than 0/,
    );
  });
});
