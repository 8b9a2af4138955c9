import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EmulatorError,
  openStore,
  organizationIdForKey,
  projectIdForKey,
  type Store,
} from '../../../emulator/store';

const A = projectIdForKey('key-a');
const B = projectIdForKey('key-b');
const ORG = organizationIdForKey('key-a');

async function* chunks(...parts: (string | Error)[]): AsyncIterable<Uint8Array> {
  for (const part of parts) {
    if (part instanceof Error) throw part;
    yield Buffer.from(part);
  }
}

let dir: string;
let store: Store;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunekit-store-'));
  store = openStore(dir);
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function upload(projectId: string, text: string, filename = 'train.jsonl') {
  return store.files.createFromUpload(projectId, { filename, purpose: 'fine-tune', content: chunks(text) });
}

function createJob(projectId: string, trainingFile: string, metadata?: Record<string, string>) {
  return store.jobs.create(projectId, {
    params: {
      model: 'gpt-4o-mini-2024-07-18',
      training_file: trainingFile,
      ...(metadata ? { metadata } : {}),
    },
    organizationId: ORG,
  });
}

describe('files', () => {
  it('stores the upload as a processed file object with its bytes on disk', async () => {
    const file = await upload(A, '{"a":1}\n');
    expect(file).toMatchObject({ object: 'file', bytes: 8, filename: 'train.jsonl', purpose: 'fine-tune' });
    expect(file.id).toMatch(/^file-[A-Za-z0-9]{24}$/);
    expect(file.status).toBe('processed');
    expect(file.status_details).toBeNull();
    expect(fs.readFileSync(store.files.blobPath(A, file.id)!, 'utf8')).toBe('{"a":1}\n');
  });

  it('leaves no row and no blob when the upload stream fails midway', async () => {
    const failing = store.files.createFromUpload(A, {
      filename: 'x.jsonl',
      purpose: 'fine-tune',
      content: chunks('{"a":', new Error('connection reset')),
    });
    await expect(failing).rejects.toThrow('connection reset');
    expect(store.files.list(A, { limit: 100 }).data).toEqual([]);
    expect(fs.readdirSync(store.paths.files)).toEqual([]);
    expect(fs.readdirSync(store.paths.tmp)).toEqual([]);
  });

  it('refuses an upload over maxBytes with 413 and keeps nothing', async () => {
    const big = store.files.createFromUpload(A, {
      filename: 'x.jsonl',
      purpose: 'fine-tune',
      content: chunks('12345', '67890'),
      maxBytes: 8,
    });
    await expect(big).rejects.toMatchObject({ status: 413, code: 'file_too_large' });
    expect(fs.readdirSync(store.paths.files)).toEqual([]);
    expect(fs.readdirSync(store.paths.tmp)).toEqual([]);
  });

  it('keeps nothing when the check refuses the complete blob', async () => {
    const refused = store.files.createFromUpload(A, {
      filename: 'x.txt',
      purpose: 'fine-tune',
      content: chunks('not json'),
      check: () => {
        throw new EmulatorError(400, 'Invalid file format for Fine-Tuning API. Must be .jsonl', 'file');
      },
    });
    await expect(refused).rejects.toBeInstanceOf(EmulatorError);
    expect(store.files.list(A, { limit: 10 }).data).toEqual([]);
    expect(fs.readdirSync(store.paths.files)).toEqual([]);
  });

  it('pages newest first with after, and oldest first with order=asc', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await upload(A, `${i}\n`)).id);
    const first = store.files.list(A, { limit: 2 });
    expect(first.data.map((f) => f.id)).toEqual([ids[4], ids[3]]);
    expect(first).toMatchObject({ has_more: true, first_id: ids[4], last_id: ids[3] });
    const second = store.files.list(A, { limit: 2, after: first.last_id! });
    expect(second.data.map((f) => f.id)).toEqual([ids[2], ids[1]]);
    const third = store.files.list(A, { limit: 2, after: second.last_id! });
    expect(third.data.map((f) => f.id)).toEqual([ids[0]]);
    expect(third.has_more).toBe(false);
    expect(store.files.list(A, { limit: 10, order: 'asc' }).data.map((f) => f.id)).toEqual(ids);
    expect(store.files.list(A, { limit: 10, purpose: 'batch' }).data).toEqual([]);
  });

  it('deletes the row and the blob', async () => {
    const file = await upload(A, 'x\n');
    const blob = store.files.blobPath(A, file.id)!;
    expect(store.files.delete(B, file.id)).toBe(false);
    expect(store.files.delete(A, file.id)).toBe(true);
    expect(fs.existsSync(blob)).toBe(false);
    expect(store.files.get(A, file.id)).toBeUndefined();
  });
});

describe('projects', () => {
  it('derives stable project and organization ids from the key', () => {
    expect(A).toMatch(/^proj_[0-9a-f]{24}$/);
    expect(ORG).toMatch(/^org-[0-9a-f]{24}$/);
    expect(projectIdForKey('key-a')).toBe(A);
    expect(A).not.toBe(B);
  });

  it('hides one project’s files, jobs, events and checkpoints from another', async () => {
    const file = await upload(A, 'x\n');
    const job = createJob(A, file.id);
    expect(store.files.get(B, file.id)).toBeUndefined();
    expect(store.files.blobPath(B, file.id)).toBeUndefined();
    expect(store.files.list(B, { limit: 10 }).data).toEqual([]);
    expect(store.jobs.get(B, job.id)).toBeUndefined();
    expect(store.jobs.list(B, { limit: 10 }).data).toEqual([]);
    expect(store.events.list(B, job.id, { limit: 10 }).data).toEqual([]);
    expect(store.checkpoints.list(B, job.id, { limit: 10 }).data).toEqual([]);
    expect(store.events.list(A, job.id, { limit: 10 }).data).toHaveLength(2);
  });
});

describe('jobs and events', () => {
  it('creates a job in validating_files with defaults and its first two events', async () => {
    const file = await upload(A, 'x\n');
    const job = createJob(A, file.id);
    expect(job).toMatchObject({
      object: 'fine_tuning.job',
      status: 'validating_files',
      error: null,
      fine_tuned_model: null,
      finished_at: null,
      trained_tokens: null,
      result_files: [],
      validation_file: null,
      organization_id: ORG,
      hyperparameters: { batch_size: 'auto', learning_rate_multiplier: 'auto', n_epochs: 'auto' },
      method: {
        type: 'supervised',
        supervised: {
          hyperparameters: { batch_size: 'auto', learning_rate_multiplier: 'auto', n_epochs: 'auto' },
        },
      },
      integrations: [],
      metadata: null,
      user_provided_suffix: null,
    });
    expect(job.id).toMatch(/^ftjob-[A-Za-z0-9]{24}$/);
    expect(Number.isInteger(job.seed)).toBe(true);
    const events = store.events.list(A, job.id, { limit: 10 }).data;
    expect(events.map((e) => e.message)).toEqual([
      `Validating training file: ${file.id}`,
      `Created fine-tuning job: ${job.id}`,
    ]);
    expect(events[0]).toMatchObject({
      object: 'fine_tuning.job.event',
      level: 'info',
      type: 'message',
      data: {},
    });
    expect(events[0]!.id).toMatch(/^ftevent-[A-Za-z0-9]{24}$/);
  });

  it('moves the status only from the expected states, with its events in the same transaction', async () => {
    const file = await upload(A, 'x\n');
    const job = createJob(A, file.id);
    const seen: string[] = [];
    store.subscribe(job.id, (u) =>
      seen.push(u.kind === 'event' ? u.event.message : `status:${u.job.status}`),
    );
    const queued = store.jobs.transition(job.id, {
      from: ['validating_files'],
      to: 'queued',
      events: [{ message: 'Files validated, moving job to queued state' }],
    });
    expect(queued?.job.status).toBe('queued');
    expect(store.jobs.transition(job.id, { from: ['validating_files'], to: 'running' })).toBeUndefined();
    expect(store.jobs.get(A, job.id)?.status).toBe('queued');
    expect(seen).toEqual(['Files validated, moving job to queued state', 'status:queued']);
  });

  it('rolls back the status change when writing its event fails', async () => {
    const file = await upload(A, 'x\n');
    const job = createJob(A, file.id);
    const bad = { message: 'x', data: { n: 1n } as unknown as Record<string, unknown> };
    expect(() =>
      store.jobs.transition(job.id, { from: ['validating_files'], to: 'queued', events: [bad] }),
    ).toThrow();
    expect(store.jobs.get(A, job.id)?.status).toBe('validating_files');
    expect(store.events.list(A, job.id, { limit: 10 }).data).toHaveLength(2);
  });

  it('tells subscribers of writes in store.transaction only after commit, and never after a rollback', async () => {
    const file = await upload(A, 'x\n');
    const job = createJob(A, file.id);
    const heard: string[] = [];
    store.subscribe(job.id, (u) =>
      heard.push(u.kind === 'event' ? u.event.message : `status:${u.job.status}`),
    );
    expect(() =>
      store.transaction(() => {
        store.events.append(job.id, { message: 'rolled back' });
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(heard).toEqual([]);
    store.transaction(() => {
      store.events.append(job.id, { message: 'kept' });
      store.jobs.transition(job.id, { from: ['validating_files'], to: 'queued' });
      expect(heard).toEqual([]);
    });
    expect(heard).toEqual(['kept', 'status:queued']);
    expect(store.events.list(A, job.id, { limit: 10 }).data.map((e) => e.message)).not.toContain(
      'rolled back',
    );
  });

  it('pages jobs newest first and filters by metadata', async () => {
    const file = await upload(A, 'x\n');
    const ids = [
      createJob(A, file.id, { team: 'red' }).id,
      createJob(A, file.id).id,
      createJob(A, file.id, { team: 'blue', env: 'ci' }).id,
      createJob(A, file.id, { team: 'red', env: 'ci' }).id,
    ];
    const page = store.jobs.list(A, { limit: 3 });
    expect(page.data.map((j) => j.id)).toEqual([ids[3], ids[2], ids[1]]);
    expect(page.has_more).toBe(true);
    expect(store.jobs.list(A, { limit: 3, after: ids[1] }).data.map((j) => j.id)).toEqual([ids[0]]);
    expect(store.jobs.list(A, { limit: 10, metadata: { team: 'red' } }).data.map((j) => j.id)).toEqual([
      ids[3],
      ids[0],
    ]);
    expect(
      store.jobs.list(A, { limit: 10, metadata: { team: 'red', env: 'ci' } }).data.map((j) => j.id),
    ).toEqual([ids[3]]);
    expect(store.jobs.list(A, { limit: 10, metadata: null }).data.map((j) => j.id)).toEqual([ids[1]]);
    expect(store.jobs.list(A, { limit: 10, after: 'ftjob-unknown' }).data).toEqual([]);
  });

  it('pages events newest first with after and replays them oldest first by seq', async () => {
    const file = await upload(A, 'x\n');
    const job = createJob(A, file.id);
    for (let i = 1; i <= 3; i++) store.events.append(job.id, { message: `m${i}` });
    const page = store.events.list(A, job.id, { limit: 2 });
    expect(page.data.map((e) => e.message)).toEqual(['m3', 'm2']);
    expect(page.has_more).toBe(true);
    const next = store.events.list(A, job.id, { limit: 10, after: page.data[1]!.id });
    expect(next.data.map((e) => e.message)).toEqual([
      'm1',
      `Validating training file: ${file.id}`,
      `Created fine-tuning job: ${job.id}`,
    ]);
    expect(next.has_more).toBe(false);
    const seq = store.events.seqOf(job.id, page.data[1]!.id)!;
    expect(store.events.since(job.id, seq).map((s) => s.event.message)).toEqual(['m3']);
    expect(store.events.since(job.id, 0).map((s) => s.seq)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('checkpoints, adapters and models', () => {
  function peftFolder(): string {
    const src = fs.mkdtempSync(path.join(dir, 'peft-'));
    fs.writeFileSync(
      path.join(src, 'adapter_config.json'),
      JSON.stringify({ peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: ['v_proj', 'q_proj'] }),
    );
    fs.writeFileSync(path.join(src, 'adapter_model.safetensors'), Buffer.alloc(100, 7));
    return src;
  }

  it('copies an adapter folder, lists it, and deletes it', async () => {
    const file = await upload(A, 'x\n');
    const job = createJob(A, file.id);
    const adapter = store.adapters.insert(A, {
      jobId: job.id,
      fineTunedModel: 'ft:m:tunekit::abc',
      baseModel: 'm',
      step: 10,
      sourceDir: peftFolder(),
    });
    expect(adapter).toMatchObject({ object: 'adapter', r: 8, lora_alpha: 16, bytes: 100, peft_type: 'LORA' });
    expect(adapter.target_modules).toEqual(['q_proj', 'v_proj']);
    const folder = store.adapters.dir(A, adapter.id)!;
    expect(fs.readFileSync(path.join(folder, 'adapter_model.safetensors'))).toEqual(Buffer.alloc(100, 7));
    expect(store.adapters.dir(B, adapter.id)).toBeUndefined();
    expect(store.adapters.list(A, { limit: 10, fineTuningJobId: job.id }).data).toHaveLength(1);
    expect(store.adapters.delete(A, adapter.id)).toBe(true);
    expect(fs.existsSync(folder)).toBe(false);
  });

  it('lists checkpoints by highest step first and pages with after', async () => {
    const file = await upload(A, 'x\n');
    const job = createJob(A, file.id);
    for (const step of [10, 20, 30]) {
      store.checkpoints.insert({
        jobId: job.id,
        step,
        metrics: { step, train_loss: 1 / step },
        modelName: `ft:m:tunekit::x:ckpt-step-${step}`,
        adapterId: null,
      });
    }
    const page = store.checkpoints.list(A, job.id, { limit: 2 });
    expect(page.data.map((c) => c.step_number)).toEqual([30, 20]);
    expect(page.data[0]!.id).toMatch(/^ftckpt_[A-Za-z0-9]{24}$/);
    expect(page.has_more).toBe(true);
    expect(
      store.checkpoints.list(A, job.id, { limit: 2, after: page.last_id! }).data.map((c) => c.step_number),
    ).toEqual([10]);
  });

  it('registers fine-tuned models per project and deletes a final model with its checkpoints', async () => {
    const file = await upload(A, 'x\n');
    const job = createJob(A, file.id);
    const common = { jobId: job.id, baseModel: 'm', adapterId: null, weightsDir: null, ownedBy: 'tunekit' };
    store.models.register(A, { ...common, id: 'ft:m:tunekit::abc:ckpt-step-5', checkpointStep: 5 });
    store.models.register(A, { ...common, id: 'ft:m:tunekit::abc', checkpointStep: null });
    expect(store.models.list(A).map((m) => m.id)).toEqual(['ft:m:tunekit::abc']);
    expect(store.models.list(B)).toEqual([]);
    expect(store.models.find(B, 'ft:m:tunekit::abc')).toBeUndefined();
    expect(store.models.find(A, 'ft:m:tunekit::abc:ckpt-step-5')?.checkpointStep).toBe(5);
    expect(store.models.delete(A, 'ft:m:tunekit::abc:ckpt-step-5')).toBe(false);
    expect(store.models.delete(A, 'ft:m:tunekit::abc')).toBe(true);
    expect(store.models.find(A, 'ft:m:tunekit::abc:ckpt-step-5')).toBeUndefined();
    expect(store.models.list(A)).toEqual([]);
  });
});

describe('idempotency', () => {
  const scope = { projectId: A, key: 'k1', route: 'POST /v1/fine_tuning/jobs', fingerprint: 'f1' };

  it('runs concurrent duplicates once and replays the stored response', async () => {
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handler = async () => {
      runs++;
      await gate;
      return { status: 200, body: { id: `job-${runs}` } };
    };
    const all = Promise.all([1, 2, 3, 4].map(() => store.idempotency.execute(scope, handler)));
    release();
    const results = await all;
    expect(runs).toBe(1);
    expect(results.map((r) => r.response.body)).toEqual(Array(4).fill({ id: 'job-1' }));
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    const later = await store.idempotency.execute(scope, handler);
    expect(later).toEqual({ response: { status: 200, body: { id: 'job-1' } }, replayed: true });
  });

  it('refuses the same key with another body, and runs again after a failed first attempt', async () => {
    await expect(
      store.idempotency.execute(scope, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const ok = await store.idempotency.execute(scope, async () => ({ status: 200, body: { ok: true } }));
    expect(ok.replayed).toBe(false);
    await expect(
      store.idempotency.execute({ ...scope, fingerprint: 'other' }, async () => ({ status: 200, body: {} })),
    ).rejects.toMatchObject({ status: 400, code: 'idempotency_key_reused' });
    const otherProject = await store.idempotency.execute({ ...scope, projectId: B }, async () => ({
      status: 200,
      body: { b: 1 },
    }));
    expect(otherProject.replayed).toBe(false);
  });
});

describe('restart', () => {
  it('refuses a second opener of a folder that is in use, and opens it again once closed', () => {
    expect(() => openStore(dir)).toThrow(/is in use by another tunekit process/);
    store.close();
    store = openStore(dir);
    expect(store.files.list(A, { limit: 1 }).data).toEqual([]);
  });

  it('keeps every file, job, event, checkpoint and model on the same folder, and sweeps leftovers', async () => {
    const file = await upload(A, 'x\n');
    const job = createJob(A, file.id);
    store.jobs.transition(job.id, { from: ['validating_files'], to: 'queued', runtime: { attempts: 1 } });
    store.checkpoints.insert({
      jobId: job.id,
      step: 1,
      metrics: { step: 1 },
      modelName: 'n',
      adapterId: null,
    });
    store.models.register(A, {
      id: 'ft:x',
      jobId: job.id,
      baseModel: 'm',
      adapterId: null,
      weightsDir: null,
      checkpointStep: null,
      ownedBy: 'tunekit',
    });
    store.close();
    fs.writeFileSync(path.join(dir, 'tmp', 'cut-off-upload.part'), 'partial');
    fs.writeFileSync(path.join(dir, 'files', 'file-orphan'), 'no row');
    fs.mkdirSync(path.join(dir, 'adapters', 'adapter-orphan'));

    store = openStore(dir);
    expect(store.files.get(A, file.id)).toMatchObject({ id: file.id, bytes: 2 });
    expect(fs.readFileSync(store.files.blobPath(A, file.id)!, 'utf8')).toBe('x\n');
    expect(store.jobs.get(A, job.id)?.status).toBe('queued');
    expect(store.jobs.record(job.id)?.runtime.attempts).toBe(1);
    expect(store.events.list(A, job.id, { limit: 10 }).data).toHaveLength(2);
    expect(store.checkpoints.list(A, job.id, { limit: 10 }).data).toHaveLength(1);
    expect(store.models.find(A, 'ft:x')).toBeDefined();
    expect(fs.readdirSync(store.paths.tmp)).toEqual([]);
    expect(fs.readdirSync(store.paths.files)).toEqual([file.id]);
    expect(fs.readdirSync(store.paths.adapters)).toEqual([]);
  });
});
