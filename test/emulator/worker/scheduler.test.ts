import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmulatorError, openStore } from '../../../emulator/store';
import { ModelRegistry } from '../../../emulator/worker/models';
import { Scheduler } from '../../../emulator/worker/scheduler';
import { exitsWithin } from './crash-scenarios';
import {
  chatJsonl,
  finalAdapterBytes,
  type Harness,
  messages,
  metricsSteps,
  ORG,
  openHarness,
  PROJECT,
  QA,
  SMALL_RUN,
  upload,
  waitForStatus,
  waitForStep,
} from './helpers';

const SEED = 1234;
let harness: Harness;
let referenceRun: Promise<Buffer> | undefined;

/**
 * The final adapter of an uninterrupted SMALL_RUN with SEED: whichever test needs it first runs it (or the first
 * test, which trains exactly that job, provides it), so every test also passes alone.
 */
function reference(): Promise<Buffer> {
  referenceRun ??= (async () => {
    const file = await upload(harness.store, chatJsonl(QA));
    const job = await waitForStatus(harness.store, create(file.id).id, ['succeeded', 'failed']);
    expect(job.status).toBe('succeeded');
    return finalAdapterBytes(harness.store, job);
  })();
  return referenceRun;
}

function create(trainingFile: string, extra: Record<string, unknown> = {}) {
  return harness.scheduler.createJob(PROJECT, ORG, {
    model: 'tunekit-tiny-chat',
    training_file: trainingFile,
    seed: SEED,
    method: { type: 'supervised', supervised: { hyperparameters: SMALL_RUN } },
    ...extra,
  });
}

/** Pids of the processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

beforeAll(() => {
  harness = openHarness();
});

afterAll(async () => {
  await harness.close();
  fs.rmSync(harness.dir, { recursive: true, force: true });
});

describe('a job on the built-in model', () => {
  it('goes validating_files → queued → running → succeeded with falling loss, checkpoints, adapters and results', async () => {
    const file = await upload(harness.store, chatJsonl(QA));
    const created = create(file.id);
    expect(created.status).toBe('validating_files');
    const job = await waitForStatus(harness.store, created.id, ['succeeded', 'failed']);
    expect(job.error).toBeNull();
    expect(job.status).toBe('succeeded');
    referenceRun ??= Promise.resolve(finalAdapterBytes(harness.store, job));

    expect(job.fine_tuned_model).toBe(`ft:tunekit-tiny-chat:tunekit::${job.id.slice(-8)}`);
    expect(job.hyperparameters).toEqual({ batch_size: 2, learning_rate_multiplier: 1, n_epochs: 5 });
    expect(job.finished_at).toBeGreaterThanOrEqual(job.created_at);
    expect(job.estimated_finish).toBeNull();
    expect(job.training_type).toMatchObject({ type: 'lora', r: 16, alpha: 32 });

    const log = messages(harness.store, job.id);
    const steps = metricsSteps(harness.store, job.id);
    expect(steps).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const checkpointEvents = log.filter((m) => m.startsWith('Checkpoint created at step'));
    expect(log.filter((m) => !m.startsWith('Step ') && !m.startsWith('Checkpoint created'))).toEqual([
      `Created fine-tuning job: ${job.id}`,
      `Validating training file: ${job.training_file}`,
      'Files validated, moving job to queued state',
      'Fine-tuning job started',
      `New fine-tuned model created: ${job.fine_tuned_model}`,
      'The job has successfully completed',
    ]);
    const started = harness.store.events
      .since(job.id, 0)
      .find((s) => s.event.message === 'Fine-tuning job started');
    expect(started?.event.data).toBeNull();

    const metrics = harness.store.events
      .since(job.id, 0)
      .filter((s) => s.event.type === 'metrics')
      .map((s) => s.event);
    expect(metrics[0]!.message).toMatch(/^Step 1\/30: training loss=\d+\.\d\d$/);
    expect(Object.keys(metrics[0]!.data as object)).toEqual([
      'step',
      'train_loss',
      'total_steps',
      'train_mean_token_accuracy',
      'learning_rate',
      'tokens',
    ]);
    // Scored tokens per step: every step trains on some.
    for (const m of metrics) expect((m.data as { tokens: number }).tokens).toBeGreaterThan(0);
    const losses = metrics.map((m) => (m.data as { train_loss: number }).train_loss);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-6))).toBeLessThan(mean(losses.slice(0, 6)) - 0.5);

    // Default n_checkpoints = min(3, epochs): the ends of epochs 3 and 4, then the final model.
    const checkpoints = harness.store.checkpoints.list(PROJECT, job.id, { limit: 10 }).data;
    expect(checkpoints.map((c) => c.step_number)).toEqual([30, 24, 18]);
    expect(checkpoints[0]!.fine_tuned_model_checkpoint).toBe(job.fine_tuned_model);
    expect(checkpoints[1]!.fine_tuned_model_checkpoint).toMatch(
      /^ft:tunekit-tiny-chat:tunekit::[A-Za-z0-9]{8}:ckpt-step-24$/,
    );
    expect(checkpoints[1]!.metrics).toMatchObject({ step: 24 });
    expect(checkpointEvents).toEqual([
      `Checkpoint created at step 18 with Snapshot ID: ${checkpoints[2]!.fine_tuned_model_checkpoint}`,
      `Checkpoint created at step 24 with Snapshot ID: ${checkpoints[1]!.fine_tuned_model_checkpoint}`,
    ]);
    expect(
      harness.store.models.find(PROJECT, checkpoints[1]!.fine_tuned_model_checkpoint)?.checkpointStep,
    ).toBe(24);

    const adapters = harness.store.adapters.list(PROJECT, { limit: 10, fineTuningJobId: job.id }).data;
    expect(adapters.map((a) => a.step)).toEqual([30, 24, 18]);
    for (const adapter of adapters) {
      const dir = harness.store.adapters.dir(PROJECT, adapter.id)!;
      expect(fs.existsSync(path.join(dir, 'adapter_config.json'))).toBe(true);
      expect(adapter.bytes).toBe(fs.statSync(path.join(dir, 'adapter_model.safetensors')).size);
    }

    expect(job.result_files).toHaveLength(1);
    const results = harness.store.files.get(PROJECT, job.result_files[0]!)!;
    expect(results).toMatchObject({ purpose: 'fine-tune-results', filename: 'step_metrics.csv' });
    const csv = fs
      .readFileSync(harness.store.files.blobPath(PROJECT, results.id)!, 'utf8')
      .trim()
      .split('\n');
    expect(csv[0]).toBe('step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy');
    expect(csv).toHaveLength(31);
    expect(csv[30]).toMatch(/^30,[0-9.e-]+,[0-9.e-]+,,$/);

    const dataset = harness.store.jobs.record(job.id)!.runtime.resolved as { training: { nTokens: number } };
    expect(job.trained_tokens).toBe(dataset.training.nTokens * 5);
    expect(fs.existsSync(path.join(harness.store.paths.jobDir(job.id), 'checkpoints'))).toBe(false);
  });

  it('reports validation loss, full validation loss and the validation file in the messages', async () => {
    const training = await upload(harness.store, chatJsonl(QA));
    const validation = await upload(harness.store, chatJsonl(QA.slice(0, 3)));
    const created = create(training.id, { validation_file: validation.id });
    const job = await waitForStatus(harness.store, created.id, ['succeeded', 'failed']);
    expect(job.status).toBe('succeeded');
    const log = messages(harness.store, job.id);
    expect(log[1]).toBe(`Validating training file: ${training.id} and validation file: ${validation.id}`);
    expect(
      log.some((m) => /^Step \d+\/30: training loss=\d+\.\d\d, validation loss=\d+\.\d\d$/.test(m)),
    ).toBe(true);
    expect(log).toContain(
      log.find((m) =>
        /^Step 30\/30: training loss=\d+\.\d\d, validation loss=\d+\.\d\d, full validation loss=\d+\.\d\d$/.test(
          m,
        ),
      ),
    );
    const last = harness.store.events
      .since(job.id, 0)
      .filter((s) => s.event.type === 'metrics')
      .at(-1)!.event;
    expect(Object.keys(last.data as object)).toEqual([
      'step',
      'train_loss',
      'valid_loss',
      'total_steps',
      'full_valid_loss',
      'train_mean_token_accuracy',
      'valid_mean_token_accuracy',
      'full_valid_mean_token_accuracy',
      'learning_rate',
      'tokens',
    ]);
  });
});

describe('training variants', () => {
  it('spreads n_checkpoints evenly when there are more than epochs', async () => {
    const file = await upload(harness.store, chatJsonl(QA));
    const created = create(file.id, {
      n_checkpoints: 4,
      method: { type: 'supervised', supervised: { hyperparameters: { batch_size: 4, n_epochs: 2 } } },
    });
    const job = await waitForStatus(harness.store, created.id, ['succeeded', 'failed']);
    expect(job.status).toBe('succeeded');
    expect(job.n_checkpoints).toBe(4);
    const steps = harness.store.checkpoints
      .list(PROJECT, job.id, { limit: 10 })
      .data.map((c) => c.step_number);
    expect(steps).toEqual([6, 4, 2]);
  });

  it('trains every weight with training_type full and serves the result as a model folder, with no adapter', async () => {
    const file = await upload(harness.store, chatJsonl(QA));
    const created = create(file.id, {
      training_type: { type: 'full' },
      method: { type: 'supervised', supervised: { hyperparameters: { batch_size: 6, n_epochs: 2 } } },
    });
    const job = await waitForStatus(harness.store, created.id, ['succeeded', 'failed']);
    expect(job.error).toBeNull();
    expect(job.training_type).toEqual({ type: 'full' });
    expect(harness.store.adapters.list(PROJECT, { limit: 10, fineTuningJobId: job.id }).data).toEqual([]);
    const model = harness.store.models.find(PROJECT, job.fine_tuned_model!)!;
    expect(model.adapterId).toBeNull();
    expect(fs.existsSync(path.join(model.weightsDir!, 'model.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(model.weightsDir!, 'config.json'))).toBe(true);
  });
});

describe('bad requests and bad data', () => {
  it('refuses unsupported methods, unknown models and unusable files with 400s naming the parameter', async () => {
    const file = await upload(harness.store, chatJsonl(QA));
    const batchFile = await upload(harness.store, chatJsonl(QA), 'batch');
    const attempt = (params: Record<string, unknown>) => {
      try {
        harness.scheduler.createJob(PROJECT, ORG, {
          model: 'tunekit-tiny-chat',
          training_file: file.id,
          ...params,
        });
      } catch (error) {
        expect(error).toBeInstanceOf(EmulatorError);
        const e = error as EmulatorError;
        return { status: e.status, param: e.param, code: e.code, message: e.message };
      }
      throw new Error('expected an EmulatorError');
    };
    expect(attempt({ model: 'o4-mini-2025-04-16', method: { type: 'dpo' } })).toMatchObject({
      status: 400,
      param: 'model',
      message: expect.stringMatching(/'dpo'.*reinforcement fine-tuning only/),
    });
    expect(attempt({ model: 'no-such-model' })).toMatchObject({
      status: 400,
      param: 'model',
      code: 'model_not_available',
    });
    expect(attempt({ training_file: 'file-nope' })).toMatchObject({ status: 400, param: 'training_file' });
    expect(attempt({ training_file: batchFile.id })).toMatchObject({
      status: 400,
      param: 'training_file',
      code: 'invalid_file_purpose',
    });
    expect(attempt({ validation_file: 'file-nope' })).toMatchObject({
      status: 400,
      param: 'validation_file',
    });
  });

  it('fails the job with model_not_available when the model folder has no weights', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunekit-nomodel-'));
    const store = openStore(path.join(dir, 'data'));
    const scheduler = new Scheduler({
      store,
      models: new ModelRegistry({ store, builtinDir: path.join(dir, 'absent') }),
    });
    scheduler.start();
    try {
      const file = await store.files.createFromUpload(PROJECT, {
        filename: 'd.jsonl',
        purpose: 'fine-tune',
        content: (async function* () {
          yield Buffer.from(chatJsonl(QA));
        })(),
      });
      const created = scheduler.createJob(PROJECT, ORG, { model: 'gpt-4o-mini', training_file: file.id });
      const job = await waitForStatus(store, created.id, ['failed', 'succeeded']);
      expect(job.error).toMatchObject({ code: 'model_not_available', param: 'model' });
      expect(job.error!.message).toMatch(/^The weights of model gpt-4o-mini are missing from /);
    } finally {
      await scheduler.stop();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails a job with too few examples with invalid_n_examples, and a bad line with invalid_training_file', async () => {
    const few = await upload(harness.store, chatJsonl(QA.slice(0, 7)));
    const fewJob = await waitForStatus(harness.store, create(few.id).id, ['failed', 'succeeded']);
    expect(fewJob.status).toBe('failed');
    expect(fewJob.error).toEqual({
      code: 'invalid_n_examples',
      message: 'Training file has 7 example(s), but must have at least 10 examples',
      param: 'training_file',
    });
    expect(fewJob.finished_at).toBeNull();

    const badText = chatJsonl(QA).replace('"role":"user"', '"role":"robot"');
    const bad = await upload(harness.store, badText);
    const badJob = await waitForStatus(harness.store, create(bad.id).id, ['failed', 'succeeded']);
    expect(badJob.error).toEqual({
      code: 'invalid_training_file',
      param: 'training_file',
      message:
        'The job failed due to an invalid training file. Invalid file format. Line 1: message 1: unknown role "robot" ' +
        '(expected one of system, developer, user, assistant, tool, function).',
    });
    const last = harness.store.events.list(PROJECT, badJob.id, { limit: 1 }).data[0]!;
    expect(last).toMatchObject({ level: 'error', message: badJob.error!.message });
  });
});

describe('cancel, pause, resume and shutdown', () => {
  it('cancels a running job: it stays cancelled and produces no model', async () => {
    const file = await upload(harness.store, chatJsonl(QA));
    const created = create(file.id);
    await waitForStep(harness.store, created.id, 3);
    const cancelled = harness.scheduler.cancel(PROJECT, created.id);
    expect(cancelled.status).toBe('cancelled');
    await harness.scheduler.idle();
    const job = harness.store.jobs.get(PROJECT, created.id)!;
    expect(job.status).toBe('cancelled');
    expect(job.fine_tuned_model).toBeNull();
    expect(messages(harness.store, job.id)).toContain('Fine-tuning job cancelled');
    expect(() => harness.scheduler.pause(PROJECT, job.id)).toThrow(EmulatorError);
    expect(() => harness.scheduler.resume(PROJECT, job.id)).toThrow(EmulatorError);
  });

  it('pauses at a checkpoint and resumes to the same adapter bytes as an uninterrupted run', async () => {
    const file = await upload(harness.store, chatJsonl(QA));
    const created = create(file.id);
    await waitForStep(harness.store, created.id, 5);
    expect(harness.scheduler.pause(PROJECT, created.id).status).toBe('paused');
    await harness.scheduler.idle();
    const paused = harness.store.jobs.get(PROJECT, created.id)!;
    expect(paused.status).toBe('paused');
    const pausedAt = metricsSteps(harness.store, created.id).at(-1)!;
    expect(pausedAt).toBeLessThan(30);
    expect(harness.scheduler.resume(PROJECT, created.id).status).toBe('queued');
    const job = await waitForStatus(harness.store, created.id, ['succeeded', 'failed']);
    expect(job.status).toBe('succeeded');
    expect(metricsSteps(harness.store, job.id)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const log = messages(harness.store, job.id);
    expect(log).toContain('Fine-tuning job paused');
    expect(log).toContain('Fine-tuning job resumed');
    expect(log.filter((m) => m === 'Fine-tuning job started')).toHaveLength(1);
    expect(finalAdapterBytes(harness.store, job).equals(await reference())).toBe(true);
  });

  it('stops at a checkpoint on shutdown, re-queues, and finishes identically after a restart', async () => {
    const file = await upload(harness.store, chatJsonl(QA));
    const created = create(file.id);
    await waitForStep(harness.store, created.id, 5);
    await harness.close();
    expect(harness.store.jobs).toBeDefined();
    harness = openHarness(harness.dir);
    const requeued = harness.store.events.since(created.id, 0).map((s) => s.event.message);
    expect(
      requeued.some((m) => m.startsWith('The emulator is shutting down; training stopped at step')),
    ).toBe(true);
    const job = await waitForStatus(harness.store, created.id, ['succeeded', 'failed']);
    expect(job.status).toBe('succeeded');
    expect(
      messages(harness.store, job.id).some((m) =>
        /^Resumed training from the checkpoint at step \d+$/.test(m),
      ),
    ).toBe(true);
    expect(finalAdapterBytes(harness.store, job).equals(await reference())).toBe(true);
  });
});

describe('crashes', () => {
  it('fails the job with server_error when the trainer process dies, and keeps working', async () => {
    const file = await upload(harness.store, chatJsonl(QA));
    const created = create(file.id);
    await waitForStep(harness.store, created.id, 2);
    // The trainer is this process's only long-lived child (`ps` itself is gone by the time we kill).
    for (const pid of childrenOf(process.pid)) killIfAlive(pid);
    const job = await waitForStatus(harness.store, created.id, ['failed', 'succeeded']);
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'server_error', param: null });
    expect(job.error!.message).toMatch(
      /^The trainer process ended unexpectedly \(signal SIGKILL\) at step \d+\.$/,
    );
    const next = await waitForStatus(harness.store, create(file.id).id, ['failed', 'succeeded']);
    expect(next.status).toBe('succeeded');
  });

  it('after kill -9 of the process its trainer dies too, and a restart resumes the job to identical adapter bytes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunekit-crash-'));
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const target = spawn(
      process.execPath,
      ['--import', tsx, path.join(import.meta.dirname, 'crash-target.ts'), dir, String(SEED)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let jobId = '';
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      target.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        jobId ||= /job (ftjob-\w+)/.exec(buffered)?.[1] ?? '';
        const steps = [...buffered.matchAll(/step (\d+)/g)].map((m) => Number(m[1]));
        if (Math.max(0, ...steps) >= 9) resolve();
      });
      target.once('exit', () => reject(new Error('the crash target exited before training got far enough')));
    });
    const trainers = childrenOf(target.pid!);
    expect(trainers.length).toBeGreaterThan(0);
    target.kill('SIGKILL');
    await new Promise((resolve) => target.once('exit', resolve));
    // The trainer dies with its server, by itself (PR_SET_PDEATHSIG): it must not write a checkpoint the
    // restart would find.
    for (const pid of trainers) expect(await exitsWithin(pid, 10_000)).toBe(true);

    const restarted = openHarness(dir);
    try {
      const job = await waitForStatus(restarted.store, jobId, ['succeeded', 'failed']);
      expect(job.status).toBe('succeeded');
      const log = messages(restarted.store, jobId);
      expect(
        log.some((m) =>
          /^The emulator restarted while the job was running; it resumes from its last checkpoint \(step \d+\)$/.test(
            m,
          ),
        ),
      ).toBe(true);
      expect(log.some((m) => /^Resumed training from the checkpoint at step \d+$/.test(m))).toBe(true);
      expect(metricsSteps(restarted.store, jobId)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(finalAdapterBytes(restarted.store, job).equals(await reference())).toBe(true);
    } finally {
      await restarted.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
