import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it, vi } from 'vitest';
import Tunekit, { Tunekit as NamedTunekit, TunekitError, VERSION } from '../../src/index';
import { fileObject, job } from './fixtures';
import { BASE_URL, json, makeClient, useMswServer } from './helpers';

const server = useMswServer();

describe('client construction', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('exports the client as default and named export', () => {
    expect(Tunekit).toBe(NamedTunekit);
  });

  it('throws a clear error naming TUNEKIT_API_KEY when no key is given', () => {
    vi.stubEnv('TUNEKIT_API_KEY', '');
    expect(() => new Tunekit()).toThrow(TunekitError);
    expect(() => new Tunekit()).toThrow(/TUNEKIT_API_KEY/);
  });

  it('reads TUNEKIT_API_KEY and TUNEKIT_BASE_URL from the environment', async () => {
    vi.stubEnv('TUNEKIT_API_KEY', 'tk-from-env');
    vi.stubEnv('TUNEKIT_BASE_URL', 'http://env.test/v2');
    let auth: string | null = null;
    server.use(
      http.get('http://env.test/v2/files/file-1', ({ request }) => {
        auth = request.headers.get('authorization');
        return HttpResponse.json(fileObject('file-1'));
      }),
    );
    const client = new Tunekit();
    expect(client.baseURL).toBe('http://env.test/v2');
    await client.files.retrieve('file-1');
    expect(auth).toBe('Bearer tk-from-env');
  });

  it('defaults the base URL to the local emulator', () => {
    vi.stubEnv('TUNEKIT_BASE_URL', '');
    expect(new Tunekit({ apiKey: 'k' }).baseURL).toBe('http://127.0.0.1:4100/v1');
  });

  it('rejects a negative maxRetries', () => {
    expect(() => makeClient({ maxRetries: -1 })).toThrow(/maxRetries/);
  });
});

describe('request headers', () => {
  it('sends authorization, accept, user-agent and the retry count', async () => {
    let headers: Headers | undefined;
    server.use(
      http.get(`${BASE_URL}/fine_tuning/jobs/ftjob-1`, ({ request }) => {
        headers = request.headers;
        return HttpResponse.json(job('ftjob-1'));
      }),
    );
    await makeClient().fineTuning.jobs.retrieve('ftjob-1');
    expect(headers?.get('authorization')).toBe('Bearer tk-test');
    expect(headers?.get('accept')).toBe('application/json');
    expect(headers?.get('user-agent')).toBe(`Tunekit/JS ${VERSION}`);
    expect(headers?.get('x-tunekit-retry-count')).toBe('0');
    expect(headers?.get('idempotency-key')).toBeNull();
    expect(headers?.get('content-type')).toBeNull();
  });

  it('sends JSON bodies with a JSON content type', async () => {
    let contentType: string | null = null;
    let body: unknown;
    server.use(
      http.post(`${BASE_URL}/fine_tuning/jobs`, async ({ request }) => {
        contentType = request.headers.get('content-type');
        body = await request.json();
        return HttpResponse.json(job());
      }),
    );
    await makeClient().fineTuning.jobs.create({ model: 'm', training_file: 'file-1' });
    expect(contentType).toBe('application/json');
    expect(body).toEqual({ model: 'm', training_file: 'file-1' });
  });

  it('merges default headers, per-request headers and organization; null removes a header', async () => {
    let headers: Headers | undefined;
    server.use(
      http.get(`${BASE_URL}/models`, ({ request }) => {
        headers = request.headers;
        return HttpResponse.json({ object: 'list', data: [] });
      }),
    );
    const client = makeClient({
      defaultHeaders: { 'x-team': 'nlp', 'x-drop': 'a' },
      organization: 'org-1',
      project: 'proj_1',
    });
    await client.models.list({ headers: { 'x-request': 'one', 'x-drop': null, 'user-agent': 'custom' } });
    expect(headers?.get('x-team')).toBe('nlp');
    expect(headers?.get('x-request')).toBe('one');
    expect(headers?.get('x-drop')).toBeNull();
    expect(headers?.get('user-agent')).toBe('custom');
    expect(headers?.get('openai-organization')).toBe('org-1');
    expect(headers?.get('openai-project')).toBe('proj_1');
  });

  it('sends default query parameters on every request', async () => {
    let url = '';
    server.use(
      http.get(`${BASE_URL}/models`, ({ request }) => {
        url = request.url;
        return HttpResponse.json({ object: 'list', data: [] });
      }),
    );
    await makeClient({ defaultQuery: { 'api-version': '2024' } }).models.list();
    expect(new URL(url).searchParams.get('api-version')).toBe('2024');
  });
});

describe('idempotency keys', () => {
  it('puts a fresh Idempotency-Key on every POST call', async () => {
    const keys: Array<string | null> = [];
    server.use(
      http.post(`${BASE_URL}/fine_tuning/jobs/:id/cancel`, ({ request }) => {
        keys.push(request.headers.get('idempotency-key'));
        return HttpResponse.json(job('ftjob-1', { status: 'cancelled' }));
      }),
    );
    const client = makeClient();
    await client.fineTuning.jobs.cancel('ftjob-1');
    await client.fineTuning.jobs.cancel('ftjob-1');
    expect(keys[0]).toMatch(/^tunekit-node-retry-[0-9a-f-]{36}$/);
    expect(keys[1]).toMatch(/^tunekit-node-retry-/);
    expect(keys[0]).not.toBe(keys[1]);
  });

  it('uses the idempotencyKey request option when given', async () => {
    let key: string | null = null;
    server.use(
      http.post(`${BASE_URL}/fine_tuning/jobs`, ({ request }) => {
        key = request.headers.get('idempotency-key');
        return HttpResponse.json(job());
      }),
    );
    await makeClient().fineTuning.jobs.create(
      { model: 'm', training_file: 'f' },
      { idempotencyKey: 'my-key' },
    );
    expect(key).toBe('my-key');
  });
});

describe('response parsing', () => {
  it('parses JSON only for JSON media types and returns text otherwise', async () => {
    server.use(
      http.get(
        `${BASE_URL}/models/json-model`,
        () => new HttpResponse('{"id":"x"}', { headers: { 'content-type': 'application/vnd.api+json' } }),
      ),
      http.get(
        `${BASE_URL}/models/text-model`,
        () => new HttpResponse('{"id":"x"}', { headers: { 'content-type': 'text/plain' } }),
      ),
    );
    const client = makeClient();
    expect(await client.models.retrieve('json-model')).toEqual({ id: 'x' });
    expect(await client.models.retrieve('text-model')).toBe('{"id":"x"}');
  });

  it('withResponse gives the data, the raw response and the request id; asResponse the raw response', async () => {
    server.use(
      http.get(`${BASE_URL}/files/file-1`, () =>
        json(fileObject('file-1'), { headers: { 'x-request-id': 'req_123', 'x-extra': 'yes' } }),
      ),
    );
    const client = makeClient();
    const { data, response, request_id } = await client.files.retrieve('file-1').withResponse();
    expect(data.id).toBe('file-1');
    expect(response.headers.get('x-extra')).toBe('yes');
    expect(request_id).toBe('req_123');
    const raw = await client.files.retrieve('file-1').asResponse();
    expect(raw.status).toBe(200);
    expect(await raw.json()).toMatchObject({ id: 'file-1' });
  });
});

describe('custom fetch', () => {
  it('uses the fetch option instead of the global fetch', async () => {
    const calls: string[] = [];
    const fetch = async (input: string | URL | Request, init?: RequestInit) => {
      calls.push(`${init?.method} ${String(input)}`);
      return json(fileObject('file-9'));
    };
    const file = await makeClient({ fetch }).files.retrieve('file-9');
    expect(file.id).toBe('file-9');
    expect(calls).toEqual([`GET ${BASE_URL}/files/file-9`]);
  });

  it('withOptions copies the client with options replaced', async () => {
    const seen: string[] = [];
    const fetch = async (input: string | URL | Request) => {
      seen.push(String(input));
      return json(fileObject());
    };
    const client = makeClient({ fetch }).withOptions({ baseURL: 'http://other.test/v1' });
    await client.files.retrieve('file-1');
    expect(seen).toEqual(['http://other.test/v1/files/file-1']);
  });
});
