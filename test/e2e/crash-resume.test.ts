/**
 * Issue 4, "Done when": kill -9 the emulator (server and trainer) mid-training, restart it on the same data
 * folder; the job finishes, and its adapter bytes equal those of an uninterrupted run with the same seed.
 * Also: SIGTERM stops training at a checkpoint and the next start finishes the job.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODEL } from '../../emulator/worker/models';
import Tunekit, { toFile } from '../../src/index';
import { validatingFetch } from '../emulator/server/openapi-validator';
import { childPids, type EmulatorProcess, qaDataset, spawnEmulator } from './helpers';

let dataDir: string;
let workDir: string;
const running: EmulatorProcess[] = [];

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'tunekit-crash-'));
  workDir = mkdtempSync(join(tmpdir(), 'tunekit-crash-work-'));
});
afterAll(async () => {
  for (const emulator of running) {
    if (emulator.child.exitCode === null && emulator.child.signalCode === null) {
      emulator.child.kill('SIGKILL');
      await emulator.exited;
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

async function start(dir: string): Promise<{ emulator: EmulatorProcess; client: Tunekit }> {
  const emulator = await spawnEmulator(['--data-dir', dir]);
  running.push(emulator);
  return {
    emulator,
    client: new Tunekit({ apiKey: 'crash-key', baseURL: emulator.url, fetch: validatingFetch() }),
  };
}

const JOB = {
  model: BUILTIN_MODEL,
  seed: 77,
  n_checkpoints: 10,
  method: { type: 'supervised' as const, supervised: { hyperparameters: { n_epochs: 4, batch_size: 2 } } },
};

/** Streams events until `until` matches one; returns the messages seen. */
async function followUntil(client: Tunekit, jobId: string, until: (message: string) => boolean) {
  const seen: string[] = [];
  for await (const event of client.fineTuning.jobs.streamEvents(jobId)) {
    seen.push(event.message);
    if (until(event.message)) break;
  }
  return seen;
}

async function finalAdapterBytes(client: Tunekit, jobId: string, name: string): Promise<Buffer> {
  const job = await client.fineTuning.jobs.retrieve(jobId);
  const adapters = [];
  for await (const adapter of client.adapters.list({ fine_tuning_job_id: jobId })) adapters.push(adapter);
  const final = adapters.find((a) => a.fine_tuned_model === job.fine_tuned_model);
  expect(final, `final adapter of ${jobId}`).toBeDefined();
  const dir = join(workDir, name);
  await client.adapters.download(final!.id, dir);
  return readFileSync(join(dir, 'adapter_model.safetensors'));
}

describe('a crash mid-training', () => {
  it('resumes from the last checkpoint after kill -9 and ends with the bytes of an uninterrupted run', async () => {
    let { emulator, client } = await start(dataDir);
    const file = await client.files.create({
      file: await toFile(Buffer.from(qaDataset()), 'qa.jsonl'),
      purpose: 'fine-tune',
    });
    const createOnce = { idempotencyKey: 'crash-test-create' };
    const crashed = await client.fineTuning.jobs.create({ ...JOB, training_file: file.id }, createOnce);
    await followUntil(client, crashed.id, (m) => m.startsWith('Checkpoint created at step'));
    const trainers = childPids(emulator.child.pid!);
    expect(trainers.length).toBeGreaterThan(0);
    for (const pid of [emulator.child.pid!, ...trainers]) process.kill(pid, 'SIGKILL');
    await emulator.exited;

    ({ emulator, client } = await start(dataDir));
    // A retry of the create call after the restart gets the same job back, not a second one.
    const retried = await client.fineTuning.jobs.create({ ...JOB, training_file: file.id }, createOnce);
    expect(retried.id).toBe(crashed.id);
    const finished = await client.fineTuning.jobs.wait(crashed.id);
    expect(finished.status).toBe('succeeded');
    const messages: string[] = [];
    for await (const event of client.fineTuning.jobs.listEvents(crashed.id, { limit: 100 }))
      messages.push(event.message);
    expect(
      messages.some((m) =>
        /restarted while the job was running; it resumes from its last checkpoint/.test(m),
      ),
    ).toBe(true);
    expect((await client.files.retrieve(file.id)).id).toBe(file.id);

    const clean = await client.fineTuning.jobs.create({ ...JOB, training_file: file.id });
    expect((await client.fineTuning.jobs.wait(clean.id)).status).toBe('succeeded');
    const resumedBytes = await finalAdapterBytes(client, crashed.id, 'resumed');
    const cleanBytes = await finalAdapterBytes(client, clean.id, 'clean');
    expect(resumedBytes.length).toBeGreaterThan(0);
    expect(resumedBytes.equals(cleanBytes)).toBe(true);
  }, 240_000);

  it('stops training at a checkpoint on SIGTERM, exits 0, and finishes the job at the next start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunekit-sigterm-'));
    try {
      let { emulator, client } = await start(dir);
      const file = await client.files.create({
        file: await toFile(Buffer.from(qaDataset()), 'qa.jsonl'),
        purpose: 'fine-tune',
      });
      const job = await client.fineTuning.jobs.create({ ...JOB, training_file: file.id });
      await followUntil(client, job.id, (m) => m.startsWith('Step 2/'));
      emulator.child.kill('SIGTERM');
      expect(await emulator.exited).toEqual({ code: 0, signal: null });

      ({ emulator, client } = await start(dir));
      const stopped = await client.fineTuning.jobs.retrieve(job.id);
      expect(['queued', 'running', 'succeeded']).toContain(stopped.status);
      const finished = await client.fineTuning.jobs.wait(job.id);
      expect(finished.status).toBe('succeeded');
      const messages: string[] = [];
      for await (const event of client.fineTuning.jobs.listEvents(job.id, { limit: 100 }))
        messages.push(event.message);
      expect(messages.some((m) => m.startsWith('The emulator is shutting down; training stopped'))).toBe(
        true,
      );
      emulator.child.kill('SIGINT');
      expect(await emulator.exited).toEqual({ code: 0, signal: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
