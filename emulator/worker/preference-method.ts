/**
 * Preference methods in both dialects, mapped onto the engine's objective (native/index.ts ObjectiveOptions):
 *   OpenAI `method: {type: 'dpo', dpo: {hyperparameters}}` / tunekit `{type: 'kto', kto: {hyperparameters}}`
 *   Together `training_method: {method: 'dpo', dpo_beta, rpo_alpha, simpo_gamma,
 *            dpo_normalize_logratios_by_length, dpo_reference_free}` → the OpenAI-shaped method above.
 * Pure functions; docs/emulator.md gives each loss's formula.
 */
import type { ObjectiveOptions } from '../../native/index';
import type { FineTuningMethod } from '../contract/jobs';

type DpoLoss = NonNullable<NonNullable<NonNullable<FineTuningMethod['dpo']>['hyperparameters']>['loss_type']>;

const beta = (b: number | 'auto' | undefined) => (b === undefined || b === 'auto' ? 0.1 : b);

/** The engine objective of a dpo or kto method; undefined for supervised (and reinforcement). */
export function objectiveFromMethod(method: FineTuningMethod): ObjectiveOptions | undefined {
  if (method.type === 'kto') {
    const h = method.kto?.hyperparameters ?? {};
    return {
      method: 'kto',
      beta: beta(h.beta),
      desirableWeight: h.desirable_weight ?? 1,
      undesirableWeight: h.undesirable_weight ?? 1,
    };
  }
  if (method.type !== 'dpo') return undefined;
  const h = method.dpo?.hyperparameters ?? {};
  const types: string[] =
    h.loss_type === undefined ? ['sigmoid'] : Array.isArray(h.loss_type) ? [...h.loss_type] : [h.loss_type];
  const weights = h.loss_weights ? [...h.loss_weights] : types.map(() => 1);
  const alone = types[0] === 'simpo' || types[0] === 'orpo';
  let cpoAlpha = 0;
  const rpo = h.rpo_alpha ?? 0;
  if (rpo > 0 && types[0] === 'simpo')
    cpoAlpha = rpo; // CPOTrainer's NLL weight
  else if (rpo > 0 && !alone) {
    // TRL 1.13 spells RPO as the "sft" loss type with weight alpha
    const k = types.indexOf('sft');
    if (k >= 0) weights[k] = rpo;
    else {
      types.push('sft');
      weights.push(rpo);
    }
  }
  return {
    method: 'dpo',
    lossTypes: types,
    lossWeights: weights,
    beta: beta(h.beta),
    labelSmoothing: h.label_smoothing ?? 0,
    simpoGamma: h.simpo_gamma ?? 0.5,
    cpoAlpha,
    referenceFree: h.reference_free ?? false,
  };
}

/** Together's DPO training method (together-and-others.md §1.2). */
export interface TogetherDpoTrainingMethod {
  method: 'dpo';
  dpo_beta?: number;
  rpo_alpha?: number;
  simpo_gamma?: number;
  dpo_normalize_logratios_by_length?: boolean;
  dpo_reference_free?: boolean;
}

/**
 * Together's `training_method` for DPO as the OpenAI-shaped method tunekit trains. Together's rules: simpo_gamma > 0
 * forces reference-free, length-normalised log-ratios (SimPO: TRL's CPOTrainer `simpo`, rpo_alpha its cpo_alpha);
 * otherwise dpo_normalize_logratios_by_length is TRL's `sigmoid_norm`, dpo_reference_free TRL's reference_free, and
 * rpo_alpha > 0 adds TRL's `sft` term with that weight. Throws a RangeError naming the field for a negative value.
 */
export function togetherDpoToMethod(tm: TogetherDpoTrainingMethod): FineTuningMethod {
  for (const key of ['dpo_beta', 'rpo_alpha', 'simpo_gamma'] as const) {
    const v = tm[key];
    if (v !== undefined && (!Number.isFinite(v) || v < 0 || (key === 'dpo_beta' && v === 0))) {
      throw new RangeError(
        `training_method.${key} must be ${key === 'dpo_beta' ? 'greater than 0' : 'non-negative'}`,
      );
    }
  }
  const gamma = tm.simpo_gamma ?? 0;
  const rpo = tm.rpo_alpha ?? 0;
  const simpo = gamma > 0;
  const lossType: DpoLoss = simpo
    ? 'simpo'
    : tm.dpo_normalize_logratios_by_length
      ? 'sigmoid_norm'
      : 'sigmoid';
  return {
    type: 'dpo',
    dpo: {
      hyperparameters: {
        beta: tm.dpo_beta ?? 0.1,
        loss_type: lossType,
        ...(simpo ? { simpo_gamma: gamma } : {}),
        ...(rpo > 0 ? { rpo_alpha: rpo } : {}),
        ...(!simpo && tm.dpo_reference_free ? { reference_free: true } : {}),
      },
    },
  };
}
