import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFinishedArtifacts } from './fixtures';
import { chatJsonl, startTestServer, TEST_MODEL, type TestServer, uploadFile } from './harness';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

describe('each key is its own project', () => {
  it('answers 404 to key B for every object of key A, and lists none of them', async () => {
    const a = 'key-a';
    const b = 'key-b';
    const file = await uploadFile(server, chatJsonl(10), { key: a });
    const job = (
      await server.request('POST', '/v1/fine_tuning/jobs', {
        key: a,
        json: { model: TEST_MODEL, training_file: file.id },
      })
    ).body as { id: string };
    const { adapter, fineTunedModel } = addFinishedArtifacts(server.store, a, job.id, TEST_MODEL);

    const owned = [
      ['GET', `/v1/files/${file.id}`],
      ['GET', `/v1/files/${file.id}/content`],
      ['GET', `/v1/fine_tuning/jobs/${job.id}`],
      ['GET', `/v1/fine_tuning/jobs/${job.id}/events`],
      ['GET', `/v1/fine_tuning/jobs/${job.id}/checkpoints`],
      ['GET', `/v1/adapters/${adapter.id}`],
      ['GET', `/v1/adapters/${adapter.id}/content`],
      ['GET', `/v1/models/${encodeURIComponent(fineTunedModel)}`],
    ] as const;
    for (const [method, path] of owned) {
      expect((await server.request(method, path, { key: a })).status, `A ${path}`).toBe(200);
      expect((await server.request(method, path, { key: b })).status, `B ${path}`).toBe(404);
    }
    for (const [method, path] of [
      ['POST', `/v1/fine_tuning/jobs/${job.id}/cancel`],
      ['DELETE', `/v1/adapters/${adapter.id}`],
      ['DELETE', `/v1/models/${encodeURIComponent(fineTunedModel)}`],
      ['DELETE', `/v1/files/${file.id}`],
    ] as const) {
      expect((await server.request(method, path, { key: b })).status, `B ${method} ${path}`).toBe(404);
    }
    const usingAsFile = await server.request('POST', '/v1/fine_tuning/jobs', {
      key: b,
      json: { model: TEST_MODEL, training_file: file.id },
    });
    expect(usingAsFile.status).toBe(400);
    expect(usingAsFile.body).toMatchObject({ error: { param: 'training_file' } });

    for (const path of ['/v1/files', '/v1/fine_tuning/jobs', '/v1/adapters']) {
      expect(((await server.request('GET', path, { key: b })).body as { data: unknown[] }).data).toEqual([]);
    }
    const models = (await server.request('GET', '/v1/models', { key: b })).body as {
      data: Array<{ id: string }>;
    };
    expect(models.data.map((m) => m.id)).not.toContain(fineTunedModel);
    const modelsA = (await server.request('GET', '/v1/models', { key: a })).body as {
      data: Array<{ id: string }>;
    };
    expect(modelsA.data.map((m) => m.id)).toContain(fineTunedModel);
    // Still all there for A after B's attempts.
    expect((await server.request('GET', `/v1/files/${file.id}`, { key: a })).status).toBe(200);
    expect((await server.request('GET', `/v1/adapters/${adapter.id}`, { key: a })).status).toBe(200);
  });
});
