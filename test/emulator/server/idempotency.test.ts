import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatJsonl, startTestServer, TEST_MODEL, type TestServer, uploadFile } from './harness';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

describe('Idempotency-Key', () => {
  it('creates one job for concurrent retries and replays the first response', async () => {
    const key = 'idem-jobs';
    const file = await uploadFile(server, chatJsonl(10), { key });
    const json = { model: TEST_MODEL, training_file: file.id, seed: 7 };
    const headers = { 'idempotency-key': 'stainless-node-retry-1' };
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => server.request('POST', '/v1/fine_tuning/jobs', { key, json, headers })),
    );
    for (const response of responses) expect(response.status).toBe(200);
    const ids = new Set(responses.map((r) => (r.body as { id: string }).id));
    expect(ids.size).toBe(1);
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(7);
    const later = await server.request('POST', '/v1/fine_tuning/jobs', { key, json, headers });
    expect(later.body).toEqual(responses[0]!.body);
    const list = (await server.request('GET', '/v1/fine_tuning/jobs', { key })).body as { data: unknown[] };
    expect(list.data).toHaveLength(1);
  });

  it('refuses the same key with a different body', async () => {
    const key = 'idem-reuse';
    const file = await uploadFile(server, chatJsonl(10), { key });
    const headers = { 'idempotency-key': 'reused' };
    const first = await server.request('POST', '/v1/fine_tuning/jobs', {
      key,
      headers,
      json: { model: TEST_MODEL, training_file: file.id },
    });
    expect(first.status).toBe(200);
    const second = await server.request('POST', '/v1/fine_tuning/jobs', {
      key,
      headers,
      json: { model: TEST_MODEL, training_file: file.id, suffix: 'other' },
    });
    expect(second.status).toBe(400);
    expect(second.body).toMatchObject({ error: { code: 'idempotency_key_reused' } });
  });

  it('keys are per project: another key with the same Idempotency-Key runs anew', async () => {
    const headers = { 'idempotency-key': 'shared-name' };
    const jobs: string[] = [];
    for (const key of ['idem-p1', 'idem-p2']) {
      const file = await uploadFile(server, chatJsonl(10), { key });
      const response = await server.request('POST', '/v1/fine_tuning/jobs', {
        key,
        headers,
        json: { model: TEST_MODEL, training_file: file.id },
      });
      expect(response.status).toBe(200);
      jobs.push((response.body as { id: string }).id);
    }
    expect(jobs[0]).not.toBe(jobs[1]);
  });

  it('stores one file for concurrent retries of an upload', async () => {
    const key = 'idem-upload';
    const headers = { 'idempotency-key': 'upload-1' };
    const responses = await Promise.all(
      Array.from({ length: 4 }, () => {
        const form = new FormData();
        form.append('file', new Blob([chatJsonl(20)]), 'train.jsonl');
        form.append('purpose', 'fine-tune');
        return server.request('POST', '/v1/files', { key, headers, body: form });
      }),
    );
    for (const response of responses) expect(response.status).toBe(200);
    expect(new Set(responses.map((r) => (r.body as { id: string }).id)).size).toBe(1);
    const list = (await server.request('GET', '/v1/files', { key })).body as { data: unknown[] };
    expect(list.data).toHaveLength(1);
  });

  it('replays a 4xx answer too, and a cancel repeated with its key is not an error', async () => {
    const key = 'idem-cancel';
    const file = await uploadFile(server, chatJsonl(10), { key });
    const job = (
      await server.request('POST', '/v1/fine_tuning/jobs', {
        key,
        json: { model: TEST_MODEL, training_file: file.id },
      })
    ).body as { id: string };
    const headers = { 'idempotency-key': 'cancel-1' };
    const first = await server.request('POST', `/v1/fine_tuning/jobs/${job.id}/cancel`, { key, headers });
    const retry = await server.request('POST', `/v1/fine_tuning/jobs/${job.id}/cancel`, { key, headers });
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    const bad = { 'idempotency-key': 'bad-1' };
    const refused = await server.request('POST', '/v1/fine_tuning/jobs', {
      key,
      headers: bad,
      json: { model: 'nope', training_file: file.id },
    });
    const refusedAgain = await server.request('POST', '/v1/fine_tuning/jobs', {
      key,
      headers: bad,
      json: { model: 'nope', training_file: file.id },
    });
    expect(refused.status).toBe(400);
    expect(refusedAgain.status).toBe(400);
    expect(refusedAgain.headers.get('idempotent-replayed')).toBe('true');
  });
});
