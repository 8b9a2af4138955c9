/**
 * bench:api's Together upload path (issue 12): `POST /together/v1/files` (form) → 302 → `PUT <Location>` of a
 * JSONL file the size of the multipart upload, with node:http (streamed, Content-Length, no key on the PUT, as the
 * SDKs send it). The PUT answers once the file passed the `together` CLI's checks (a fine-tune file: every line
 * parsed and checked against Together's formats; an `eval` file: every line parsed), so the figure includes them;
 * the checks alone over the same file are timed too, in this process.
 */

import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { request as httpRequest } from 'node:http';

/** Writes `bytes` (rounded up to whole lines) of Together conversation lines; resolves with the size written. */
export async function writeTogetherJsonl(path: string, bytes: number): Promise<number> {
  const out = createWriteStream(path);
  const line = (i: number) =>
    `${JSON.stringify({
      messages: [
        { role: 'user', content: `Question ${i}: what is ${i} plus ${i}?` },
        { role: 'assistant', content: `It is ${2 * i}. ${'Padding to a realistic line length. '.repeat(6)}` },
      ],
    })}\n`;
  let written = 0;
  let chunk = '';
  for (let i = 0; written < bytes; i++) {
    const text = line(i);
    chunk += text;
    written += Buffer.byteLength(text);
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return written;
}

function send(
  port: number,
  options: { method: string; path: string; headers: Record<string, string | number> },
  body: (req: import('node:http').ClientRequest) => void,
): Promise<{ status: number; headers: import('node:http').IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, ...options }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    body(req);
  });
}

/** One Together upload (POST → 302 → PUT); resolves with its seconds, after checking the stored size. */
export async function togetherUpload(
  port: number,
  key: string,
  path: string,
  size: number,
  purpose: 'fine-tune' | 'eval',
): Promise<number> {
  const started = process.hrtime.bigint();
  const form = new URLSearchParams({ file_name: 'big.jsonl', file_type: 'jsonl', purpose }).toString();
  const redirect = await send(
    port,
    {
      method: 'POST',
      path: `/together/v1/files?${form}`,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' },
    },
    (req) => req.end(form),
  );
  const location = redirect.headers.location;
  if (redirect.status !== 302 || !location)
    throw new Error(`upload request: ${redirect.status} ${redirect.text}`);
  const url = new URL(location);
  const stored = await send(
    port,
    {
      method: 'PUT',
      path: `${url.pathname}${url.search}`,
      headers: { 'content-type': 'application/octet-stream', 'content-length': size },
    },
    (req) => {
      const file = createReadStream(path, { highWaterMark: 1024 * 1024 });
      file.on('error', (error) => req.destroy(error));
      file.pipe(req);
    },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (stored.status !== 200) throw new Error(`upload PUT: ${stored.status} ${stored.text}`);
  const id = redirect.headers['x-together-file-id'] as string;
  const file = await send(
    port,
    { method: 'GET', path: `/together/v1/files/${id}`, headers: { authorization: `Bearer ${key}` } },
    (req) => req.end(),
  );
  const bytes = (JSON.parse(file.text) as { bytes: number }).bytes;
  if (bytes !== size) throw new Error(`upload stored ${bytes} bytes, expected ${size}`);
  return seconds;
}
