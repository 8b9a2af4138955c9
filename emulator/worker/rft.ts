/**
 * The rollout loop of a reinforcement fine-tuning job, run in the trainer child. Each step takes `batchSize` prompts
 * (an epoch is a seeded permutation of the training prompts), samples `numGenerations` completions of each with the
 * engine's KV-cache generator from the adapter being trained, grades them with the job's grader (the graders'
 * code, as `/fine_tuning/alpha/graders/run`), and makes one GRPO update on those completions with their rewards (the
 * engine's `train()` on the step's token file, continuing the optimizer state the previous step saved). Every
 * `evalInterval` steps and at the end the validation prompts are sampled and graded (`valid_reward_mean`), and a
 * checkpoint is written.
 *
 * Determinism: the epoch order is a function of (seed, epoch) and each prompt's sampler seed of (seed, step, prompt),
 * so a run resumed from a checkpoint (adapter, optimizer state and the step, which is the sampler's position)
 * reproduces the uninterrupted run's bytes, on the same thread count with a deterministic grader.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Generator } from '../../native/generate';
import type { TrainProgress, TrainResult } from '../../native/index';
import type { Grader } from '../contract/graders';
import type { ModelTokenizer } from '../data';
import type { RftPrompt, RftPromptFile } from '../data/reinforcement';
import {
  type GradeOutcome,
  type GraderServices,
  gradeBatch,
  graderParts,
  hasError,
  sampleOf,
} from '../graders';
import type { RftSettings, TrainingSettings } from './hyperparameters';

export interface RftRunOptions {
  modelDir: string;
  /** JSON prompt files written by the validation phase (data/reinforcement.ts). */
  trainPrompts: string;
  validPrompts?: string;
  /** Scratch folder of the running state (adapter and optimizer state of the last step). */
  workDir: string;
  checkpointDir: string;
  /** The final adapter. */
  outputDir: string;
  settings: TrainingSettings & { rft: RftSettings };
  grader: Grader;
  threads: number;
  /** Steps between resume checkpoints (validation steps always get one). */
  checkpointEverySteps: number;
  /** Checkpoint folders to resume from, newest first (the first readable one is used). */
  resumeFrom?: string[];
}

/** One graded sample, as recorded in the job's events. */
export interface RftSample {
  prompt: number;
  output: string;
  reward: number;
  /** The row it was graded against (`item`), trimmed. */
  item: Record<string, unknown>;
}

/** Mean reward and error counts of one set of gradings, per grader part. */
export interface RewardSummary {
  mean: number;
  count: number;
  /** Mean reward of each grader (of a multi's graders), by key. */
  parts: Record<string, number>;
  /** How many gradings had each error flag set. */
  errors: Record<string, number>;
  /** Mean completion tokens. */
  completionTokens: number;
  /** Grading seconds. */
  gradingS: number;
}

export interface RftProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  train: RewardSummary;
  /** Present at validation steps (with a validation file). */
  valid?: RewardSummary;
  /** TRL's metrics of the update (loss, reward_std, kl, clip_ratio/*, completions/mean_length) and learning_rate. */
  metrics: Record<string, number>;
  timing: { sampling: number; training: number; eval: number; full_iteration: number };
  /** A few graded samples (first step, validation steps). */
  samples: RftSample[];
  /** '' unless a checkpoint was written at this step. */
  checkpointPath: string;
  /** -1 unless this is the first report after a resume (0: nothing readable, started over). */
  resumedFromStep: number;
  elapsedS: number;
}

export interface RftHooks {
  services: GraderServices;
  onProgress(p: RftProgress): void;
  stopRequested(): boolean;
}

/** Files of a checkpoint: the adapter, the engine's optimizer state, and this loop's state (written last). */
const STATE = 'state.bin';
const LOOP_STATE = 'rft.json';
/** Sampled completions recorded per report, and characters per completion. */
const SAMPLES_PER_REPORT = 3;
const SAMPLE_CHARS = 300;

interface LoopState {
  step: number;
  seed: number;
  /** The sampler's position: every draw of step s uses stream s (seeds are (seed, step, prompt)). */
  samplerStream: number;
  elapsedS: number;
}

// ---- deterministic randomness ----------------------------------------------------------------------------------

const MASK64 = (1n << 64n) - 1n;

/** splitmix64 of a list of integers: the seeds of the epoch order and of each prompt's sampler. */
export function mixSeed(...parts: number[]): bigint {
  let h = 0x9e3779b97f4a7c15n;
  for (const part of parts) {
    h = (h ^ BigInt.asUintN(64, BigInt(part))) & MASK64;
    h = (h + 0x9e3779b97f4a7c15n) & MASK64;
    let z = h;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    h = z ^ (z >> 31n);
  }
  return h;
}

/** Fisher-Yates over 0..n-1, a function of (seed, epoch) only. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n; i > 1; i--) {
    const j = Number(mixSeed(seed, 0x5348, epoch, i) % BigInt(i));
    [order[i - 1], order[j]] = [order[j] as number, order[i - 1] as number];
  }
  return order;
}

/** The prompts of step `step` (1-based): the step's slice of its epoch's order. */
export function stepPrompts(n: number, batchSize: number, seed: number, step: number): number[] {
  const perEpoch = Math.ceil(n / batchSize);
  const epoch = Math.floor((step - 1) / perEpoch);
  const within = (step - 1) % perEpoch;
  return epochOrder(n, seed, epoch).slice(within * batchSize, (within + 1) * batchSize);
}

export function totalRftSteps(nPrompts: number, batchSize: number, nEpochs: number): number {
  return Math.ceil(nPrompts / batchSize) * nEpochs;
}

// ---- sampling and grading --------------------------------------------------------------------------------------

interface Rollout {
  prompt: number;
  /** Generated tokens, with the stop token that ended the completion (it is trained on, as TRL does). */
  completionIds: number[];
  text: string;
}

async function sample(
  generator: Generator,
  tokenizer: ModelTokenizer,
  prompts: RftPrompt[],
  indices: number[],
  n: number,
  rft: RftSettings,
  maxSeqLen: number,
  adapterDir: string | undefined,
  seedOf: (i: number) => bigint,
): Promise<Rollout[]> {
  const rollouts: Rollout[] = [];
  for (const index of indices) {
    const prompt = prompts[index] as RftPrompt;
    const result = await generator.generate({
      promptIds: prompt.promptIds,
      ...(adapterDir ? { adapterDir } : {}),
      n,
      maxTokens: Math.max(1, Math.min(rft.maxCompletionTokens, maxSeqLen - prompt.promptIds.length)),
      temperature: rft.temperature,
      topP: rft.topP,
      seed: seedOf(index),
    }).result;
    for (const choice of result.choices) {
      rollouts.push({
        prompt: index,
        completionIds: choice.stopToken >= 0 ? [...choice.tokens, choice.stopToken] : [...choice.tokens],
        text: tokenizer.decode(choice.tokens, true),
      });
    }
  }
  return rollouts;
}

async function grade(
  grader: Grader,
  prompts: RftPrompt[],
  rollouts: Rollout[],
  services: GraderServices,
): Promise<{ outcomes: GradeOutcome[]; summary: RewardSummary }> {
  const started = performance.now();
  const outcomes = await gradeBatch(
    grader,
    rollouts.map((r) => ({ sample: sampleOf(r.text), item: (prompts[r.prompt] as RftPrompt).item })),
    services,
  );
  const parts: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const keys = graderParts(grader).map((p) => p.key);
  for (const key of keys) parts[key] = 0;
  for (const outcome of outcomes) {
    for (const key of keys)
      parts[key]! += keys.length === 1 ? outcome.reward : (outcome.subRewards[key] ?? 0);
    if (!hasError(outcome.errors)) continue;
    for (const [flag, value] of Object.entries(outcome.errors))
      if (value === true) errors[flag] = (errors[flag] ?? 0) + 1;
  }
  const count = outcomes.length;
  for (const key of keys) parts[key] = count > 0 ? parts[key]! / count : 0;
  const mean = count > 0 ? outcomes.reduce((sum, o) => sum + o.reward, 0) / count : 0;
  const completionTokens =
    rollouts.length > 0 ? rollouts.reduce((sum, r) => sum + r.completionIds.length, 0) / rollouts.length : 0;
  return {
    outcomes,
    summary: { mean, count, parts, errors, completionTokens, gradingS: (performance.now() - started) / 1000 },
  };
}

function samplesOf(rollouts: Rollout[], outcomes: GradeOutcome[], prompts: RftPrompt[]): RftSample[] {
  const trim = (value: unknown): unknown =>
    typeof value === 'string' && value.length > SAMPLE_CHARS ? `${value.slice(0, SAMPLE_CHARS)}…` : value;
  return rollouts.slice(0, SAMPLES_PER_REPORT).map((r, i) => {
    const item = (prompts[r.prompt] as RftPrompt).item;
    const small = JSON.stringify(item).length <= 2 * SAMPLE_CHARS;
    return {
      prompt: r.prompt,
      output: trim(r.text) as string,
      reward: (outcomes[i] as GradeOutcome).reward,
      item: small ? item : Object.fromEntries(Object.entries(item).map(([k, v]) => [k, trim(v)])),
    };
  });
}

// ---- checkpoints -------------------------------------------------------------------------------------------------

function copyDir(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  fs.cpSync(from, to, { recursive: true });
}

/** Writes <checkpointDir>/step-N: adapter/, state.bin, then rft.json (its presence marks the checkpoint whole). */
function writeCheckpoint(options: RftRunOptions, adapterDir: string, state: LoopState): string {
  const dir = path.join(options.checkpointDir, `step-${state.step}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  copyDir(adapterDir, path.join(dir, 'adapter'));
  fs.copyFileSync(path.join(options.workDir, STATE), path.join(dir, STATE));
  const tmp = path.join(dir, `${LOOP_STATE}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, path.join(dir, LOOP_STATE));
  return dir;
}

/** The first readable checkpoint of `names` (newest first), copied into the work folder; undefined when none. */
function restore(
  options: RftRunOptions,
  names: string[],
): { state: LoopState; adapterDir: string } | undefined {
  for (const name of names) {
    const dir = path.join(options.checkpointDir, name);
    try {
      const state = JSON.parse(fs.readFileSync(path.join(dir, LOOP_STATE), 'utf8')) as LoopState;
      if (!Number.isInteger(state.step) || state.seed !== options.settings.seed) continue;
      if (!fs.existsSync(path.join(dir, STATE)) || !fs.existsSync(path.join(dir, 'adapter'))) continue;
      const adapterDir = path.join(options.workDir, 'adapters', `step-${state.step}`);
      copyDir(path.join(dir, 'adapter'), adapterDir);
      fs.copyFileSync(path.join(dir, STATE), path.join(options.workDir, STATE));
      return { state, adapterDir };
    } catch {
      // unreadable: try the next one
    }
  }
  return undefined;
}

// ---- the loop ------------------------------------------------------------------------------------------------------

function readPrompts(file: string): RftPrompt[] {
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as RftPromptFile).prompts;
}

export async function runRft(options: RftRunOptions, hooks: RftHooks): Promise<TrainResult> {
  const [{ Generator }, engine, { ModelTokenizer }] = await Promise.all([
    import('../../native/generate'),
    import('../../native/index'),
    import('../data'),
  ]);
  const { settings } = options;
  const { rft } = settings;
  const prompts = readPrompts(options.trainPrompts);
  const validPrompts = options.validPrompts ? readPrompts(options.validPrompts) : [];
  const tokenizer = ModelTokenizer.load(options.modelDir);
  const totalSteps = totalRftSteps(prompts.length, settings.batchSize, settings.nEpochs);
  const perEpoch = Math.ceil(prompts.length / settings.batchSize);
  const G = rft.numGenerations;
  const seed = settings.seed;
  const started = performance.now();

  fs.mkdirSync(path.join(options.workDir, 'adapters'), { recursive: true });
  let state: LoopState = { step: 0, seed, samplerStream: 0, elapsedS: 0 };
  let adapterDir: string | undefined;
  let resumedFromStep = -1;
  if (options.resumeFrom && options.resumeFrom.length > 0) {
    const restored = restore(options, options.resumeFrom);
    resumedFromStep = restored?.state.step ?? 0;
    if (restored) ({ state, adapterDir } = restored);
  }
  if (!adapterDir) fs.rmSync(path.join(options.workDir, STATE), { force: true });

  const generator = await Generator.open({ modelDir: options.modelDir, threads: options.threads });
  const checkpoints: TrainResult['checkpoints'] = [];
  let lastCheckpoint = resumedFromStep > 0 ? resumedFromStep : -1;
  const checkpoint = (): string => {
    const dir = writeCheckpoint(options, adapterDir as string, { ...state, elapsedS: elapsed() });
    lastCheckpoint = state.step;
    checkpoints.push({
      step: state.step,
      path: dir,
      adapterDir: path.join(dir, 'adapter'),
      trainLoss: 0,
      trainMeanTokenAccuracy: 0,
      hasValid: false,
      validLoss: 0,
      validMeanTokenAccuracy: 0,
    });
    return dir;
  };
  const elapsedBefore = state.elapsedS;
  const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;
  let trainedTokens = 0;
  let lastLoss = 0;
  try {
    for (let step = state.step + 1; step <= totalSteps; step++) {
      if (hooks.stopRequested()) {
        if (adapterDir && lastCheckpoint !== state.step) checkpoint();
        return {
          steps: state.step,
          totalSteps,
          trainedTokens,
          finalTrainLoss: lastLoss,
          cancelled: true,
          outputDir: '',
          checkpoints,
        };
      }
      const t0 = performance.now();
      const indices = stepPrompts(prompts.length, settings.batchSize, seed, step);
      const rollouts = await sample(
        generator,
        tokenizer,
        prompts,
        indices,
        G,
        rft,
        settings.maxSeqLength,
        adapterDir,
        (i) => mixSeed(seed, 0x5253, step, i),
      );
      const t1 = performance.now();
      const graded = await grade(options.grader, prompts, rollouts, hooks.services);
      const t2 = performance.now();

      // one GRPO update on the step's completions: prompt tokens labelled -100, then the completion
      const tokensFile = path.join(options.workDir, 'step.tokens');
      await engine.writeTokenFile(
        tokensFile,
        rollouts.map((r) => {
          const promptIds = (prompts[r.prompt] as RftPrompt).promptIds;
          return {
            inputIds: [...promptIds, ...r.completionIds],
            labels: [...promptIds.map(() => -100), ...r.completionIds],
          };
        }),
      );
      const nextAdapter = path.join(options.workDir, 'adapters', `step-${step}`);
      let progress: TrainProgress | undefined;
      const result = await engine.startTraining(
        {
          modelDir: options.modelDir,
          outputDir: nextAdapter,
          trainTokens: tokensFile,
          full: false,
          lora: settings.lora,
          batchSize: indices.length,
          gradAccumSteps: 1,
          nEpochs: 1,
          maxSeqLen: settings.maxSeqLength,
          learningRate: settings.learningRate,
          lrScheduler: settings.lrScheduler,
          warmupRatio: settings.warmupRatio,
          weightDecay: settings.weightDecay,
          maxGradNorm: settings.maxGradNorm,
          seed,
          threads: options.threads,
          objective: {
            method: 'grpo',
            rewards: graded.outcomes.map((o) => o.reward),
            numGenerations: G,
            grpoLossType: rft.lossType,
            beta: rft.beta,
            epsilon: rft.epsilon,
            maxCompletionLength: rft.maxCompletionTokens,
            scaleRewards: rft.scaleRewards,
            temperature: rft.temperature,
          },
          ...(adapterDir ? { continueState: path.join(options.workDir, STATE) } : {}),
          saveState: path.join(options.workDir, STATE),
          scheduleSteps: totalSteps,
        },
        (p) => {
          progress = p;
        },
      ).result;
      trainedTokens += result.trainedTokens;
      lastLoss = result.finalTrainLoss;
      if (adapterDir) {
        generator.unloadAdapter(adapterDir);
        fs.rmSync(adapterDir, { recursive: true, force: true });
      }
      adapterDir = nextAdapter;
      state = { step, seed, samplerStream: step, elapsedS: state.elapsedS };
      const t3 = performance.now();

      // validation with the updated adapter: every evalInterval steps and at the end
      const last = step === totalSteps;
      const evalStep = step % rft.evalInterval === 0 || last;
      let valid: RewardSummary | undefined;
      let validSamples: RftSample[] = [];
      if (evalStep && validPrompts.length > 0) {
        const validRollouts = await sample(
          generator,
          tokenizer,
          validPrompts,
          validPrompts.map((_, i) => i),
          rft.evalSamples,
          rft,
          settings.maxSeqLength,
          adapterDir,
          (i) => mixSeed(seed, 0x5641, step, i),
        );
        const validGraded = await grade(options.grader, validPrompts, validRollouts, hooks.services);
        valid = validGraded.summary;
        validSamples = samplesOf(validRollouts, validGraded.outcomes, validPrompts);
      }
      const t4 = performance.now();
      const checkpointPath =
        !last && (evalStep || step % options.checkpointEverySteps === 0) ? checkpoint() : '';
      const metrics: Record<string, number> = { ...(progress?.metrics ?? {}) };
      metrics.loss = result.finalTrainLoss;
      metrics.learning_rate = progress?.learningRate ?? 0;
      metrics.grad_norm = progress?.gradNorm ?? 0;
      hooks.onProgress({
        step,
        totalSteps,
        epoch: step / perEpoch,
        train: graded.summary,
        ...(valid ? { valid } : {}),
        metrics,
        timing: {
          sampling: (t1 - t0) / 1000,
          training: (t3 - t2) / 1000,
          eval: (t4 - t3) / 1000,
          full_iteration: (t4 - t0) / 1000,
        },
        samples:
          step === 1 || evalStep ? [...samplesOf(rollouts, graded.outcomes, prompts), ...validSamples] : [],
        checkpointPath,
        resumedFromStep,
        elapsedS: elapsed(),
      });
      resumedFromStep = -1;
    }
    if (!adapterDir) throw new Error('no training step ran');
    copyDir(adapterDir, options.outputDir);
    return {
      steps: totalSteps,
      totalSteps,
      trainedTokens,
      finalTrainLoss: lastLoss,
      cancelled: false,
      outputDir: options.outputDir,
      checkpoints,
    };
  } finally {
    generator.close();
  }
}
