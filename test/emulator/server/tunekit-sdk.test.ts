/** tunekit's own SDK against the server: every resource call it makes, checked against openapi.yaml. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import Tunekit, { BadRequestError, NotFoundError, PermissionDeniedError, toFile } from '../../../src/index';
import { addFinishedArtifacts } from './fixtures';
import { chatJsonl, checkedFetch, markValidated, TEST_MODEL, useTestServer } from './harness';

const env = useTestServer('tunekit-sdk-');

function client(apiKey: string): Tunekit {
  return new Tunekit({ apiKey, baseURL: env.server.baseURL, fetch: checkedFetch, maxRetries: 0 });
}

describe('tunekit SDK', () => {
  it('files from a path, jobs with auto-pagination and a metadata filter, state changes', async () => {
    const tunekit = client('sdk-jobs');
    const path = join(env.workDir, 'train.jsonl');
    writeFileSync(path, chatJsonl(10));
    const file = await tunekit.files.create({ file: path, purpose: 'fine-tune' });
    expect(file).toMatchObject({ filename: 'train.jsonl', bytes: chatJsonl(10).length });
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const job = await tunekit.fineTuning.jobs.create({
        model: TEST_MODEL,
        training_file: file.id,
        metadata: { run: i < 2 ? 'a' : 'b' },
        training_type: { type: 'lora', r: 8, target_modules: ['q_proj', 'v_proj'] },
      });
      ids.push(job.id);
    }
    const b: string[] = [];
    for await (const job of tunekit.fineTuning.jobs.list({ limit: 1, metadata: { run: 'b' } }))
      b.push(job.id);
    expect(b).toEqual([ids[3], ids[2]]);
    markValidated(env.server, ids[0]!);
    expect((await tunekit.fineTuning.jobs.pause(ids[0]!)).status).toBe('paused');
    expect((await tunekit.fineTuning.jobs.resume(ids[0]!)).status).toBe('queued');
    expect((await tunekit.fineTuning.jobs.cancel(ids[0]!)).status).toBe('cancelled');
    const events: string[] = [];
    for await (const event of tunekit.fineTuning.jobs.listEvents(ids[0]!, { limit: 2 }))
      events.push(event.message);
    expect(events.at(-1)).toBe(`Created fine-tuning job: ${ids[0]}`);
    const finished = await tunekit.fineTuning.jobs.wait(ids[0]!);
    expect(finished.status).toBe('cancelled');
  });

  it('typed errors carry status, param and the request id', async () => {
    const tunekit = client('sdk-errors');
    const file = await tunekit.files.create({
      file: await toFile(Buffer.from(chatJsonl(10)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    const bad = await tunekit.fineTuning.jobs
      .create({
        model: TEST_MODEL,
        training_file: file.id,
        method: { type: 'dpo', dpo: { hyperparameters: { loss_type: ['simpo', 'sigmoid'] } } },
      })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect((bad as BadRequestError).requestID).toMatch(/^req_[0-9a-f]{32}$/);
    expect((bad as BadRequestError).error).toMatchObject({
      param: 'method.dpo.hyperparameters.loss_type',
      code: 'invalid_value',
    });
    await expect(tunekit.files.retrieve('file-missing')).rejects.toBeInstanceOf(NotFoundError);
    await expect(tunekit.models.delete(TEST_MODEL)).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it('adapters: list, retrieve, download into a folder, delete', async () => {
    const key = 'sdk-adapters';
    const tunekit = client(key);
    const file = await tunekit.files.create({
      file: await toFile(Buffer.from(chatJsonl(10)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    const job = await tunekit.fineTuning.jobs.create({ model: TEST_MODEL, training_file: file.id });
    const { adapter, fineTunedModel } = addFinishedArtifacts(env.server.store, key, job.id, TEST_MODEL);
    const listed = [];
    for await (const a of tunekit.adapters.list({ fine_tuning_job_id: job.id })) listed.push(a.id);
    expect(listed).toEqual([adapter.id]);
    expect((await tunekit.adapters.retrieve(adapter.id)).fine_tuned_model).toBe(fineTunedModel);
    const dir = join(env.workDir, 'adapter');
    const written = await tunekit.adapters.download(adapter.id, dir);
    expect(written).toEqual([join(dir, 'adapter_config.json'), join(dir, 'adapter_model.safetensors')]);
    expect((await tunekit.models.retrieve(fineTunedModel)).id).toBe(fineTunedModel);
    expect(await tunekit.adapters.delete(adapter.id)).toEqual({
      id: adapter.id,
      object: 'adapter',
      deleted: true,
    });
  });
});
