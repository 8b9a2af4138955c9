import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFinishedArtifacts, writePeftFolder } from './fixtures';
import { chatJsonl, checkedFetch, startTestServer, TEST_MODEL, type TestServer, uploadFile } from './harness';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

async function finishedJob(key: string) {
  const file = await uploadFile(server, chatJsonl(10), { key });
  const job = (
    await server.request('POST', '/v1/fine_tuning/jobs', {
      key,
      json: { model: TEST_MODEL, training_file: file.id },
    })
  ).body as { id: string };
  return { job, ...addFinishedArtifacts(server.store, key, job.id, TEST_MODEL) };
}

describe('adapters', () => {
  it('lists, filters by job, retrieves and deletes', async () => {
    const key = 'adapters-list';
    const first = await finishedJob(key);
    const second = await finishedJob(key);
    const list = (await server.request('GET', '/v1/adapters', { key })).body as {
      data: Array<{ id: string }>;
    };
    expect(list.data.map((a) => a.id)).toEqual([second.adapter.id, first.adapter.id]);
    const filtered = (await server.request('GET', `/v1/adapters?fine_tuning_job_id=${first.job.id}`, { key }))
      .body as { data: Array<{ id: string }> };
    expect(filtered.data.map((a) => a.id)).toEqual([first.adapter.id]);
    const adapter = (await server.request('GET', `/v1/adapters/${first.adapter.id}`, { key })).body;
    expect(adapter).toMatchObject({
      object: 'adapter',
      r: 4,
      lora_alpha: 8,
      target_modules: ['q_proj', 'v_proj'],
    });
    const deleted = await server.request('DELETE', `/v1/adapters/${first.adapter.id}`, { key });
    expect(deleted.body).toEqual({ id: first.adapter.id, object: 'adapter', deleted: true });
    expect((await server.request('GET', `/v1/adapters/${first.adapter.id}`, { key })).status).toBe(404);
  });

  it('downloads the PEFT folder as a tar archive with the same bytes', async () => {
    const key = 'adapters-content';
    const { adapter } = await finishedJob(key);
    const response = await checkedFetch(`${server.baseURL}/adapters/${adapter.id}/content`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-tar');
    const dir = mkdtempSync(join(tmpdir(), 'tunekit-untar-'));
    try {
      const archive = join(dir, 'adapter.tar');
      writeFileSync(archive, Buffer.from(await response.arrayBuffer()));
      await extract({ file: archive, cwd: dir });
      const source = writePeftFolder();
      for (const name of ['adapter_config.json', 'adapter_model.safetensors']) {
        expect(readFileSync(join(dir, name)).equals(readFileSync(join(source, name))), name).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('models', () => {
  it('lists base and fine-tuned models; retrieves an ft: id raw or percent-encoded', async () => {
    const key = 'models-key';
    const { fineTunedModel } = await finishedJob(key);
    expect(fineTunedModel).toContain('::');
    const list = (await server.request('GET', '/v1/models', { key })).body as { data: Array<{ id: string }> };
    const ids = list.data.map((m) => m.id);
    expect(ids).toContain(TEST_MODEL);
    expect(ids).toContain('meta-llama/Llama-3.1-8B-Instruct');
    expect(ids.at(-1)).toBe(fineTunedModel);
    const hosted = await server.request(
      'GET',
      `/v1/models/${encodeURIComponent('meta-llama/Llama-3.1-8B-Instruct')}`,
      { key },
    );
    expect(hosted.body).toMatchObject({ id: 'meta-llama/Llama-3.1-8B-Instruct', owned_by: 'system' });
    for (const path of [fineTunedModel, encodeURIComponent(fineTunedModel)]) {
      const model = await server.request('GET', `/v1/models/${path}`, { key });
      expect(model.status, path).toBe(200);
      expect(model.body).toMatchObject({ id: fineTunedModel, object: 'model', owned_by: 'tunekit' });
    }
    expect((await server.request('GET', `/v1/models/${TEST_MODEL}`, { key })).body).toMatchObject({
      owned_by: 'system',
    });
  });

  it('deletes a fine-tuned model (then 404), but not a base model', async () => {
    const key = 'models-delete';
    const { fineTunedModel } = await finishedJob(key);
    const deleted = await server.request('DELETE', `/v1/models/${fineTunedModel}`, { key });
    expect(deleted.body).toEqual({ id: fineTunedModel, object: 'model', deleted: true });
    expect((await server.request('GET', `/v1/models/${fineTunedModel}`, { key })).status).toBe(404);
    expect((await server.request('DELETE', `/v1/models/${fineTunedModel}`, { key })).status).toBe(404);
    const base = await server.request('DELETE', `/v1/models/${TEST_MODEL}`, { key });
    expect(base.status).toBe(403);
  });

  it('refuses a job on an unknown model with 400 param model', async () => {
    const key = 'models-unknown';
    const file = await uploadFile(server, chatJsonl(10), { key });
    const response = await server.request('POST', '/v1/fine_tuning/jobs', {
      key,
      json: { model: 'no-such-model', training_file: file.id },
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { param: 'model', code: 'model_not_available' } });
  });
});

describe('chat completions', () => {
  it('answers 404 model_not_found for a model the key cannot see', async () => {
    const response = await server.request('POST', '/v1/chat/completions', {
      json: { model: 'ft:tunekit-tiny-chat:other::abcdefgh', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ error: { param: 'model', code: 'model_not_found' } });
  });
});
