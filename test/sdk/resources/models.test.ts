import { http } from 'msw';
import { describe, expect, it } from 'vitest';
import { model } from '../fixtures';
import { BASE_URL, json, makeClient, useMswServer } from '../helpers';

const server = useMswServer();

describe('models', () => {
  it('list: GET /models, a single page', async () => {
    let calls = 0;
    server.use(
      http.get(`${BASE_URL}/models`, () => {
        calls++;
        return json({ object: 'list', data: [model('tiny-llama'), model('ft:tiny-llama:org::abc12345')] });
      }),
    );
    const ids: string[] = [];
    for await (const m of makeClient().models.list()) ids.push(m.id);
    expect(ids).toEqual(['tiny-llama', 'ft:tiny-llama:org::abc12345']);
    expect(calls).toBe(1);
  });

  it('retrieve: GET /models/{model}', async () => {
    let path = '';
    server.use(
      http.get(`${BASE_URL}/models/*`, ({ request }) => {
        path = new URL(request.url).pathname;
        return json(model('tiny-llama'));
      }),
    );
    expect((await makeClient().models.retrieve('tiny-llama')).id).toBe('tiny-llama');
    expect(path).toBe('/v1/models/tiny-llama');
  });

  it('delete: DELETE /models/{model} keeps the colons of an ft: id unescaped', async () => {
    let rawPath = '';
    let method = '';
    server.use(
      http.delete(`${BASE_URL}/models/*`, ({ request }) => {
        method = request.method;
        rawPath = new URL(request.url).pathname;
        return json({ id: 'ft:tiny-llama:org::abc12345', object: 'model', deleted: true });
      }),
    );
    const deleted = await makeClient().models.delete('ft:tiny-llama:org::abc12345');
    expect(method).toBe('DELETE');
    expect(rawPath).toBe('/v1/models/ft:tiny-llama:org::abc12345');
    expect(deleted).toEqual({ id: 'ft:tiny-llama:org::abc12345', object: 'model', deleted: true });
  });

  it('percent-encodes characters that would change the path', async () => {
    let rawPath = '';
    server.use(
      http.get(`${BASE_URL}/models/*`, ({ request }) => {
        rawPath = new URL(request.url).pathname;
        return json(model('x'));
      }),
    );
    await makeClient().models.retrieve('org/model name?');
    expect(rawPath).toBe('/v1/models/org%2Fmodel%20name%3F');
  });
});
