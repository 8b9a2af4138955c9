import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HttpResponse, http } from 'msw';
import * as tar from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adapter } from '../fixtures';
import { BASE_URL, json, makeClient, useMswServer } from '../helpers';

const server = useMswServer();
const ADAPTERS = `${BASE_URL}/adapters`;

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tunekit-sdk-adapters-'));
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

/** A tar archive of a PEFT folder, made with the tar package. */
async function peftTar(): Promise<Buffer> {
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 8 }));
  fs.writeFileSync(path.join(src, 'adapter_model.safetensors'), Buffer.alloc(4096, 7));
  const chunks: Buffer[] = [];
  for await (const piece of tar.c({ cwd: src, portable: true }, [
    'adapter_config.json',
    'adapter_model.safetensors',
  ])) {
    chunks.push(piece as Buffer);
  }
  return Buffer.concat(chunks);
}

describe('adapters', () => {
  it('list: GET /adapters with fine_tuning_job_id, after and limit', async () => {
    let query: Record<string, string> = {};
    server.use(
      http.get(ADAPTERS, ({ request }) => {
        query = Object.fromEntries(new URL(request.url).searchParams);
        return json({
          object: 'list',
          data: [adapter()],
          first_id: 'adapter-abc123',
          last_id: 'adapter-abc123',
          has_more: false,
        });
      }),
    );
    const page = await makeClient().adapters.list({
      fine_tuning_job_id: 'ftjob-1',
      after: 'adapter-0',
      limit: 5,
    });
    expect(query).toEqual({ fine_tuning_job_id: 'ftjob-1', after: 'adapter-0', limit: '5' });
    expect(page.data[0]?.peft_type).toBe('LORA');
  });

  it('retrieve: GET /adapters/{id}', async () => {
    server.use(http.get(`${ADAPTERS}/:id`, ({ params }) => json(adapter(params.id as string))));
    expect((await makeClient().adapters.retrieve('adapter-7')).id).toBe('adapter-7');
  });

  it('delete: DELETE /adapters/{id}', async () => {
    let method = '';
    server.use(
      http.delete(`${ADAPTERS}/:id`, ({ request, params }) => {
        method = request.method;
        return json({ id: params.id, object: 'adapter', deleted: true });
      }),
    );
    expect(await makeClient().adapters.delete('adapter-7')).toEqual({
      id: 'adapter-7',
      object: 'adapter',
      deleted: true,
    });
    expect(method).toBe('DELETE');
  });

  it('content: GET /adapters/{id}/content?format= returns the raw Response', async () => {
    let search = '';
    const archive = await peftTar();
    server.use(
      http.get(`${ADAPTERS}/:id/content`, ({ request }) => {
        search = new URL(request.url).search;
        return new HttpResponse(archive, { headers: { 'content-type': 'application/x-tar' } });
      }),
    );
    const response = await makeClient().adapters.content('adapter-7', { format: 'merged' });
    expect(search).toBe('?format=merged');
    expect(Buffer.from(await response.arrayBuffer()).equals(archive)).toBe(true);
  });

  it('download: unpacks the PEFT folder into dir and lists the files', async () => {
    const archive = await peftTar();
    server.use(
      http.get(
        `${ADAPTERS}/:id/content`,
        () => new HttpResponse(archive, { headers: { 'content-type': 'application/x-tar' } }),
      ),
    );
    const dest = path.join(work, 'out', 'my-adapter');
    const files = await makeClient().adapters.download('adapter-7', dest);
    expect(files).toEqual([
      path.join(dest, 'adapter_config.json'),
      path.join(dest, 'adapter_model.safetensors'),
    ]);
    expect(JSON.parse(fs.readFileSync(path.join(dest, 'adapter_config.json'), 'utf8'))).toEqual({
      peft_type: 'LORA',
      r: 8,
    });
    expect(fs.readFileSync(path.join(dest, 'adapter_model.safetensors')).equals(Buffer.alloc(4096, 7))).toBe(
      true,
    );
  });

  it('download: refuses entries that would land outside dir', async () => {
    const inner = path.join(work, 'src', 'inner');
    fs.mkdirSync(inner, { recursive: true });
    fs.writeFileSync(path.join(work, 'src', 'evil.txt'), 'gotcha');
    const chunks: Buffer[] = [];
    for await (const piece of tar.c({ cwd: inner, preservePaths: true }, ['../evil.txt']))
      chunks.push(piece as Buffer);
    const archive = Buffer.concat(chunks);
    server.use(http.get(`${ADAPTERS}/:id/content`, () => new HttpResponse(archive)));
    const dest = path.join(work, 'out', 'deep', 'adapter');
    await expect(makeClient().adapters.download('adapter-7', dest)).rejects.toThrow();
    expect(fs.existsSync(path.join(work, 'out', 'deep', 'evil.txt'))).toBe(false);
  });
});
