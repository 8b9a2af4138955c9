import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { fileObject } from '../fixtures';
import { BASE_URL, json, makeClient, useMswServer } from '../helpers';

const server = useMswServer();

describe('files', () => {
  it('create: POST /files as multipart', async () => {
    let method = '';
    let fields: string[] = [];
    server.use(
      http.post(`${BASE_URL}/files`, async ({ request }) => {
        method = request.method;
        fields = [...(await request.formData()).keys()];
        return json(fileObject());
      }),
    );
    const file = await makeClient().files.create({
      file: new File(['{}\n'], 'a.jsonl'),
      purpose: 'fine-tune',
    });
    expect(method).toBe('POST');
    expect(fields).toEqual(['file', 'purpose']);
    expect(file).toEqual(fileObject());
  });

  it('retrieve: GET /files/{id}', async () => {
    server.use(http.get(`${BASE_URL}/files/:id`, ({ params }) => json(fileObject(params.id as string))));
    expect((await makeClient().files.retrieve('file-xyz')).id).toBe('file-xyz');
  });

  it('list: GET /files with purpose, order, limit, after', async () => {
    let query: Record<string, string> = {};
    server.use(
      http.get(`${BASE_URL}/files`, ({ request }) => {
        query = Object.fromEntries(new URL(request.url).searchParams);
        return json({
          object: 'list',
          data: [fileObject('file-1')],
          first_id: 'file-1',
          last_id: 'file-1',
          has_more: false,
        });
      }),
    );
    const page = await makeClient().files.list({
      purpose: 'fine-tune',
      order: 'asc',
      limit: 5,
      after: 'file-0',
    });
    expect(query).toEqual({ purpose: 'fine-tune', order: 'asc', limit: '5', after: 'file-0' });
    expect(page.data.map((f) => f.id)).toEqual(['file-1']);
    expect(page.first_id).toBe('file-1');
    expect(page.last_id).toBe('file-1');
  });

  it('delete: DELETE /files/{id}', async () => {
    let method = '';
    server.use(
      http.delete(`${BASE_URL}/files/:id`, ({ request, params }) => {
        method = request.method;
        return json({ id: params.id, object: 'file', deleted: true });
      }),
    );
    expect(await makeClient().files.delete('file-1')).toEqual({
      id: 'file-1',
      object: 'file',
      deleted: true,
    });
    expect(method).toBe('DELETE');
  });

  it('content: GET /files/{id}/content with Accept application/binary, resolving to the raw Response', async () => {
    let accept: string | null = null;
    server.use(
      http.get(`${BASE_URL}/files/:id/content`, ({ request }) => {
        accept = request.headers.get('accept');
        return new HttpResponse('line 1\nline 2\n', { headers: { 'content-type': 'application/json' } });
      }),
    );
    const response = await makeClient().files.content('file-1');
    expect(response).toBeInstanceOf(Response);
    expect(accept).toBe('application/binary');
    // Not parsed even though the server says JSON: the caller gets the bytes.
    expect(await response.text()).toBe('line 1\nline 2\n');
  });

  it('text: the file contents as a string', async () => {
    server.use(http.get(`${BASE_URL}/files/:id/content`, () => new HttpResponse('step,train_loss\n1,2.5\n')));
    expect(await makeClient().files.text('file-1')).toBe('step,train_loss\n1,2.5\n');
  });
});
