import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerForKey, readApiKeysFile } from '../../../emulator/http/auth';
import { organizationIdForKey, projectIdForKey } from '../../../emulator/store/projects';
import {
  chatJsonl,
  markValidated,
  startTestServer,
  TEST_MODEL,
  type TestServer,
  uploadFile,
} from './harness';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

function errorOf(body: unknown) {
  return (body as { error: { message: string; type: string; param: string | null; code: string | null } })
    .error;
}

describe('authentication', () => {
  it('serves /health without a key', async () => {
    const response = await server.request('GET', '/health', { key: null });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'ok' });
  });

  it('answers 401 invalid_api_key without a Bearer key', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer ' }] as Record<
      string,
      string
    >[]) {
      const response = await server.request('GET', '/v1/files', { key: null, headers });
      expect(response.status).toBe(401);
      expect(errorOf(response.body).code).toBe('invalid_api_key');
    }
  });

  it('keeps each key its own project while callers are cached, past the cache size too', () => {
    const first = callerForKey('key-first');
    for (let i = 0; i < 1500; i += 1) {
      expect(callerForKey(`key-${i}`).projectId).toBe(projectIdForKey(`key-${i}`));
    }
    expect(callerForKey('key-first')).toEqual(first);
    expect(first).toEqual({
      projectId: projectIdForKey('key-first'),
      organizationId: organizationIdForKey('key-first'),
    });
    expect(callerForKey('key-first').projectId).not.toBe(callerForKey('key-second').projectId);
  });

  it('accepts only the listed keys with --api-keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunekit-keys-'));
    const file = join(dir, 'keys.txt');
    writeFileSync(file, '# team keys\nalpha\n\n  beta  \n');
    const keys = readApiKeysFile(file);
    expect([...keys]).toEqual(['alpha', 'beta']);
    const restricted = await startTestServer({ apiKeys: keys });
    try {
      expect((await restricted.request('GET', '/v1/files', { key: 'alpha' })).status).toBe(200);
      expect((await restricted.request('GET', '/v1/files', { key: 'beta' })).status).toBe(200);
      const refused = await restricted.request('GET', '/v1/files', { key: 'gamma-not-listed' });
      expect(refused.status).toBe(401);
      expect(errorOf(refused.body).message).not.toContain('gamma-not-listed');
    } finally {
      await restricted.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('every response', () => {
  it('carries x-request-id req_<hex>, on success and on errors', async () => {
    const responses = await Promise.all([
      server.request('GET', '/health', { key: null }),
      server.request('GET', '/v1/files'),
      server.request('GET', '/v1/files', { key: null }),
      server.request('GET', '/v1/no/such/route'),
    ]);
    const ids = responses.map((r) => r.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('is application/json for JSON answers', async () => {
    const response = await server.request('GET', '/v1/models');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  });
});

describe('bad requests', () => {
  it('answers unknown routes and methods with 404 in the error shape', async () => {
    const unknown = await server.request('GET', '/v1/nothing-here');
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown.body).message).toBe('Invalid URL (GET /v1/nothing-here)');
    expect((await server.request('PUT', '/v1/files')).status).toBe(404);
  });

  it('answers bad JSON with 400', async () => {
    const response = await server.request('POST', '/v1/fine_tuning/jobs', {
      body: '{"model":',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(400);
    expect(errorOf(response.body).type).toBe('invalid_request_error');
  });

  it('names the failing field path in `param`', async () => {
    const file = await uploadFile(server, chatJsonl(10));
    const cases: Array<[unknown, string]> = [
      [{ training_file: file.id }, 'model'],
      [{ model: 3, training_file: file.id }, 'model'],
      [
        {
          model: TEST_MODEL,
          training_file: file.id,
          method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 0 } } },
        },
        'method.supervised.hyperparameters.n_epochs',
      ],
      [{ model: TEST_MODEL, training_file: file.id, suffix: 'x'.repeat(65) }, 'suffix'],
      [{ model: TEST_MODEL, training_file: file.id, surprise: true }, 'surprise'],
      [{ model: TEST_MODEL, training_file: file.id, metadata: { k: 5 } }, 'metadata.k'],
    ];
    for (const [json, param] of cases) {
      const response = await server.request('POST', '/v1/fine_tuning/jobs', { json });
      expect(response.status, JSON.stringify(json)).toBe(400);
      expect(errorOf(response.body).param).toBe(param);
    }
    const query = await server.request('GET', '/v1/fine_tuning/jobs?limit=0');
    expect(query.status).toBe(400);
    expect(errorOf(query.body).param).toBe('limit');
  });

  it('refuses a JSON route body in another media type with 415', async () => {
    const response = await server.request('POST', '/v1/fine_tuning/jobs', {
      body: 'model=x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(response.status).toBe(415);
  });

  it('accepts body-less POSTs with or without Content-Type', async () => {
    const file = await uploadFile(server, chatJsonl(10));
    const created = await server.request('POST', '/v1/fine_tuning/jobs', {
      json: { model: TEST_MODEL, training_file: file.id },
    });
    const id = (created.body as { id: string }).id;
    markValidated(server, id);
    const paused = await server.request('POST', `/v1/fine_tuning/jobs/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ status: 'paused' });
    const resumed = await server.request('POST', `/v1/fine_tuning/jobs/${id}/resume`, {
      body: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(resumed.status).toBe(200);
    const cancelled = await server.request('POST', `/v1/fine_tuning/jobs/${id}/cancel`, {
      body: 'ignored',
      headers: { 'content-type': 'text/plain' },
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled' });
    const again = await server.request('POST', `/v1/fine_tuning/jobs/${id}/cancel`);
    expect(again.body).toMatchObject({ status: 'cancelled' });
    const pauseCancelled = await server.request('POST', `/v1/fine_tuning/jobs/${id}/pause`);
    expect(pauseCancelled.status).toBe(400);
    expect(pauseCancelled.body).toMatchObject({ error: { param: 'fine_tuning_job_id' } });
  });
});
