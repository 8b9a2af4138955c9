import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatJsonl, startTestServer, type TestServer, uploadFile } from './harness';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ maxUploadBytes: 64 * 1024 });
});
afterAll(async () => {
  await server.close();
});

function multipart(
  boundary: string,
  parts: Array<{ name: string; filename?: string; value: string }>,
): string {
  let out = '';
  for (const part of parts) {
    out += `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename) out += `; filename="${part.filename}"\r\nContent-Type: application/octet-stream`;
    out += `\r\n\r\n${part.value}\r\n`;
  }
  return `${out}--${boundary}--\r\n`;
}

describe('POST /v1/files', () => {
  it('stores the bytes and serves them back unchanged', async () => {
    const content = chatJsonl(12);
    const file = await uploadFile(server, content, { filename: 'data.jsonl' });
    expect(file).toMatchObject({ object: 'file', bytes: Buffer.byteLength(content), filename: 'data.jsonl' });
    expect(file).toMatchObject({ purpose: 'fine-tune', status: 'processed' });
    const download = await server.request('GET', `/v1/files/${file.id}/content`);
    expect(download.status).toBe(200);
    expect(download.body).toBe(content);
  });

  it('reads purpose and expires_after sent after the file part', async () => {
    const boundary = 'openai-test-boundary';
    const body = multipart(boundary, [
      { name: 'file', filename: 'late.jsonl', value: chatJsonl(1) },
      { name: 'purpose', value: 'fine-tune' },
      { name: 'expires_after[anchor]', value: 'created_at' },
      { name: 'expires_after[seconds]', value: '3600' },
    ]);
    const response = await server.request('POST', '/v1/files', {
      body,
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    expect(response.status).toBe(200);
    const file = response.body as { created_at: number; expires_at: number; purpose: string };
    expect(file.purpose).toBe('fine-tune');
    expect(file.expires_at - file.created_at).toBe(3600);
  });

  it('refuses non-JSONL fine-tuning data with 400 and keeps nothing', async () => {
    const before = readdirSync(`${server.dataDir}/files`).length;
    for (const [content, filename] of [
      ['a,b\n1,2\n', 'data.csv'],
      ['this is prose\n', 'data.jsonl'],
      ['[1,2]\n', 'data.jsonl'],
      ['', 'empty.jsonl'],
    ]) {
      const form = new FormData();
      form.append('file', new Blob([content as string]), filename as string);
      form.append('purpose', 'fine-tune');
      const response = await server.request('POST', '/v1/files', { body: form });
      expect(response.status, `${filename}: ${content}`).toBe(400);
      expect(response.body).toMatchObject({ error: { param: 'file', code: 'invalid_file_format' } });
    }
    expect(readdirSync(`${server.dataDir}/files`).length).toBe(before);
    expect(readdirSync(`${server.dataDir}/tmp`)).toEqual([]);
  });

  it('accepts any bytes for other purposes', async () => {
    const file = await uploadFile(server, 'not json at all', { filename: 'notes.txt', purpose: 'user_data' });
    expect(file.purpose).toBe('user_data');
  });

  it('refuses missing fields and a bad purpose with 400', async () => {
    const noFile = new FormData();
    noFile.append('purpose', 'fine-tune');
    const missing = await server.request('POST', '/v1/files', { body: noFile });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: { param: 'file' } });
    const badPurpose = new FormData();
    badPurpose.append('file', new Blob(['{}\n']), 'a.jsonl');
    badPurpose.append('purpose', 'fine-tune-results');
    const refused = await server.request('POST', '/v1/files', { body: badPurpose });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: { param: 'purpose' } });
    const notMultipart = await server.request('POST', '/v1/files', { json: { purpose: 'fine-tune' } });
    expect(notMultipart.status).toBe(400);
  });

  it('answers 413 above --max-upload-bytes and leaves no blob', async () => {
    const before = readdirSync(`${server.dataDir}/files`).length;
    const form = new FormData();
    form.append('file', new Blob(['x'.repeat(70 * 1024)]), 'big.jsonl');
    form.append('purpose', 'user_data');
    const response = await server.request('POST', '/v1/files', { body: form });
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect(readdirSync(`${server.dataDir}/files`).length).toBe(before);
    expect(readdirSync(`${server.dataDir}/tmp`)).toEqual([]);
  });

  it('leaves no record and no blob when the upload is cut off midway', async () => {
    const listBefore = await server.request('GET', '/v1/files', { key: 'cut-off' });
    expect((listBefore.body as { data: unknown[] }).data).toEqual([]);
    const boundary = 'cutoff';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.jsonl"\r\n\r\n`;
    const port = new URL(server.origin).port;
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          `POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer cut-off\r\n` +
            `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 100000\r\n\r\n${head}`,
        );
        socket.write(chatJsonl(50).slice(0, 2000), () => setTimeout(() => socket.destroy(), 100));
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    // The server notices the aborted request asynchronously; wait until its tmp folder is empty again.
    for (let i = 0; i < 100 && readdirSync(`${server.dataDir}/tmp`).length > 0; i += 1) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(readdirSync(`${server.dataDir}/tmp`)).toEqual([]);
    const listAfter = await server.request('GET', '/v1/files', { key: 'cut-off' });
    expect((listAfter.body as { data: unknown[] }).data).toEqual([]);
  });
});

describe('GET /v1/files', () => {
  it('pages newest first by default, oldest first with order=asc, filtered by purpose', async () => {
    const key = 'paging-files';
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await uploadFile(server, chatJsonl(1), { key })).id);
    await uploadFile(server, 'x', { key, purpose: 'user_data', filename: 'x.txt' });
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const query = `?purpose=fine-tune&limit=2${after ? `&after=${after}` : ''}`;
      const page = (await server.request('GET', `/v1/files${query}`, { key })).body as {
        data: Array<{ id: string }>;
        has_more: boolean;
        last_id: string;
      };
      seen.push(...page.data.map((f) => f.id));
      if (!page.has_more) break;
      after = page.last_id;
    }
    expect(seen).toEqual([...ids].reverse());
    const asc = (await server.request('GET', '/v1/files?order=asc&purpose=fine-tune', { key })).body as {
      data: Array<{ id: string }>;
    };
    expect(asc.data.map((f) => f.id)).toEqual(ids);
  });
});

describe('retrieve and delete', () => {
  it('retrieves, deletes, then answers 404', async () => {
    const file = await uploadFile(server, chatJsonl(1));
    expect((await server.request('GET', `/v1/files/${file.id}`)).body).toMatchObject({ id: file.id });
    const deleted = await server.request('DELETE', `/v1/files/${file.id}`);
    expect(deleted.body).toEqual({ id: file.id, object: 'file', deleted: true });
    const gone = await server.request('GET', `/v1/files/${file.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ error: { message: `No such File object: ${file.id}`, param: 'id' } });
    expect((await server.request('GET', `/v1/files/${file.id}/content`)).status).toBe(404);
    expect((await server.request('DELETE', `/v1/files/${file.id}`)).status).toBe(404);
  });
});
