/** Shared setup of the worker tests: a data folder, the registry on the built-in model, datasets, waiting. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FineTuningJob } from '../../../emulator/contract/jobs';
import { openStore, organizationIdForKey, projectIdForKey, type Store } from '../../../emulator/store';
import { ModelRegistry } from '../../../emulator/worker/models';
import { Scheduler } from '../../../emulator/worker/scheduler';
import { builtinModelDir } from '../../../native/index';
import { chatJsonl, MEMORIZE_QA } from '../../memorize-qa';

export const KEY = 'worker-test-key';
export const PROJECT = projectIdForKey(KEY);
export const ORG = organizationIdForKey(KEY);

/** The first 12 pairs of the memorize set. */
export const QA: [string, string][] = MEMORIZE_QA.slice(0, 12);

export { chatJsonl };

/** 12 examples, batch 2, 5 epochs: 30 steps of a few tens of milliseconds each on the built-in model. */
export const SMALL_RUN = { batch_size: 2, n_epochs: 5 } as const;

export interface Harness {
  dir: string;
  store: Store;
  scheduler: Scheduler;
  close(): Promise<void>;
}

export function openHarness(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunekit-worker-'))): Harness {
  const store = openStore(dir);
  const models = new ModelRegistry({ store, builtinDir: builtinModelDir() });
  const scheduler = new Scheduler({ store, models, threads: 1, stopTimeoutMs: 30_000 });
  scheduler.start();
  return {
    dir,
    store,
    scheduler,
    close: async () => {
      await scheduler.stop();
      store.close();
    },
  };
}

export async function upload(store: Store, text: string, purpose: 'fine-tune' | 'batch' = 'fine-tune') {
  async function* content() {
    yield Buffer.from(text);
  }
  return store.files.createFromUpload(PROJECT, { filename: 'data.jsonl', purpose, content: content() });
}

/** Resolves with the job once it is in one of `statuses`. */
export function waitForStatus(
  store: Store,
  jobId: string,
  statuses: FineTuningJob['status'][],
): Promise<FineTuningJob> {
  return new Promise((resolve) => {
    const check = () => {
      const job = store.jobs.get(PROJECT, jobId);
      if (job && statuses.includes(job.status)) {
        unsubscribe();
        resolve(job);
        return true;
      }
      return false;
    };
    const unsubscribe = store.subscribe(jobId, (update) => {
      if (update.kind === 'status') check();
    });
    check();
  });
}

/** Resolves once a metrics event at `step` or later has been recorded. */
export function waitForStep(store: Store, jobId: string, step: number): Promise<void> {
  return new Promise((resolve) => {
    const unsubscribe = store.subscribe(jobId, (update) => {
      if (
        update.kind === 'event' &&
        update.event.type === 'metrics' &&
        (update.event.data as { step: number }).step >= step
      ) {
        unsubscribe();
        resolve();
      }
    });
  });
}

/** Messages of a job's events, oldest first. */
export function messages(store: Store, jobId: string): string[] {
  return store.events.since(jobId, 0).map((s) => s.event.message);
}

export function metricsSteps(store: Store, jobId: string): number[] {
  return store.events
    .since(jobId, 0)
    .filter((s) => s.event.type === 'metrics')
    .map((s) => (s.event.data as { step: number }).step);
}

/** adapter_model.safetensors of the job's final model. */
export function finalAdapterBytes(store: Store, job: FineTuningJob): Buffer {
  const record = store.models.find(PROJECT, job.fine_tuned_model as string);
  const dir = store.adapters.dir(PROJECT, record?.adapterId as string) as string;
  return fs.readFileSync(path.join(dir, 'adapter_model.safetensors'));
}
