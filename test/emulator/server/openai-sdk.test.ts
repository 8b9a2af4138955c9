/**
 * The official `openai` npm SDK, unchanged, against the emulator's server: every call below goes through
 * a fetch that checks the response against openapi.yaml.
 */
import { createReadStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI, { NotFoundError, toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { addFinishedArtifacts } from './fixtures';
import { chatJsonl, checkedFetch, markValidated, TEST_MODEL, useTestServer } from './harness';

const env = useTestServer('tunekit-openai-');

function client(apiKey: string): OpenAI {
  return new OpenAI({ apiKey, baseURL: env.server.baseURL, fetch: checkedFetch, maxRetries: 0 });
}

describe('official openai SDK', () => {
  it('files: create from a stream and a buffer, list, retrieve, content, delete', async () => {
    const openai = client('openai-files');
    const path = join(env.workDir, 'train.jsonl');
    writeFileSync(path, chatJsonl(10));
    const streamed = await openai.files.create({ file: createReadStream(path), purpose: 'fine-tune' });
    expect(streamed).toMatchObject({ object: 'file', filename: 'train.jsonl', purpose: 'fine-tune' });
    const buffered = await openai.files.create({
      file: await toFile(Buffer.from(chatJsonl(11)), 'more.jsonl'),
      purpose: 'fine-tune',
    });
    const ids: string[] = [];
    for await (const file of openai.files.list({ limit: 1 })) ids.push(file.id);
    expect(ids).toEqual([buffered.id, streamed.id]);
    expect((await openai.files.retrieve(streamed.id)).bytes).toBe(chatJsonl(10).length);
    expect(await (await openai.files.content(streamed.id)).text()).toBe(chatJsonl(10));
    expect(await openai.files.delete(buffered.id)).toEqual({
      id: buffered.id,
      object: 'file',
      deleted: true,
    });
    await expect(openai.files.retrieve(buffered.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('jobs: create, auto-paginated list with a metadata filter, retrieve, pause, resume, cancel', async () => {
    const openai = client('openai-jobs');
    const file = await openai.files.create({
      file: await toFile(Buffer.from(chatJsonl(10)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    const created: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const job = await openai.fineTuning.jobs.create({
        model: TEST_MODEL,
        training_file: file.id,
        suffix: `run-${i}`,
        seed: 42,
        metadata: { team: i % 2 === 0 ? 'even' : 'odd' },
        method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 2, batch_size: 'auto' } } },
      });
      expect(job).toMatchObject({ object: 'fine_tuning.job', status: 'validating_files', seed: 42 });
      created.push(job.id);
    }
    const even: string[] = [];
    for await (const job of openai.fineTuning.jobs.list({ limit: 1, metadata: { team: 'even' } })) {
      even.push(job.id);
    }
    expect(even).toEqual([created[4], created[2], created[0]]);
    const all: string[] = [];
    for await (const job of openai.fineTuning.jobs.list({ limit: 2 })) all.push(job.id);
    expect(all).toEqual([...created].reverse());
    const untagged = await openai.fineTuning.jobs.create({ model: TEST_MODEL, training_file: file.id });
    const withoutMetadata: string[] = [];
    for await (const job of openai.fineTuning.jobs.list({ metadata: null })) withoutMetadata.push(job.id);
    expect(withoutMetadata).toEqual([untagged.id]);

    const id = created[0]!;
    markValidated(env.server, id);
    expect((await openai.fineTuning.jobs.retrieve(id)).id).toBe(id);
    expect((await openai.fineTuning.jobs.pause(id)).status).toBe('paused');
    expect((await openai.fineTuning.jobs.resume(id)).status).toBe('queued');
    expect((await openai.fineTuning.jobs.cancel(id)).status).toBe('cancelled');
    await expect(openai.fineTuning.jobs.retrieve('ftjob-nope')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('events and checkpoints pages', async () => {
    const key = 'openai-events';
    const openai = client(key);
    const file = await openai.files.create({
      file: await toFile(Buffer.from(chatJsonl(10)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    const job = await openai.fineTuning.jobs.create({ model: TEST_MODEL, training_file: file.id });
    for (let step = 1; step <= 5; step += 1) {
      env.server.store.events.append(job.id, {
        type: 'metrics',
        message: `Step ${step}/5: training loss=1.00`,
        data: { step, train_loss: 1, total_steps: 5 },
      });
    }
    const messages: string[] = [];
    for await (const event of openai.fineTuning.jobs.listEvents(job.id, { limit: 2 }))
      messages.push(event.message);
    expect(messages).toHaveLength(7);
    expect(messages[0]).toBe('Step 5/5: training loss=1.00');
    expect(messages.at(-1)).toBe(`Created fine-tuning job: ${job.id}`);

    const { fineTunedModel, checkpoint } = addFinishedArtifacts(env.server.store, key, job.id, TEST_MODEL);
    const checkpoints = [];
    for await (const c of openai.fineTuning.jobs.checkpoints.list(job.id)) checkpoints.push(c);
    expect(checkpoints).toHaveLength(1);
    expect(checkpoints[0]).toMatchObject({ id: checkpoint.id, fine_tuned_model_checkpoint: fineTunedModel });
  });

  it('models: list, retrieve, delete a fine-tuned model', async () => {
    const key = 'openai-models';
    const openai = client(key);
    const file = await openai.files.create({
      file: await toFile(Buffer.from(chatJsonl(10)), 'train.jsonl'),
      purpose: 'fine-tune',
    });
    const job = await openai.fineTuning.jobs.create({ model: TEST_MODEL, training_file: file.id });
    const { fineTunedModel } = addFinishedArtifacts(env.server.store, key, job.id, TEST_MODEL);
    const ids: string[] = [];
    for await (const model of openai.models.list()) ids.push(model.id);
    expect(ids).toContain(TEST_MODEL);
    expect(ids).toContain('gpt-4o-mini-2024-07-18');
    expect(ids.at(-1)).toBe(fineTunedModel);
    expect((await openai.models.retrieve('gpt-4o-mini-2024-07-18')).owned_by).toBe('system');
    expect((await openai.models.retrieve(fineTunedModel)).owned_by).toBe('tunekit');
    expect(await openai.models.delete(fineTunedModel)).toEqual({
      id: fineTunedModel,
      object: 'model',
      deleted: true,
    });
    await expect(openai.models.retrieve(fineTunedModel)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('surfaces errors as the SDK classes with the request id', async () => {
    const openai = client('openai-errors');
    const error = await openai.fineTuning.jobs
      .create({ model: 'missing-model', training_file: 'file-nope' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).requestID).toMatch(/^req_/);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('model');
    const unauthenticated = new OpenAI({
      apiKey: ' ',
      baseURL: env.server.baseURL,
      fetch: checkedFetch,
      maxRetries: 0,
    });
    await expect(unauthenticated.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});
