import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tunekit } from '../../../src/index';

// No msw here (its handlers clone the request body, which would buffer it): the upload goes over a real
// socket to a node:http server in a child process, so only the SDK's memory is measured in this process.

const FILE_SIZE = 200 * 1024 * 1024;
const MEMORY_LIMIT = 64 * 1024 * 1024;

// A full GC before each measurement, so garbage left by an earlier test cannot hide this one's growth.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const SERVER_SOURCE = `
import http from 'node:http';
const server = http.createServer((req, res) => {
  let bytes = 0;
  req.on('data', (chunk) => { bytes += chunk.length; });
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id: 'file-big', object: 'file', bytes, contentType: req.headers['content-type'] }));
  });
});
server.listen(0, '127.0.0.1', () => process.send(server.address().port));
`;

let dir: string;
let bigFile: string;
let child: ChildProcess;
let client: Tunekit;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunekit-sdk-large-'));
  bigFile = path.join(dir, 'big.jsonl');
  fs.writeFileSync(bigFile, '');
  fs.truncateSync(bigFile, FILE_SIZE); // sparse: no disk blocks, reads return zeros
  const script = path.join(dir, 'server.mjs');
  fs.writeFileSync(script, SERVER_SOURCE);
  child = fork(script, { stdio: 'ignore' });
  const port = await new Promise<number>((resolve) => child.once('message', (p) => resolve(p as number)));
  client = new Tunekit({ apiKey: 'k', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
});

afterAll(() => {
  child?.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs `upload` while sampling memory; returns its result and the peak growth of arrayBuffers and rss. */
async function measure<T>(upload: () => Promise<T>) {
  gc();
  const base = process.memoryUsage();
  let peakArrayBuffers = 0;
  let peakRss = 0;
  const sample = () => {
    const now = process.memoryUsage();
    peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers - base.arrayBuffers);
    peakRss = Math.max(peakRss, now.rss - base.rss);
  };
  const timer = setInterval(sample, 2);
  try {
    const result = await upload();
    sample();
    return { result, peakArrayBuffers, peakRss };
  } finally {
    clearInterval(timer);
  }
}

type Echo = { bytes: number; contentType: string };

describe('large uploads stream with bounded memory', () => {
  it('a 200 MB file given by path', async () => {
    const { result, peakArrayBuffers, peakRss } = await measure(
      () => client.files.create({ file: bigFile, purpose: 'fine-tune' }) as unknown as Promise<Echo>,
    );
    // The multipart body is the file plus a few hundred bytes of part headers.
    expect(result.bytes).toBeGreaterThan(FILE_SIZE);
    expect(result.bytes).toBeLessThan(FILE_SIZE + 1024);
    expect(peakArrayBuffers).toBeLessThan(MEMORY_LIMIT);
    expect(peakRss).toBeLessThan(FILE_SIZE / 2);
  });

  it('a 200 MB generated stream', async () => {
    async function* generate() {
      const chunk = 1024 * 1024;
      for (let sent = 0; sent < FILE_SIZE; sent += chunk) yield new Uint8Array(chunk).fill(0x20);
    }
    const { result, peakArrayBuffers, peakRss } = await measure(
      () => client.files.create({ file: generate(), purpose: 'fine-tune' }) as unknown as Promise<Echo>,
    );
    expect(result.contentType).toMatch(/boundary=tunekit-/);
    expect(result.bytes).toBeGreaterThan(FILE_SIZE);
    expect(result.bytes).toBeLessThan(FILE_SIZE + 1024);
    expect(peakArrayBuffers).toBeLessThan(MEMORY_LIMIT);
    expect(peakRss).toBeLessThan(FILE_SIZE / 2);
  });
});
