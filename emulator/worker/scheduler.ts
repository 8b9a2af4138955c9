/**
 * The scheduler: owns the job lifecycle `validating_files → queued → running → succeeded | failed | cancelled`
 * (and `paused`). It validates new jobs, runs up to `workers` trainings at once, each in its own child process,
 * and carries out cancel / pause / resume. At start it re-queues jobs a dead process left `running`; they resume
 * from their latest checkpoint. `stop()` (SIGTERM/SIGINT) ends training at a checkpoint and re-queues it.
 */
import * as os from 'node:os';
import type { FineTuningJob, JobCreateParams } from '../contract/jobs';
import type { GraderServices } from '../graders';
import { EmulatorError, type JobUpdate, type Store } from '../store';
import { TEXT } from './events';
import {
  type ActiveRun,
  committedCheckpointStep,
  type RunnerContext,
  startTraining,
  startValidation,
} from './job-runner';
import { hostedMethodRefusal, type ModelRegistry } from './models';
import { defaultTrainerEntry, type TrainerEntry } from './trainer-child';

export interface SchedulerOptions {
  store: Store;
  models: ModelRegistry;
  /** Trainings at once (`--workers`). Default 1. */
  workers?: number;
  /** Engine threads per training. Default: the machine's parallelism divided by `workers`. */
  threads?: number;
  trainer?: TrainerEntry;
  /** The judge of reinforcement jobs' model graders, per project. */
  graders?: (projectId: string) => GraderServices;
  /** How long `stop()` waits for a training to reach its checkpoint before killing it. Default 60 s. */
  stopTimeoutMs?: number;
}

const TERMINAL = new Set<FineTuningJob['status']>(['succeeded', 'failed', 'cancelled']);

export class Scheduler {
  private readonly store: Store;
  private readonly models: ModelRegistry;
  private readonly workers: number;
  private readonly context: RunnerContext;
  private readonly active = new Map<string, ActiveRun>();
  private readonly stopTimeoutMs: number;
  private started = false;
  private stopping = false;

  constructor(options: SchedulerOptions) {
    this.store = options.store;
    this.models = options.models;
    this.workers = Math.max(1, options.workers ?? 1);
    this.stopTimeoutMs = options.stopTimeoutMs ?? 60_000;
    const threads = options.threads ?? Math.max(1, Math.floor(os.availableParallelism() / this.workers));
    this.context = {
      store: this.store,
      models: this.models,
      entry: options.trainer ?? defaultTrainerEntry(),
      threads,
      stopping: () => this.stopping,
      ...(options.graders ? { graders: options.graders } : {}),
    };
  }

  /** Re-queues what a previous process left running, then starts work. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const record of this.store.jobs.withStatus(['running'])) {
      this.store.jobs.transition(record.job.id, {
        from: ['running'],
        to: 'queued',
        patch: { estimated_finish: null },
        events: [{ message: TEXT.interrupted(committedCheckpointStep(record)) }],
      });
    }
    this.pump();
  }

  /**
   * Creates a job after the checks the hosted service makes synchronously (400s): supported method, known model,
   * files that exist in this project with purpose `fine-tune`.
   */
  createJob(projectId: string, organizationId: string, params: JobCreateParams): FineTuningJob {
    const method = params.method?.type ?? 'supervised';
    const model = this.models.resolve(projectId, params.model);
    if (!model) {
      throw new EmulatorError(
        400,
        `Model ${params.model} is not available for fine-tuning or does not exist.`,
        'model',
        'model_not_available',
      );
    }
    const refusal = hostedMethodRefusal(model, method);
    if (refusal) throw new EmulatorError(400, refusal, 'model', 'model_not_available');
    if (method === 'reinforcement' && params.training_type?.type === 'full') {
      throw new EmulatorError(
        400,
        "The 'reinforcement' fine-tuning method trains a LoRA adapter in tunekit: training_type 'full' is not " +
          'supported with it (the rollouts sample from the adapter being trained).',
        'training_type',
        'unsupported_method',
      );
    }
    this.checkFile(projectId, params.training_file, 'training_file');
    if (params.validation_file) this.checkFile(projectId, params.validation_file, 'validation_file');
    const job = this.store.jobs.create(projectId, { params, organizationId });
    this.pump();
    return job;
  }

  cancel(projectId: string, jobId: string): FineTuningJob {
    const job = this.require(projectId, jobId);
    if (job.status === 'cancelled') return job;
    if (TERMINAL.has(job.status)) {
      throw new EmulatorError(
        400,
        `Job ${jobId} has already ${job.status}; only an unfinished job can be cancelled.`,
        'fine_tuning_job_id',
        'invalid_job_state',
      );
    }
    return this.stopJob(projectId, jobId, ['validating_files', 'queued', 'running', 'paused'], 'cancelled');
  }

  pause(projectId: string, jobId: string): FineTuningJob {
    const job = this.require(projectId, jobId);
    if (job.status === 'paused') return job;
    if (job.status !== 'running' && job.status !== 'queued') {
      throw new EmulatorError(
        400,
        `Job ${jobId} is ${job.status}; only a queued or running job can be paused.`,
        'fine_tuning_job_id',
        'invalid_job_state',
      );
    }
    return this.stopJob(projectId, jobId, ['queued', 'running'], 'paused');
  }

  /** Moves the job to `to` (with its event) and stops its trainer, which leaves a checkpoint behind. */
  private stopJob(
    projectId: string,
    jobId: string,
    from: FineTuningJob['status'][],
    to: 'cancelled' | 'paused',
  ): FineTuningJob {
    const changed = this.store.jobs.transition(jobId, {
      from,
      to,
      patch: { estimated_finish: null },
      events: [{ message: TEXT[to] }],
    });
    this.active.get(jobId)?.stop();
    return changed?.job ?? this.require(projectId, jobId);
  }

  resume(projectId: string, jobId: string): FineTuningJob {
    const job = this.require(projectId, jobId);
    if (job.status !== 'paused') {
      throw new EmulatorError(
        400,
        `Job ${jobId} is ${job.status}; only a paused job can be resumed.`,
        'fine_tuning_job_id',
        'invalid_job_state',
      );
    }
    const changed = this.store.jobs.transition(jobId, {
      from: ['paused'],
      to: 'queued',
      events: [{ message: TEXT.resumed }],
    });
    this.pump();
    return changed?.job ?? this.require(projectId, jobId);
  }

  /** Live updates of one job of this project (undefined when the project has no such job). */
  subscribe(
    projectId: string,
    jobId: string,
    listener: (update: JobUpdate) => void,
  ): (() => void) | undefined {
    if (!this.store.jobs.get(projectId, jobId)) return undefined;
    return this.store.subscribe(jobId, listener);
  }

  /** Resolves when no job is validating, queued or running in this process (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.all([...this.active.values()].map((run) => run.done));
  }

  /** Stops work: trainings end at a checkpoint (re-queued for the next start), validations are abandoned. */
  async stop(): Promise<void> {
    this.stopping = true;
    const runs = [...this.active.values()];
    for (const run of runs) {
      if (run.phase === 'training') run.stop();
      else run.kill();
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const run of runs) run.kill();
        resolve();
      }, this.stopTimeoutMs);
    });
    await Promise.race([Promise.all(runs.map((run) => run.done)), timeout]);
    clearTimeout(timer);
    await Promise.all(runs.map((run) => run.done));
  }

  private require(projectId: string, jobId: string): FineTuningJob {
    const job = this.store.jobs.get(projectId, jobId);
    if (!job)
      throw new EmulatorError(
        404,
        `No such fine-tuning job: ${jobId}`,
        'fine_tuning_job_id',
        'job_not_found',
      );
    return job;
  }

  private checkFile(projectId: string, fileId: string, param: 'training_file' | 'validation_file'): void {
    const file = this.store.files.get(projectId, fileId);
    if (!file)
      throw new EmulatorError(400, `Invalid ${param}: no such file ${fileId}.`, param, 'file_not_found');
    if (file.purpose !== 'fine-tune') {
      throw new EmulatorError(
        400,
        `Invalid ${param}: ${fileId} has purpose '${file.purpose}', but fine-tuning needs a file uploaded with purpose 'fine-tune'.`,
        param,
        'invalid_file_purpose',
      );
    }
  }

  /** Starts whatever can start: every job awaiting validation, and queued jobs while a worker slot is free. */
  private pump(): void {
    if (!this.started || this.stopping) return;
    for (const record of this.store.jobs.withStatus(['validating_files'])) {
      if (!this.active.has(record.job.id)) this.track(record.job.id, startValidation(this.context, record));
    }
    let training = [...this.active.values()].filter((run) => run.phase === 'training').length;
    let sentBack = false;
    for (const record of this.store.jobs.withStatus(['queued'])) {
      if (training >= this.workers) break;
      if (this.active.has(record.job.id)) continue;
      const run = startTraining(this.context, record);
      if (run) {
        this.track(record.job.id, run);
        training++;
      } else {
        sentBack = true;
      }
    }
    // A queued job without its dataset notes went back to validating_files: validate it on the next turn.
    if (sentBack) queueMicrotask(() => this.pump());
  }

  private track(jobId: string, run: ActiveRun): void {
    this.active.set(jobId, run);
    void run.done.finally(() => {
      this.active.delete(jobId);
      this.pump();
    });
  }
}
