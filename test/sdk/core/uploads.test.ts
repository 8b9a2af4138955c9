import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { http } from 'msw';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalServerError, toFile } from '../../../src/index';
import { fileObject } from '../fixtures';
import { BASE_URL, json, makeClient, useMswServer } from '../helpers';

const server = useMswServer();
const JSONL = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n';

let dir: string;
let jsonlPath: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunekit-sdk-uploads-'));
  jsonlPath = path.join(dir, 'train.jsonl');
  fs.writeFileSync(jsonlPath, JSONL);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Received {
  contentType: string;
  filename: string;
  text: string;
  purpose: string | null;
  fields: Record<string, string>;
}

/** Parses each upload the way the emulator will (multipart), and records it. */
function recordUploads(failFirst = 0) {
  const received: Received[] = [];
  server.use(
    http.post(`${BASE_URL}/files`, async ({ request }) => {
      const contentType = request.headers.get('content-type') ?? '';
      const form = await request.formData();
      const file = form.get('file') as File;
      const fields: Record<string, string> = {};
      for (const [key, value] of form.entries()) if (typeof value === 'string') fields[key] = value;
      received.push({
        contentType,
        filename: file.name,
        text: await file.text(),
        purpose: form.get('purpose') as string,
        fields,
      });
      if (received.length <= failFirst) {
        return json({ error: { message: 'try again' } }, { status: 500, headers: { 'retry-after-ms': '0' } });
      }
      return json(fileObject('file-up', { filename: file.name, bytes: file.size }));
    }),
  );
  return received;
}

describe('files.create multipart bodies', () => {
  it('uploads a path, named after the file', async () => {
    const received = recordUploads();
    const file = await makeClient().files.create({ file: jsonlPath, purpose: 'fine-tune' });
    expect(file.id).toBe('file-up');
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ filename: 'train.jsonl', text: JSONL, purpose: 'fine-tune' });
    expect(received[0]?.contentType).toMatch(/^multipart\/form-data; boundary=/);
  });

  it('uploads an fs.ReadStream (by re-opening its path) and honours start/end', async () => {
    const received = recordUploads();
    await makeClient().files.create({ file: fs.createReadStream(jsonlPath), purpose: 'fine-tune' });
    await makeClient().files.create({
      file: fs.createReadStream(jsonlPath, { start: 2, end: 11 }),
      purpose: 'fine-tune',
    });
    expect(received[0]).toMatchObject({ filename: 'train.jsonl', text: JSONL });
    expect(received[1]).toMatchObject({ filename: 'train.jsonl', text: JSONL.slice(2, 12) });
  });

  it('uploads a File, a Blob, a Buffer and a toFile result', async () => {
    const received = recordUploads();
    const client = makeClient();
    await client.files.create({ file: new File([JSONL], 'named.jsonl'), purpose: 'fine-tune' });
    await client.files.create({ file: new Blob([JSONL]), purpose: 'fine-tune' });
    await client.files.create({ file: Buffer.from(JSONL), purpose: 'fine-tune' });
    await client.files.create({
      file: await toFile(Buffer.from(JSONL), 'tofile.jsonl'),
      purpose: 'fine-tune',
    });
    await client.files.create({ file: await toFile(jsonlPath), purpose: 'fine-tune' });
    expect(received.map((r) => [r.filename, r.text])).toEqual([
      ['named.jsonl', JSONL],
      ['unknown_file', JSONL],
      ['unknown_file', JSONL],
      ['tofile.jsonl', JSONL],
      ['train.jsonl', JSONL],
    ]);
  });

  it('sends nested fields as key[sub] text parts', async () => {
    const received = recordUploads();
    await makeClient().files.create({
      file: jsonlPath,
      purpose: 'batch',
      expires_after: { anchor: 'created_at', seconds: 7200 },
    });
    expect(received[0]?.fields).toEqual({
      purpose: 'batch',
      'expires_after[anchor]': 'created_at',
      'expires_after[seconds]': '7200',
    });
  });

  it('streams an async iterable as a chunked multipart body with a tunekit boundary', async () => {
    const received = recordUploads();
    async function* chunks() {
      yield new TextEncoder().encode(JSONL.slice(0, 10));
      yield new TextEncoder().encode(JSONL.slice(10));
    }
    await makeClient().files.create({ file: chunks(), purpose: 'fine-tune' });
    expect(received[0]?.contentType).toMatch(/^multipart\/form-data; boundary=tunekit-/);
    expect(received[0]).toMatchObject({ filename: 'unknown_file', text: JSONL, purpose: 'fine-tune' });
  });

  it('streams a web ReadableStream', async () => {
    const received = recordUploads();
    const stream = Readable.toWeb(Readable.from([Buffer.from(JSONL)])) as ReadableStream<Uint8Array>;
    await makeClient().files.create({ file: stream, purpose: 'fine-tune' });
    expect(received[0]).toMatchObject({ text: JSONL });
  });
});

describe('upload retries', () => {
  it('retries a path upload, re-reading the whole file', async () => {
    const received = recordUploads(1);
    await makeClient().files.create({ file: jsonlPath, purpose: 'fine-tune' });
    expect(received).toHaveLength(2);
    expect(received.map((r) => r.text)).toEqual([JSONL, JSONL]);
  });

  it('does not retry a one-shot stream body', async () => {
    const received = recordUploads(1);
    async function* chunks() {
      yield new TextEncoder().encode(JSONL);
    }
    await expect(makeClient().files.create({ file: chunks(), purpose: 'fine-tune' })).rejects.toBeInstanceOf(
      InternalServerError,
    );
    expect(received).toHaveLength(1);
  });
});
