/**
 * "auto" hyperparameters and the rest of a job's training settings, resolved from the job, the dataset size and
 * the model. The rules are documented in docs/emulator.md; change them there too.
 */

import type { ObjectiveOptions } from '../../native/index';
import type { FineTuningJob } from '../contract/jobs';
import { BUILTIN_MODEL } from './models';
import { objectiveFromMethod } from './preference-method';

/** Peak learning rate at learning_rate_multiplier = 1. */
export function baseLearningRate(localModelId: string, full: boolean): number {
  // The built-in model is random-init and tiny: it needs a large rate to learn anything in a hundred steps.
  if (localModelId === BUILTIN_MODEL) return full ? 1e-3 : 2e-3;
  return full ? 2e-5 : 2e-4;
}

/** OpenAI's published heuristic (cookbook): 3 epochs, more for small sets, fewer for large ones. */
export function autoEpochs(nExamples: number): number {
  if (nExamples * 3 < 100) return Math.min(25, Math.floor(100 / nExamples));
  if (nExamples * 3 > 25_000) return Math.max(1, Math.floor(25_000 / nExamples));
  return 3;
}

/** About 0.2% of the examples, 1 to 256 (the hosted service's legacy rule; 1 for small sets, as observed). */
export function autoBatchSize(nExamples: number): number {
  return Math.max(1, Math.min(256, Math.round(nExamples * 0.002)));
}

/**
 * The built-in model is random-init and tiny, so the hosted service's rules (batch 1, a few epochs) teach it
 * nothing. It gets about 150 optimizer steps of third-of-the-set batches (at most 32, at most 50 epochs) at 2e-3:
 * enough to learn 20 question/answer pairs by heart (measured on 20 pairs: 19/20 exact greedy answers with seeds 2,
 * 3, 4 and 5, ~20-35 s on two busy cores; 3e-3 gave 18-19, 100 steps of half-set batches 18-19, batch 1 gave 0).
 */
export function autoBuiltinBatchSize(nExamples: number): number {
  return Math.max(1, Math.min(32, Math.ceil(nExamples / 3)));
}

export function autoBuiltinEpochs(nExamples: number, batchSize: number): number {
  const stepsPerEpoch = Math.ceil(nExamples / batchSize);
  return Math.max(1, Math.min(50, Math.ceil(150 / stepsPerEpoch)));
}

export const LORA_TARGETS_ALL = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

export interface TrainingSettings {
  nEpochs: number;
  batchSize: number;
  learningRateMultiplier: number;
  learningRate: number;
  lrScheduler: 'linear' | 'cosine';
  warmupRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  maxSeqLength: number;
  packing: boolean;
  full: boolean;
  lora: { r: number; alpha: number; dropout: number; useRslora: boolean; targets: string[] };
  nCheckpoints: number;
  seed: number;
  /** dpo / kto jobs: the engine's objective (preference-method.ts); absent for supervised. */
  objective?: ObjectiveOptions;
  /** reinforcement jobs: the rollout loop's settings (worker/rft.ts). */
  rft?: RftSettings;
}

/** A reinforcement job's rollout and GRPO settings, every "auto" resolved (docs/rft.md). */
export interface RftSettings {
  numGenerations: number;
  maxCompletionTokens: number;
  temperature: number;
  topP: number;
  epsilon: number;
  beta: number;
  lossType: 'grpo' | 'dr_grpo' | 'dapo' | 'bnpo';
  scaleRewards: 'group' | 'batch' | 'none';
  /** Steps between validations (and listed checkpoints). */
  evalInterval: number;
  /** Completions sampled per validation prompt. */
  evalSamples: number;
  computeMultiplier: number;
  reasoningEffort: 'default' | 'low' | 'medium' | 'high';
}

/** `reasoning_effort` is the completion budget when max_completion_tokens is auto (the stand-ins do not reason). */
export const REASONING_EFFORT_TOKENS = { low: 64, default: 128, medium: 128, high: 256 } as const;

/** The GRPO group: 4 completions per prompt at compute_multiplier 1, scaled by it (2 to 64). */
export function autoNumGenerations(computeMultiplier: number): number {
  return Math.max(2, Math.min(64, Math.round(4 * computeMultiplier)));
}

type ReinforcementHyperparameters = NonNullable<
  NonNullable<NonNullable<FineTuningJob['method']>['reinforcement']>['hyperparameters']
>;

function given<T>(value: T | 'auto' | undefined): T | undefined {
  return value === 'auto' ? undefined : value;
}

function resolveRft(h: ReinforcementHyperparameters, totalSteps: number): RftSettings {
  const computeMultiplier = given(h.compute_multiplier) ?? 1;
  const reasoningEffort = h.reasoning_effort ?? 'default';
  return {
    numGenerations: given(h.num_generations) ?? autoNumGenerations(computeMultiplier),
    maxCompletionTokens: given(h.max_completion_tokens) ?? REASONING_EFFORT_TOKENS[reasoningEffort],
    temperature: h.temperature ?? 1,
    topP: h.top_p ?? 1,
    epsilon: h.epsilon ?? 0.2,
    beta: h.beta ?? 0,
    lossType: h.loss_type ?? 'dapo',
    scaleRewards: h.scale_rewards ?? 'group',
    evalInterval: given(h.eval_interval) ?? evalEverySteps(totalSteps),
    evalSamples: given(h.eval_samples) ?? 1,
    computeMultiplier,
    reasoningEffort,
  };
}

/** The hyperparameters of the job's method (supervised, dpo or kto), with the tunekit extensions they share. */
function methodHyperparameters(job: FineTuningJob) {
  const m = job.method;
  const h =
    m?.type === 'dpo'
      ? m.dpo?.hyperparameters
      : m?.type === 'kto'
        ? m.kto?.hyperparameters
        : m?.type === 'reinforcement'
          ? m.reinforcement?.hyperparameters
          : m?.supervised?.hyperparameters;
  return (h ?? {}) as NonNullable<
    NonNullable<NonNullable<FineTuningJob['method']>['supervised']>['hyperparameters']
  >;
}

/** Settings fixed before the data is read (max_seq_length is needed to tokenize). */
export function resolveMaxSeqLength(job: FineTuningJob, modelMaxLength: number): number {
  return methodHyperparameters(job).max_seq_length ?? Math.min(modelMaxLength, 2048);
}

/** Resolves every "auto" and unset field. */
export function resolveSettings(
  job: FineTuningJob,
  context: { nExamples: number; localModelId: string; modelMaxLength: number },
): TrainingSettings {
  const h = methodHyperparameters(job);
  const full = job.training_type?.type === 'full';
  const lora = job.training_type?.type === 'lora' ? job.training_type : undefined;
  const builtin = context.localModelId === BUILTIN_MODEL;
  const rl = job.method?.type === 'reinforcement';
  const n = context.nExamples;
  const autoBatch = h.batch_size === undefined || h.batch_size === 'auto';
  // reinforcement: prompts per step; each is sampled num_generations times (RFT_AUTO_BATCH prompts by default)
  const batchSize = Math.min(
    autoBatch
      ? rl
        ? RFT_AUTO_BATCH
        : builtin
          ? autoBuiltinBatchSize(n)
          : autoBatchSize(n)
      : (h.batch_size as number),
    n,
  );
  const autoN = h.n_epochs === undefined || h.n_epochs === 'auto';
  const nEpochs = autoN
    ? rl
      ? 1
      : builtin
        ? autoBuiltinEpochs(n, batchSize)
        : autoEpochs(n)
    : (h.n_epochs as number);
  const multiplier =
    h.learning_rate_multiplier === undefined || h.learning_rate_multiplier === 'auto'
      ? 1
      : h.learning_rate_multiplier;
  const r = lora?.r ?? 16;
  const targets = lora?.target_modules;
  return {
    nEpochs,
    batchSize,
    learningRateMultiplier: multiplier,
    learningRate:
      h.learning_rate ??
      (rl && !builtin ? RFT_BASE_LEARNING_RATE : baseLearningRate(context.localModelId, full)) * multiplier,
    lrScheduler: h.lr_scheduler ?? 'linear',
    warmupRatio: h.warmup_ratio ?? (rl ? 0 : 0.05),
    weightDecay: h.weight_decay ?? 0,
    maxGradNorm: h.max_grad_norm ?? 1,
    maxSeqLength: resolveMaxSeqLength(job, context.modelMaxLength),
    packing: h.packing ?? false,
    full,
    lora: {
      r,
      alpha: lora?.alpha ?? 2 * r,
      dropout: lora?.dropout ?? 0,
      useRslora: lora?.use_rslora ?? false,
      targets: targets === undefined || targets === 'all-linear' ? LORA_TARGETS_ALL : targets,
    },
    nCheckpoints: job.n_checkpoints ?? Math.min(3, nEpochs),
    seed: job.seed,
    ...(job.method ? objectiveSetting(job.method) : {}),
    ...(job.method?.type === 'reinforcement'
      ? {
          rft: resolveRft(
            job.method.reinforcement?.hyperparameters ?? {},
            Math.max(1, Math.ceil(n / batchSize)) * nEpochs,
          ),
        }
      : {}),
  };
}

/** Prompts per step of a reinforcement job by default. */
export const RFT_AUTO_BATCH = 4;
/** A reinforcement job's LoRA learning rate at multiplier 1 on a real model (the built-in model's is its SFT rate). */
export const RFT_BASE_LEARNING_RATE = 1e-5;

function objectiveSetting(method: NonNullable<FineTuningJob['method']>): { objective?: ObjectiveOptions } {
  const objective = objectiveFromMethod(method);
  return objective ? { objective } : {};
}

export interface CheckpointPlan {
  checkpointEverySteps: number;
  checkpointEachEpoch: boolean;
  /** Whether an engine checkpoint written at this step (fractional `epoch` from the progress) is listed by the API. */
  isListed(step: number, epoch: number): boolean;
}

/**
 * Where listed checkpoints go. With n_checkpoints ≤ n_epochs: at the end of each of the last n_checkpoints epochs
 * (the hosted service keeps the last epochs' checkpoints), the last one being the final model. With more: every
 * ceil(total / n) steps. Engine checkpoints for resuming after a crash are written about 20 times per run as well;
 * those are not listed.
 */
export function checkpointPlan(settings: TrainingSettings, estimatedTotalSteps: number): CheckpointPlan {
  const n = settings.nCheckpoints;
  if (n <= settings.nEpochs) {
    const firstListedEpoch = settings.nEpochs - n + 1;
    return {
      checkpointEverySteps: resumeEvery(estimatedTotalSteps),
      checkpointEachEpoch: true,
      isListed: (_step, epoch) => Number.isInteger(epoch) && epoch >= firstListedEpoch,
    };
  }
  const every = Math.max(1, Math.ceil(estimatedTotalSteps / n));
  return { checkpointEverySteps: every, checkpointEachEpoch: false, isListed: (step) => step % every === 0 };
}

/** Optimizer steps of a run without packing: ceil(examples / batch) per epoch. */
export function estimateTotalSteps(
  settings: TrainingSettings,
  dataset: { nExamples: number; nTokens: number },
): number {
  const rows = settings.packing ? Math.ceil(dataset.nTokens / settings.maxSeqLength) : dataset.nExamples;
  return Math.max(1, Math.ceil(rows / settings.batchSize)) * settings.nEpochs;
}

/** Resume granularity: about 20 engine checkpoints over a run, so a crash costs at most ~5% of it. */
function resumeEvery(totalSteps: number): number {
  return Math.max(1, Math.ceil(totalSteps / 20));
}

/** Periodic validation loss: about ten times over the run (the final full validation comes on top). */
export function evalEverySteps(totalSteps: number): number {
  return Math.max(1, Math.floor(totalSteps / 10));
}

/** The job's wire fields once settings are resolved: numbers replace "auto". */
export function resolvedJobFields(job: FineTuningJob, s: TrainingSettings): Partial<FineTuningJob> {
  const three = {
    batch_size: s.batchSize,
    learning_rate_multiplier: s.learningRateMultiplier,
    n_epochs: s.nEpochs,
  };
  const m = job.method;
  const beta = s.objective?.beta ?? 0.1;
  const rft = s.rft;
  const method: FineTuningJob['method'] =
    m?.type === 'reinforcement' && rft
      ? {
          type: 'reinforcement',
          reinforcement: {
            ...m.reinforcement!,
            hyperparameters: {
              ...m.reinforcement?.hyperparameters,
              ...three,
              compute_multiplier: rft.computeMultiplier,
              eval_interval: rft.evalInterval,
              eval_samples: rft.evalSamples,
              reasoning_effort: rft.reasoningEffort,
              num_generations: rft.numGenerations,
              max_completion_tokens: rft.maxCompletionTokens,
            },
            response_format: m.reinforcement?.response_format ?? null,
          },
        }
      : m?.type === 'dpo'
        ? { type: 'dpo', dpo: { hyperparameters: { ...m.dpo?.hyperparameters, ...three, beta } } }
        : m?.type === 'kto'
          ? { type: 'kto', kto: { hyperparameters: { ...m.kto?.hyperparameters, ...three, beta } } }
          : {
              type: 'supervised',
              supervised: { hyperparameters: { ...m?.supervised?.hyperparameters, ...three } },
            };
  return {
    // the top-level copy is for supervised jobs; DPO jobs show null on the hosted service
    hyperparameters: method.type === 'supervised' ? three : null,
    method,
    training_type: s.full
      ? { type: 'full' }
      : {
          type: 'lora',
          r: s.lora.r,
          alpha: s.lora.alpha,
          dropout: s.lora.dropout,
          target_modules: s.lora.targets,
          use_rslora: s.lora.useRslora,
        },
    n_checkpoints: s.nCheckpoints,
  };
}
