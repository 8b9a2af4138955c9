/**
 * Runs one phase of one job in a trainer child: validating its files (validating_files → queued | failed) or
 * training it (running → succeeded | failed, or stopped for pause/cancel/shutdown), turning what the child reports
 * into events, checkpoints, adapters, models and the result file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomAlphanumeric } from '../contract/common';
import type { FineTuningJob } from '../contract/jobs';
import { desirableFile, type PreparedDataset } from '../data';
import type { GraderServices } from '../graders';
import { isOutOfSpace, type JobRecord, type NewEvent, type Store } from '../store';
import { copyDirAtomic } from '../store/blobs';
import { metricsCsv, metricsEvent, TEXT } from './events';
import {
  type CheckpointPlan,
  checkpointPlan,
  estimateTotalSteps,
  evalEverySteps,
  type RftSettings,
  resolvedJobFields,
  resolveMaxSeqLength,
  resolveSettings,
  type TrainingSettings,
} from './hyperparameters';
import type { ModelRegistry } from './models';
import type { ChildMessage, EngineProgress, EngineTrainOptions, EngineTrainResult } from './protocol';
import type { RftProgress } from './rft';
import {
  rftCheckpointMetrics,
  rftGrader,
  rftMetricsCsv,
  rftMetricsEvent,
  rftSamplesEvent,
} from './rft-events';
import { TrainerChild as Child, type ChildExit, type TrainerEntry } from './trainer-child';

export interface RunnerContext {
  store: Store;
  models: ModelRegistry;
  entry: TrainerEntry;
  threads: number;
  /** True once the scheduler is shutting down: a stopped run is re-queued, not failed. */
  stopping: () => boolean;
  /** The judge of a reinforcement job's model graders (the trainer child asks over IPC). */
  graders?: (projectId: string) => GraderServices;
}

/** What a trainer reports of each step, whatever its method. */
interface StepReport {
  step: number;
  totalSteps: number;
  elapsedS: number;
  resumedFromStep: number;
  checkpointPath: string;
}

/** What the runner keeps in the job's `runtime.resolved`. */
interface ResolvedRun {
  modelDir: string;
  localModelId: string;
  maxSeqLength: number;
  training?: PreparedDataset;
  validation?: PreparedDataset;
  settings?: TrainingSettings;
  fineTunedModel?: string;
  checkpointTag?: string;
  /** Engine threads of the first start, kept for resumes: the engine's bytes depend on the thread count. */
  threads?: number;
}

const FAILED_TRAINER = 'server_error';

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function jobFiles(store: Store, jobId: string) {
  const dir = store.paths.jobDir(jobId);
  return {
    dir,
    trainTokens: path.join(dir, 'train.tokens'),
    validTokens: path.join(dir, 'valid.tokens'),
    /** A reinforcement job's prompts (data/reinforcement.ts) and its rollout loop's running state. */
    trainPrompts: path.join(dir, 'train.prompts.json'),
    validPrompts: path.join(dir, 'valid.prompts.json'),
    rftWork: path.join(dir, 'rft'),
    checkpoints: path.join(dir, 'checkpoints'),
    output: path.join(dir, 'output'),
  };
}

/** The model's longest sequence: the smaller of config.json's max_position_embeddings and the tokenizer's limit. */
function modelMaxLength(modelDir: string): number {
  const read = (file: string) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(modelDir, file), 'utf8')) as Record<string, unknown>;
    } catch {
      return {};
    }
  };
  const limits = [
    read('config.json').max_position_embeddings,
    read('tokenizer_config.json').model_max_length,
  ].filter((n): n is number => typeof n === 'number' && n > 1 && n < 1e9);
  return limits.length > 0 ? Math.min(...limits) : 2048;
}

/** The step of the newest committed checkpoint, the one a resume starts from, or null. */
export function committedCheckpointStep(record: JobRecord): number | null {
  return record.runtime.checkpoints?.at(-1) ?? null;
}

function fail(
  store: Store,
  jobId: string,
  from: FineTuningJob['status'][],
  code: string,
  message: string,
  param: string | null = null,
) {
  return store.jobs.transition(jobId, {
    from,
    to: 'failed',
    patch: { error: { code, message, param }, estimated_finish: null },
    events: [{ level: 'error', message }],
  });
}

/**
 * Fails a running training: `insufficient_storage` naming the data folder when a write found the disk full, else
 * `code`. The job's engine files go first (a failed job never resumes; on a full disk that space is what the
 * server needs to record the failure and keep serving). A failure that cannot be recorded either (the database
 * itself cannot write) leaves the job running, re-queued at the next start: it is reported, never thrown.
 */
function failTraining(store: Store, jobId: string, code: string, message: string): void {
  const files = jobFiles(store, jobId);
  try {
    if (store.jobs.record(jobId)?.job.status !== 'running') return; // paused or cancelled meanwhile
    for (const dir of [files.checkpoints, files.output]) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // Left behind (e.g. a mount point): the failure is still recorded.
      }
    }
    if (isOutOfSpace(message)) {
      fail(
        store,
        jobId,
        ['running'],
        'insufficient_storage',
        `Training stopped: the data folder ${store.paths.root} is out of disk space. Free some space and create ` +
          `the job again. (${message})`,
      );
    } else {
      fail(store, jobId, ['running'], code, message);
    }
  } catch (error) {
    console.error(`tunekit: could not record the failure of job ${jobId}: ${(error as Error).message}`);
  }
}

function describeExit(exit: ChildExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

/** A phase running in a child; `stop` asks training to end at a checkpoint, `kill` ends the child at once. */
export interface ActiveRun {
  phase: 'validation' | 'training';
  done: Promise<void>;
  stop(): void;
  kill(): void;
}

// ------------------------------------------------------------------------------------------------ validation

export function startValidation(ctx: RunnerContext, record: JobRecord): ActiveRun {
  const { store } = ctx;
  const { job } = record;
  // A job on a LoRA fine-tuned model trains a new adapter on that model's weights merged into its base.
  const model = ctx.models.trainingBase(record.projectId, job.model);
  const missing = !model
    ? `Model ${job.model} is not available.`
    : model.merges.length === 0 && !fs.existsSync(path.join(model.modelDir, 'config.json'))
      ? `The weights of model ${job.model} are missing from ${model.modelDir} ` +
        '(the built-in model is generated by `npm run build:native`).'
      : undefined;
  if (!model || missing) {
    fail(store, job.id, ['validating_files'], 'model_not_available', missing as string, 'model');
    return { phase: 'validation', done: Promise.resolve(), stop() {}, kill() {} };
  }
  const files = jobFiles(store, job.id);
  fs.mkdirSync(files.dir, { recursive: true });
  const trainingPath = store.files.blobPath(record.projectId, job.training_file);
  const validationPath = job.validation_file
    ? store.files.blobPath(record.projectId, job.validation_file)
    : undefined;
  if (!trainingPath || (job.validation_file && !validationPath)) {
    const param = trainingPath ? 'validation_file' : 'training_file';
    fail(
      store,
      job.id,
      ['validating_files'],
      'file_not_found',
      `The ${param} was deleted before it was validated.`,
      param,
    );
    return { phase: 'validation', done: Promise.resolve(), stop() {}, kill() {} };
  }
  const maxSeqLength = resolveMaxSeqLength(job, modelMaxLength(model.merges[0]?.modelDir ?? model.modelDir));
  let reply: ChildMessage | undefined;
  const child = new Child(ctx.entry, (message) => {
    reply = message;
  });
  const rl = job.method?.type === 'reinforcement';
  child.send({
    type: 'prepare',
    merges: model.merges,
    modelDir: model.modelDir,
    maxSeqLength,
    method: job.method?.type ?? 'supervised',
    training: { inputFile: trainingPath, outputFile: rl ? files.trainPrompts : files.trainTokens },
    validation: validationPath
      ? { inputFile: validationPath, outputFile: rl ? files.validPrompts : files.validTokens }
      : undefined,
  });
  const done = child.exited.then((exit) => {
    if (reply?.type === 'prepared') {
      const resolved: ResolvedRun = {
        modelDir: model.modelDir,
        localModelId: model.localId,
        maxSeqLength,
        training: reply.training,
        ...(reply.validation ? { validation: reply.validation } : {}),
      };
      store.jobs.transition(job.id, {
        from: ['validating_files'],
        to: 'queued',
        runtime: { resolved: resolved as unknown as Record<string, unknown> },
        events: [{ message: TEXT.validated }],
      });
    } else if (reply?.type === 'dataset_error') {
      fail(store, job.id, ['validating_files'], reply.code, reply.message, reply.param);
    } else if (!ctx.stopping()) {
      const why =
        reply?.type === 'error' ? reply.message : `the validation process ended (${describeExit(exit)})`;
      fail(store, job.id, ['validating_files'], FAILED_TRAINER, `The files could not be validated: ${why}`);
    }
  });
  return { phase: 'validation', done, stop: () => child.kill(), kill: () => child.kill() };
}

// -------------------------------------------------------------------------------------------------- training

/** The engine's objective of a dpo / kto job; kto reads the labels written beside its token files. */
function engineObjective(
  objective: NonNullable<TrainingSettings['objective']>,
  files: ReturnType<typeof jobFiles>,
): EngineTrainOptions['objective'] {
  if (objective.method !== 'kto') return objective;
  const flags = (file: string) => (fs.existsSync(file) ? [...fs.readFileSync(file)] : undefined);
  const valid = flags(desirableFile(files.validTokens));
  return {
    ...objective,
    desirable: flags(desirableFile(files.trainTokens)) ?? [],
    ...(valid ? { validDesirable: valid } : {}),
  };
}

/** `ft:{base}:{org}:{suffix}:{8 chars of the job id}`; the org part is `tunekit` (docs/emulator.md). */
export function fineTunedModelName(job: FineTuningJob): string {
  const base = job.model.startsWith('ft:') ? (job.model.split(':')[1] ?? job.model) : job.model;
  return `ft:${base}:tunekit:${job.user_provided_suffix ?? ''}:${job.id.slice(-8)}`;
}

function checkpointName(resolved: ResolvedRun, step: number): string {
  const [head] = (resolved.fineTunedModel as string).split(/:[^:]*$/);
  return `${head}:${resolved.checkpointTag}:ckpt-step-${step}`;
}

function adapterOrModelDir(checkpointPath: string, full: boolean): string {
  return path.join(checkpointPath, full ? 'model' : 'adapter');
}

/** How many committed engine checkpoints are kept: the newest, and one to fall back to if it is found corrupt. */
const KEEP_COMMITTED = 2;

/** `committed` with `step` committed on top (steps grow; a step redone after a resume replaces its old entry). */
function commitStep(committed: readonly number[], step: number): number[] {
  return [...committed.filter((s) => s < step), step].slice(-KEEP_COMMITTED);
}

/**
 * Removes the entries of the engine's checkpoint folder that no resume will use: every step folder not in `keep`
 * below `below` (the engine may already be writing a newer one), or, without `below` (no trainer running), every
 * entry not in `keep` — uncommitted checkpoints, `latest` and interrupted temporary files.
 */
function pruneCheckpoints(dir: string, keep: readonly number[], below?: number): void {
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const step = /^step-(\d+)$/.exec(name)?.[1];
    if (step !== undefined && keep.includes(Number(step))) continue;
    if (below !== undefined && (step === undefined || Number(step) >= below)) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Registers a listed checkpoint: its adapter, its row, its model name, its event. */
function registerCheckpoint(
  store: Store,
  record: JobRecord,
  resolved: ResolvedRun,
  p: { step: number; metrics: Record<string, number> },
  weightsDir: string,
): void {
  const { job } = record;
  const settings = resolved.settings as TrainingSettings;
  const existing = store.checkpoints.list(record.projectId, job.id, { limit: 100 }).data;
  if (existing.some((c) => c.step_number === p.step)) return;
  const name = checkpointName(resolved, p.step);
  store.transaction(() => {
    const adapter = settings.full
      ? null
      : store.adapters.insert(record.projectId, {
          jobId: job.id,
          fineTunedModel: name,
          baseModel: job.model,
          step: p.step,
          sourceDir: weightsDir,
        });
    let modelCopy: string | null = null;
    if (settings.full) {
      modelCopy = path.join(jobFiles(store, job.id).dir, 'models', `step-${p.step}`);
      fs.rmSync(modelCopy, { recursive: true, force: true }); // a copy whose row a crash rolled back
      copyDirAtomic(weightsDir, modelCopy, store.paths.tmp);
    }
    store.checkpoints.insert({
      jobId: job.id,
      step: p.step,
      metrics: p.metrics,
      modelName: name,
      adapterId: adapter?.id ?? null,
    });
    store.models.register(record.projectId, {
      id: name,
      jobId: job.id,
      baseModel: job.model,
      adapterId: adapter?.id ?? null,
      weightsDir: modelCopy,
      checkpointStep: p.step,
      ownedBy: job.organization_id,
    });
    store.events.append(job.id, { message: TEXT.checkpoint(p.step, name) });
  });
}

/** A reinforcement job keeps the listed checkpoints with the highest valid_reward_mean, as the hosted service. */
const RFT_KEPT_CHECKPOINTS = 3;

/**
 * Drops the job's listed checkpoints beyond the `keep` best by `valid_reward_mean` (`train_reward_mean` without a
 * validation file; of equal ones the older goes), with their model names and adapters.
 */
function keepBestCheckpoints(store: Store, record: JobRecord, keep: number): void {
  const listed = store.checkpoints.list(record.projectId, record.job.id, { limit: 100 }).data;
  const score = (metrics: Record<string, unknown>) =>
    Number(metrics.valid_reward_mean ?? metrics.train_reward_mean ?? Number.NEGATIVE_INFINITY);
  const ranked = [...listed].sort(
    (a, b) => score(b.metrics) - score(a.metrics) || b.step_number - a.step_number,
  );
  for (const dropped of ranked.slice(keep)) {
    const removed = store.checkpoints.remove(record.projectId, record.job.id, dropped.step_number);
    if (removed?.adapterId) store.adapters.delete(record.projectId, removed.adapterId);
  }
}

function checkpointMetrics(p: EngineProgress) {
  return {
    step: p.step,
    train_loss: p.trainLoss,
    train_mean_token_accuracy: p.trainMeanTokenAccuracy,
    ...(p.hasValid ? { valid_loss: p.validLoss, valid_mean_token_accuracy: p.validMeanTokenAccuracy } : {}),
    ...(p.isFullValid
      ? { full_valid_loss: p.fullValidLoss, full_valid_mean_token_accuracy: p.fullValidMeanTokenAccuracy }
      : {}),
  };
}

/** Moves a queued job to running and starts its training child; undefined if the job is no longer queued. */
export function startTraining(ctx: RunnerContext, record: JobRecord): ActiveRun | undefined {
  const { store } = ctx;
  const jobId = record.job.id;
  const stored = record.runtime.resolved as unknown as ResolvedRun | undefined;
  if (!stored?.training) {
    // Validated by an older run that left no notes: validate again.
    store.jobs.transition(jobId, { from: ['queued'], to: 'validating_files' });
    return undefined;
  }
  const files = jobFiles(store, jobId);
  const settings =
    stored.settings ??
    resolveSettings(record.job, {
      nExamples: stored.training.nExamples,
      localModelId: stored.localModelId,
      modelMaxLength: stored.maxSeqLength,
    });
  settings.maxSeqLength = stored.maxSeqLength;
  const resolved: ResolvedRun = {
    ...stored,
    settings,
    fineTunedModel: stored.fineTunedModel ?? fineTunedModelName(record.job),
    checkpointTag: stored.checkpointTag ?? randomAlphanumeric(8),
    threads: stored.threads ?? ctx.threads,
  };
  const totalEstimate = estimateTotalSteps(settings, stored.training);
  const plan: CheckpointPlan = checkpointPlan(settings, totalEstimate);
  const firstStart = record.runtime.attempts === 0;
  const running = store.jobs.transition(jobId, {
    from: ['queued'],
    to: 'running',
    patch: resolvedJobFields(record.job, settings),
    runtime: {
      attempts: record.runtime.attempts + 1,
      resolved: resolved as unknown as Record<string, unknown>,
      startedAt: record.runtime.startedAt ?? nowSeconds(),
    },
    events: firstStart ? [{ message: TEXT.started, data: null }] : [],
  });
  if (!running) return undefined;

  // Resume only from committed checkpoints (newest first; the engine skips one that fails its checksum). Files of
  // any other checkpoint (one a crash left before its step was recorded) go now, before the trainer starts.
  let committed = (running.runtime.checkpoints ?? []).filter((step) =>
    fs.existsSync(path.join(files.checkpoints, `step-${step}`, 'state.bin')),
  );
  pruneCheckpoints(files.checkpoints, committed);
  const resume = committed.length > 0;
  const options: EngineTrainOptions = {
    modelDir: resolved.modelDir,
    outputDir: files.output,
    checkpointDir: files.checkpoints,
    trainTokens: files.trainTokens,
    ...(stored.validation ? { validTokens: files.validTokens } : {}),
    full: settings.full,
    lora: settings.lora,
    batchSize: settings.batchSize,
    gradAccumSteps: 1,
    nEpochs: settings.nEpochs,
    maxSeqLen: settings.maxSeqLength,
    packing: settings.packing,
    learningRate: settings.learningRate,
    lrScheduler: settings.lrScheduler,
    warmupRatio: settings.warmupRatio,
    weightDecay: settings.weightDecay,
    maxGradNorm: settings.maxGradNorm,
    seed: settings.seed,
    threads: resolved.threads as number,
    checkpointEverySteps: plan.checkpointEverySteps,
    checkpointEachEpoch: plan.checkpointEachEpoch,
    evalEverySteps: stored.validation ? evalEverySteps(totalEstimate) : 0,
    ...(settings.objective ? { objective: engineObjective(settings.objective, files) } : {}),
    resume,
    ...(resume ? { resumeFrom: committed.map((step) => `step-${step}`).reverse() } : {}),
  };

  let lastStep = running.runtime.lastStep ?? 0;
  let lastProgress: EngineProgress | undefined;
  let lastRft: RftProgress | undefined;
  let final: ChildMessage | undefined;
  /**
   * A step's events, and its checkpoint's commit (and, when listed, its listing), in one transaction. Steps redone
   * after a resume were reported before the interruption: no second metrics event.
   */
  const recordStep = (
    p: StepReport,
    stepEvents: () => NewEvent[],
    listed: () => boolean,
    listing: () => { step: number; metrics: Record<string, number> },
    afterListing?: () => void,
  ) => {
    const events: NewEvent[] = [];
    if (p.resumedFromStep >= 0) {
      // Candidates newer than the step resumed from failed their checksum (or were incomplete): say so, drop them.
      for (const step of committed.filter((s) => s > p.resumedFromStep).reverse()) {
        events.push({ level: 'warn', message: TEXT.unreadableCheckpoint(step) });
      }
      committed = committed.filter((s) => s <= p.resumedFromStep);
      events.push({ message: TEXT.resumedFrom(p.resumedFromStep) });
    }
    if (p.step > lastStep) events.push(...stepEvents());
    const step = Math.max(lastStep, p.step);
    const withCheckpoint = p.checkpointPath ? commitStep(committed, p.step) : undefined;
    const secondsPerStep = p.elapsedS / Math.max(1, p.step);
    const record = (checkpoints: number[] | undefined) =>
      store.transaction(() => {
        store.jobs.update(jobId, {
          patch: { estimated_finish: nowSeconds() + Math.ceil(secondsPerStep * (p.totalSteps - p.step)) },
          runtime: { lastStep: step, checkpoints: checkpoints ?? committed },
          events,
        });
        if (checkpoints && listed()) {
          registerCheckpoint(
            store,
            running,
            resolved,
            listing(),
            adapterOrModelDir(p.checkpointPath, settings.full),
          );
          afterListing?.();
        }
      });
    try {
      record(withCheckpoint);
    } catch (error) {
      // Listing the checkpoint failed (its copy found the disk full, say): keep the step's event, then fail.
      if (withCheckpoint) record(undefined);
      lastStep = step;
      throw error;
    }
    lastStep = step;
    if (withCheckpoint) {
      committed = withCheckpoint;
      pruneCheckpoints(files.checkpoints, committed, p.step);
    }
  };
  const onProgress = (p: EngineProgress) => {
    const previous = lastProgress;
    lastProgress = p;
    recordStep(
      p,
      () => [metricsEvent(p, previous)],
      () => plan.isListed(p.step, p.epoch),
      () => ({ step: p.step, metrics: checkpointMetrics(p) }),
    );
  };
  // reinforcement: the checkpoints of validation steps are listed (the others are for resuming only)
  const onRftProgress = (p: RftProgress) => {
    lastRft = p;
    const samples = rftSamplesEvent(p);
    recordStep(
      p,
      () => [rftMetricsEvent(p, rftGrader(record.job)), ...(samples ? [samples] : [])],
      () => p.valid !== undefined || p.step % (settings.rft as RftSettings).evalInterval === 0,
      () => ({ step: p.step, metrics: rftCheckpointMetrics(p) }),
      () => keepBestCheckpoints(store, running, RFT_KEPT_CHECKPOINTS),
    );
  };
  const child = new Child(ctx.entry, (message) => {
    if (message.type === 'progress' || message.type === 'rft_progress') {
      try {
        if (message.type === 'progress') onProgress(message.progress);
        else onRftProgress(message.progress);
      } catch (error) {
        final = { type: 'error', message: `recording progress failed: ${(error as Error).message}` };
        child.kill();
      }
    } else if (message.type === 'judge') {
      const judge = ctx.graders?.(record.projectId).judge;
      const answer = judge
        ? judge(message.request)
        : Promise.reject(new Error('no judge model is available'));
      answer.then(
        (reply) => child.send({ type: 'judge_answer', id: message.id, answer: reply }),
        (error: unknown) =>
          child.send({ type: 'judge_answer', id: message.id, error: (error as Error).message }),
      );
    } else {
      final ??= message;
    }
  });
  if (settings.rft) {
    child.send({
      type: 'rft',
      options: {
        modelDir: resolved.modelDir,
        trainPrompts: files.trainPrompts,
        ...(stored.validation ? { validPrompts: files.validPrompts } : {}),
        workDir: files.rftWork,
        checkpointDir: files.checkpoints,
        outputDir: files.output,
        settings: settings as TrainingSettings & { rft: RftSettings },
        grader: rftGrader(record.job),
        threads: resolved.threads as number,
        checkpointEverySteps: plan.checkpointEverySteps,
        ...(resume ? { resumeFrom: committed.map((step) => `step-${step}`).reverse() } : {}),
      },
    });
  } else {
    child.send({ type: 'train', options });
  }

  const done = child.exited.then((exit) => {
    try {
      finish(exit);
    } catch (error) {
      failTraining(
        store,
        jobId,
        FAILED_TRAINER,
        `Recording the trained model failed: ${(error as Error).message}`,
      );
    }
  });
  const finish = (exit: ChildExit) => {
    if (final?.type === 'trained' && final.result.cancelled) commitStopCheckpoint(final.result);
    const current = store.jobs.record(jobId);
    if (current?.job.status !== 'running') return; // paused or cancelled meanwhile: nothing to record
    if (final?.type === 'trained' && !final.result.cancelled) {
      const steps = lastRft?.totalSteps ?? lastProgress?.totalSteps ?? final.result.steps;
      const metrics = lastRft
        ? rftCheckpointMetrics(lastRft)
        : lastProgress
          ? checkpointMetrics(lastProgress)
          : { step: steps };
      succeed(store, current, resolved, steps, metrics, lastRft ? final.result.trainedTokens : undefined);
      fs.rmSync(files.checkpoints, { recursive: true, force: true });
      fs.rmSync(files.rftWork, { recursive: true, force: true });
    } else if (ctx.stopping()) {
      store.jobs.transition(jobId, {
        from: ['running'],
        to: 'queued',
        patch: { estimated_finish: null },
        events: [{ message: TEXT.shutdown(committed.at(-1) ?? null) }],
      });
    } else if (final?.type === 'error') {
      failTraining(store, jobId, 'training_failed', `Training failed: ${final.message}`);
    } else {
      failTraining(
        store,
        jobId,
        FAILED_TRAINER,
        `The trainer process ended unexpectedly (${describeExit(exit)}) at step ${lastStep}.`,
      );
    }
  };
  /**
   * A stop (pause, cancel, shutdown) ends with a checkpoint at the last step, which has no progress report of its
   * own: it is committed here, once that step's event is known to be recorded.
   */
  const commitStopCheckpoint = (result: EngineTrainResult) => {
    const stop = result.checkpoints.at(-1)?.step;
    if (stop === undefined || stop !== result.steps || stop > lastStep || committed.includes(stop)) return;
    committed = commitStep(committed, stop);
    store.jobs.update(jobId, { runtime: { checkpoints: committed } });
    pruneCheckpoints(files.checkpoints, committed);
  };
  return { phase: 'training', done, stop: () => child.send({ type: 'stop' }), kill: () => child.kill() };
}

/** Final adapter, final checkpoint, model name, result file and the `succeeded` state, in one transaction. */
function succeed(
  store: Store,
  record: JobRecord,
  resolved: ResolvedRun,
  steps: number,
  finalMetrics: Record<string, number>,
  /** reinforcement: the sampled completion tokens trained on (its billable work); else the file's tokens count. */
  rolloutTokens: number | undefined,
): void {
  const { job, projectId } = record;
  const settings = resolved.settings as TrainingSettings;
  const files = jobFiles(store, job.id);
  const name = resolved.fineTunedModel as string;
  const metricsRows = store.events
    .since(job.id, 0)
    .filter((s) => s.event.type === 'metrics')
    .map((s) => s.event.data as Record<string, unknown>);
  store.transaction(() => {
    const adapter = settings.full
      ? null
      : store.adapters.insert(projectId, {
          jobId: job.id,
          fineTunedModel: name,
          baseModel: job.model,
          step: steps,
          sourceDir: files.output,
        });
    store.checkpoints.insert({
      jobId: job.id,
      step: steps,
      metrics: finalMetrics,
      modelName: name,
      adapterId: adapter?.id ?? null,
    });
    store.models.register(projectId, {
      id: name,
      jobId: job.id,
      baseModel: job.model,
      adapterId: adapter?.id ?? null,
      weightsDir: settings.full ? files.output : null,
      checkpointStep: null,
      ownedBy: job.organization_id,
    });
    const results = store.files.createFromBuffer(projectId, {
      filename: 'step_metrics.csv',
      purpose: 'fine-tune-results',
      data: Buffer.from(rolloutTokens === undefined ? metricsCsv(metricsRows) : rftMetricsCsv(metricsRows)),
    });
    // Billable tokens as the hosted service counts them: every token of the training file, once per epoch.
    const trainedTokens = rolloutTokens ?? (resolved.training as PreparedDataset).nTokens * settings.nEpochs;
    const done = store.jobs.transition(job.id, {
      from: ['running'],
      to: 'succeeded',
      patch: {
        fine_tuned_model: name,
        finished_at: nowSeconds(),
        trained_tokens: trainedTokens,
        result_files: [results.id],
        estimated_finish: null,
      },
      events: [{ message: TEXT.modelCreated(name) }, { message: TEXT.succeeded }],
    });
    if (!done) throw new Error(`job ${job.id} left the running state while it was being completed`);
  });
}
