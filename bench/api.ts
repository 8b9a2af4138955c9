/**
 * `npm run bench:api`: throughput of the emulator's HTTP server, measured with autocannon against a server in a
 * child process (so the load generator does not share its event loop):
 *   - GET /v1/fine_tuning/jobs/{id}, and GET /v1/fine_tuning/jobs (a page of 20) with 10,000 jobs stored: req/s, p99;
 *   - a 1 GB upload (a sparse temp file, read once beforehand so it is in the page cache, streamed as multipart):
 *     MB/s and the server's peak RSS growth.
 *   - Together's upload (POST /together/v1/files → 302 → PUT) of a JSONL file of the same size, its checks included
 *     (bench/api-together.ts), for fine-tune and eval files, and the checks alone.
 * Targets (issues 4, 12 and 15): >= 5,000 req/s with p99 < 10 ms; uploads (both paths) >= 300 MB/s with RSS growth
 * < 64 MB.
 * The scheduler is not started: jobs stay queued, so only the HTTP path is measured.
 *
 * The ceiling, in the same server process and the same run: a bare Fastify instance (no hooks, no auth, no store)
 * with one GET route returning the emulator's own response body for the same URL (taken once with inject), and one
 * POST route piping the raw request body to a file in the same data folder (no multipart parsing, no hashing). Each
 * figure is the median of BENCH_REPEATS runs (default 3), the emulator's and the bare route's runs alternating.
 */
import { type ChildProcess, fork } from 'node:child_process';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Fastify, { type FastifyInstance } from 'fastify';
import { togetherUpload, writeTogetherJsonl } from './api-together';

const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const UPLOAD_BYTES = Number(process.env.BENCH_UPLOAD_BYTES ?? 1024 ** 3);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const KEY = 'bench-key';

type ServerMessage =
  | { kind: 'ready'; port: number; barePort: number; jobId: string }
  | { kind: 'rss'; baseline: number; peak: number };

async function runServer(): Promise<void> {
  const { buildApp } = await import('../emulator/app');
  const { openStore, projectIdForKey, organizationIdForKey } = await import('../emulator/store/index');
  const { ModelRegistry, BUILTIN_MODEL } = await import('../emulator/worker/models');
  const { Scheduler } = await import('../emulator/worker/scheduler');
  const { builtinModelDir } = await import('../native/index');
  const dataDir = process.argv[3]!;
  const store = openStore(dataDir);
  const models = new ModelRegistry({ store, builtinDir: builtinModelDir() });
  const projectId = projectIdForKey(KEY);
  const file = store.files.createFromBuffer(projectId, {
    filename: 'train.jsonl',
    purpose: 'fine-tune',
    data: Buffer.from(
      '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n',
    ),
  });
  let jobId = '';
  store.transaction(() => {
    for (let i = 0; i < JOBS; i += 1) {
      jobId = store.jobs.create(projectId, {
        params: { model: BUILTIN_MODEL, training_file: file.id, metadata: { index: String(i) } },
        organizationId: organizationIdForKey(KEY),
      }).id;
    }
  });
  const app = await buildApp({ store, jobs: new Scheduler({ store, models }), models });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const bare = await bareServer(app, dataDir, jobId);
  let baseline = process.memoryUsage.rss();
  let peak = baseline;
  setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20).unref();
  process.on('message', (message: { kind: string }) => {
    if (message.kind === 'reset-rss') {
      global.gc?.();
      baseline = process.memoryUsage.rss();
      peak = baseline;
      process.send!({ kind: 'rss', baseline, peak });
    } else if (message.kind === 'rss') {
      process.send!({ kind: 'rss', baseline, peak: Math.max(peak, process.memoryUsage.rss()) });
    } else if (message.kind === 'stop') {
      void app.close().then(() => {
        store.close();
        process.exit(0);
      });
    }
  });
  process.send!({ kind: 'ready', port, barePort: bare, jobId } satisfies ServerMessage);
}

/** The ceiling: bare Fastify serving the emulator's bodies for the two GET URLs, and a raw-body-to-file upload. */
async function bareServer(app: FastifyInstance, dataDir: string, jobId: string): Promise<number> {
  const headers = { authorization: `Bearer ${KEY}` };
  const bodies = new Map<string, unknown>();
  for (const url of [`/v1/fine_tuning/jobs/${jobId}`, '/v1/fine_tuning/jobs']) {
    const res = await app.inject({ method: 'GET', url, headers });
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
    bodies.set(url, res.json());
  }
  const bare = Fastify();
  for (const [url, body] of bodies) bare.get(url, async () => body);
  bare.addContentTypeParser('multipart/form-data', (_request, _payload, done) => done(null));
  let n = 0;
  bare.post('/v1/files', async (request) => {
    const path = join(dataDir, `bare-upload-${n++}`);
    await pipeline(request.raw, createWriteStream(path));
    const { size } = statSync(path);
    rmSync(path);
    return { bytes: size };
  });
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const address = bare.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

function request(child: ChildProcess, kind: string): Promise<ServerMessage> {
  return new Promise((resolve) => {
    child.once('message', (message: ServerMessage) => resolve(message));
    child.send({ kind });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One autocannon run; throws unless every response was a 2xx. */
async function cannonOnce(url: string): Promise<{ reqS: number; p99: number }> {
  const result = await autocannon({
    url,
    connections: 16,
    duration: DURATION_S,
    headers: { authorization: `Bearer ${KEY}` },
  });
  if (result.non2xx !== 0 || result.errors !== 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`);
  }
  return { reqS: result.requests.average, p99: result.latency.p99 };
}

/** The emulator's route and the bare one, alternating, REPEATS times each; medians side by side. */
async function cannon(title: string, url: string, bareUrl: string): Promise<void> {
  const ours: { reqS: number; p99: number }[] = [];
  const bare: { reqS: number; p99: number }[] = [];
  for (let i = 0; i < REPEATS; i++) {
    ours.push(await cannonOnce(url));
    bare.push(await cannonOnce(bareUrl));
  }
  const reqS = median(ours.map((r) => r.reqS));
  const bareReqS = median(bare.map((r) => r.reqS));
  console.log(
    `${title.padEnd(44)} ${reqS.toFixed(0).padStart(7)} req/s   p99 ${String(median(ours.map((r) => r.p99))).padStart(4)} ms` +
      `   bare Fastify ${bareReqS.toFixed(0)} req/s, p99 ${median(bare.map((r) => r.p99))} ms` +
      `   (${((100 * reqS) / bareReqS).toFixed(0)}% of bare; runs ${ours.map((r) => r.reqS.toFixed(0)).join(', ')})`,
  );
}

/**
 * Reads the file once before the timed upload, so the upload reads it from the page cache, as it would a file that
 * was just written or read. Reading a gigabyte of holes the first time had the kernel zero-fill fresh page-cache
 * pages, which cost the client 3-4.6 s of system time on a 2-CPU VM: the figure then measured the client.
 */
function warmPageCache(path: string): void {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    let position = 0;
    while (position < UPLOAD_BYTES) position += readSync(fd, buffer, 0, buffer.length, position);
  } finally {
    closeSync(fd);
  }
}

/**
 * Streams the file as one multipart part with node:http (no buffering on this side either). The server must report
 * the file's size (`raw`: the whole body's, for the bare route that stores the body unparsed).
 */
async function upload(port: number, path: string, raw = false): Promise<number> {
  const boundary = 'tunekit-bench-boundary';
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const started = process.hrtime.bigint();
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/files',
        headers: {
          authorization: `Bearer ${KEY}`,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': head.length + UPLOAD_BYTES + tail.length,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.write(head);
    const file = createReadStream(path, { highWaterMark: 1024 * 1024 });
    file.on('error', reject);
    file.on('end', () => req.end(tail));
    file.pipe(req, { end: false });
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (status !== 200) throw new Error(`upload failed: ${status} ${text}`);
  const bytes = (JSON.parse(text) as { bytes: number }).bytes;
  const expected = raw ? head.length + UPLOAD_BYTES + tail.length : UPLOAD_BYTES;
  if (bytes !== expected) throw new Error(`upload stored ${bytes} bytes, expected ${expected}`);
  return seconds;
}

/**
 * Together's upload path over a JSONL file of the same size: fine-tune (full `together` CLI checks) and eval (JSON
 * only), with the server's RSS growth, and the checks alone on the same file in this process.
 */
async function togetherUploads(child: ChildProcess, port: number, workDir: string, multipartMBs: number) {
  const { checkTogetherFile } = await import('../emulator/dialects/together/file-check');
  const path = join(workDir, 'together.jsonl');
  const size = await writeTogetherJsonl(path, UPLOAD_BYTES);
  const mb = size / 1024 ** 2;
  for (const purpose of ['fine-tune', 'eval'] as const) {
    const runs: number[] = [];
    const checks: number[] = [];
    let growth = 0;
    for (let i = 0; i < REPEATS; i++) {
      const before = (await request(child, 'reset-rss')) as Extract<ServerMessage, { kind: 'rss' }>;
      runs.push(mb / (await togetherUpload(port, KEY, path, size, purpose)));
      const after = (await request(child, 'rss')) as Extract<ServerMessage, { kind: 'rss' }>;
      growth = Math.max(growth, after.peak - before.baseline);
      const started = process.hrtime.bigint();
      await checkTogetherFile(path, purpose);
      checks.push(mb / (Number(process.hrtime.bigint() - started) / 1e9));
    }
    console.log(
      `${`Together ${purpose} upload (${(size / 1024 ** 3).toFixed(2)} GiB JSONL, POST 302 + PUT)`.padEnd(44)} ${median(runs).toFixed(0).padStart(7)} MB/s    ` +
        `${((100 * median(runs)) / multipartMBs).toFixed(0)}% of the multipart upload; the CLI checks alone ${median(checks).toFixed(0)} MB/s; ` +
        `server RSS growth at most ${(growth / 1024 ** 2).toFixed(1)} MB; runs ${runs.map((x) => x.toFixed(0)).join(', ')}`,
    );
  }
}

async function main(): Promise<void> {
  // BENCH_DATA_DIR puts the data folder elsewhere (e.g. /dev/shm to take the disk out of the upload figure).
  const dataDir = mkdtempSync(join(process.env.BENCH_DATA_DIR ?? tmpdir(), 'tunekit-bench-api-'));
  const workDir = mkdtempSync(join(tmpdir(), 'tunekit-bench-upload-'));
  const child = fork(fileURLToPath(import.meta.url), ['--server', dataDir], {
    execArgv: [...process.execArgv, '--expose-gc'],
    stdio: 'inherit',
  });
  try {
    console.log(
      `tunekit emulator API benchmark (${JOBS} jobs stored; autocannon, 16 connections, ${DURATION_S} s each, ` +
        `medians of ${REPEATS}; ` +
        `data folder ${dataDir}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs)`,
    );
    const ready = (await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    })) as Extract<ServerMessage, { kind: 'ready' }>;
    const base = `http://127.0.0.1:${ready.port}/v1`;
    const path = join(workDir, 'sparse-1g.bin');
    writeFileSync(path, '');
    truncateSync(path, UPLOAD_BYTES);
    warmPageCache(path);
    const mb = UPLOAD_BYTES / 1024 ** 2;
    const ours: number[] = [];
    const bare: number[] = [];
    let growth = 0;
    for (let i = 0; i < REPEATS; i++) {
      const before = (await request(child, 'reset-rss')) as Extract<ServerMessage, { kind: 'rss' }>;
      ours.push(mb / (await upload(ready.port, path)));
      const after = (await request(child, 'rss')) as Extract<ServerMessage, { kind: 'rss' }>;
      growth = Math.max(growth, after.peak - before.baseline);
      bare.push(mb / (await upload(ready.barePort, path, true)));
    }
    console.log(
      `${`POST /v1/files (${(UPLOAD_BYTES / 1024 ** 3).toFixed(2)} GiB, streamed multipart)`.padEnd(44)} ${median(ours).toFixed(0).padStart(7)} MB/s    ` +
        `bare Fastify raw body to file ${median(bare).toFixed(0)} MB/s (${((100 * median(ours)) / median(bare)).toFixed(0)}% of bare); ` +
        `server RSS growth at most ${(growth / 1024 ** 2).toFixed(1)} MB; runs ${ours.map((x) => x.toFixed(0)).join(', ')}`,
    );
    await togetherUploads(child, ready.port, workDir, median(ours));
    const bareBase = `http://127.0.0.1:${ready.barePort}/v1`;
    await cannon(
      'GET /v1/fine_tuning/jobs/{id}',
      `${base}/fine_tuning/jobs/${ready.jobId}`,
      `${bareBase}/fine_tuning/jobs/${ready.jobId}`,
    );
    await cannon(
      `GET /v1/fine_tuning/jobs (page of 20 of ${JOBS})`,
      `${base}/fine_tuning/jobs`,
      `${bareBase}/fine_tuning/jobs`,
    );
  } finally {
    child.send({ kind: 'stop' });
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--server') await runServer();
else await main();
