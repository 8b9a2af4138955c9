/**
 * Property: whatever arrives (random methods, paths, queries, headers, bodies), the server answers below 500,
 * in the shape openapi.yaml documents (errors in OpenAI's error body), and stays up.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatJsonl, startTestServer, TEST_MODEL, type TestServer, uploadFile } from './harness';
import { ContractViolation, checkResponse } from './openapi-validator';

let server: TestServer;
let known: { fileId: string; jobId: string };
beforeAll(async () => {
  server = await startTestServer({ maxUploadBytes: 4096 });
  const file = await uploadFile(server, chatJsonl(10), { key: 'fuzz' });
  const job = await server.request('POST', '/v1/fine_tuning/jobs', {
    key: 'fuzz',
    json: { model: TEST_MODEL, training_file: file.id },
  });
  known = { fileId: file.id, jobId: (job.body as { id: string }).id };
});
afterAll(async () => {
  await server.close();
});

const segment = fc.oneof(
  fc.constantFrom(
    'v1',
    'files',
    'fine_tuning',
    'jobs',
    'events',
    'checkpoints',
    'models',
    'adapters',
    'content',
  ),
  fc.constantFrom(
    'cancel',
    'pause',
    'resume',
    'chat',
    'completions',
    'health',
    '..',
    '%2F',
    '%3A',
    'ft:x::y',
  ),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.constantFrom('file-abc', 'ftjob-abc', 'adapter-abc', `ft:${'x'.repeat(300)}`),
);

function pathArbitrary() {
  const ids = () =>
    fc.oneof(fc.constantFrom(known.fileId, known.jobId, 'file-nope', 'ftjob-nope', TEST_MODEL), segment);
  return fc.oneof(
    fc.array(segment, { minLength: 0, maxLength: 5 }).map((parts) => `/${parts.join('/')}`),
    fc.constantFrom(
      '/v1/files',
      '/v1/fine_tuning/jobs',
      '/v1/models',
      '/v1/adapters',
      '/v1/chat/completions',
      '/health',
    ),
    ids().map((id) => `/v1/files/${id}`),
    ids().map((id) => `/v1/files/${id}/content`),
    ids().map((id) => `/v1/fine_tuning/jobs/${id}`),
    fc
      .tuple(ids(), fc.constantFrom('cancel', 'pause', 'resume', 'events', 'checkpoints'))
      .map(([id, verb]) => `/v1/fine_tuning/jobs/${id}/${verb}`),
    ids().map((id) => `/v1/models/${id}`),
    ids().map((id) => `/v1/adapters/${id}/content`),
  );
}

const queryArbitrary = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          'limit',
          'after',
          'order',
          'purpose',
          'metadata',
          'metadata[team]',
          'stream',
          'format',
        ),
        fc.string({ maxLength: 8 }),
      ),
      fc.oneof(
        fc.constantFrom('0', '1', '-1', '1e9', 'abc', '', 'asc', 'true', 'merged'),
        fc.string({ maxLength: 8 }),
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) =>
    pairs.length === 0
      ? ''
      : `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`,
  );

const jsonBody = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        model: fc.oneof(fc.constant(TEST_MODEL), fc.string(), fc.integer()),
        training_file: fc.oneof(fc.constant('file-nope'), fc.string()),
        suffix: fc.oneof(fc.string({ maxLength: 70 }), fc.constant(null)),
        seed: fc.oneof(fc.integer(), fc.double()),
        method: fc.oneof(
          fc.constant({ type: 'dpo' }),
          fc.record({
            type: fc.constant('supervised'),
            supervised: fc.record({
              hyperparameters: fc.dictionary(
                fc.constantFrom('n_epochs', 'batch_size', 'learning_rate_multiplier'),
                fc.oneof(fc.integer(), fc.constant('auto'), fc.double()),
              ),
            }),
          }),
          fc.jsonValue(),
        ),
        messages: fc.jsonValue(),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }),
);

const requestArbitrary = () =>
  fc.record({
    method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'),
    path: pathArbitrary(),
    query: queryArbitrary,
    auth: fc.constantFrom('Bearer fuzz', 'Bearer other', 'Bearer ', 'Basic x', undefined),
    contentType: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'multipart/form-data; boundary=fuzz',
      'multipart/form-data',
      'application/x-www-form-urlencoded',
      undefined,
    ),
    accept: fc.constantFrom('application/json', 'text/event-stream', '*/*', undefined),
    idempotencyKey: fc.option(
      fc.string({ minLength: 1, maxLength: 10 }).filter((s) => /^[\x21-\x7e]+$/.test(s)),
    ),
    body: fc.option(
      fc.oneof(
        jsonBody,
        fc.constant(
          '--fuzz\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{"a":1}\n\r\n--fuzz\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n--fuzz--\r\n',
        ),
        fc.string({ maxLength: 200 }).map((s) => `--fuzz\r\n${s}`),
        fc.uint8Array({ maxLength: 5000 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
      ),
    ),
  });

describe('random requests', () => {
  it('never get a 5xx, always get a documented shape, and leave the server up', async () => {
    let count = 0;
    await fc.assert(
      fc.asyncProperty(requestArbitrary(), async (r) => {
        count += 1;
        const headers: Record<string, string> = {};
        if (r.auth) headers.authorization = r.auth;
        if (r.contentType) headers['content-type'] = r.contentType;
        if (r.accept) headers.accept = r.accept;
        if (r.idempotencyKey) headers['idempotency-key'] = r.idempotencyKey;
        const hasBody = r.body !== null && r.method !== 'GET' && r.method !== 'HEAD';
        const url = `${server.origin}${r.path}${r.query}`;
        let response: Response;
        try {
          response = await fetch(url, { method: r.method, headers, body: hasBody ? r.body : undefined });
        } catch (error) {
          // fetch itself refuses some inputs (bad URLs, forbidden methods) before anything is sent.
          if (error instanceof TypeError && !String(error.cause ?? '').includes('ECONNRE')) return;
          throw error;
        }
        expect(response.status, `${r.method} ${url}`).toBeLessThan(500);
        const contentType = response.headers.get('content-type');
        if (r.method === 'HEAD' || r.method === 'OPTIONS') {
          await response.body?.cancel();
          return;
        }
        if (contentType?.includes('text/event-stream')) {
          await response.body?.cancel();
          return;
        }
        const text = await response.text();
        const body = contentType?.includes('application/json') ? JSON.parse(text) : text;
        expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
        const path = new URL(url).pathname;
        if (response.status >= 400) {
          expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
        }
        // The dashboard's built files are static pages, not API operations (docs/dashboard.md).
        if (response.status === 200 && /^\/(index\.html|favicon\.svg|assets\/.+)?$/.test(path)) {
          expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
          return;
        }
        checkResponse(r.method, path, response.status, contentType, body);
      }),
      { numRuns: 1200, seed: Number(process.env.FC_SEED ?? 20261129) },
    );
    expect(count).toBeGreaterThanOrEqual(1000);
    const health = await fetch(`${server.origin}/health`);
    expect(health.status).toBe(200);
  }, 180_000);

  it('the contract checker itself rejects a body that breaks the schema', () => {
    expect(() => checkResponse('GET', '/v1/files', 200, 'application/json', { object: 'list' })).toThrow(
      ContractViolation,
    );
    expect(() =>
      checkResponse('GET', '/v1/files/file-x', 404, 'application/json', { error: { message: 'x' } }),
    ).toThrow(ContractViolation);
  });
});
