/**
 * `npm run bench:api`: throughput of the emulator's HTTP server, measured with autocannon against a server in a
 * child process (so the load generator does not share its event loop):
 *   - GET /v1/fine_tuning/jobs/{id}, and GET /v1/fine_tuning/jobs (a page of 20) with 10,000 jobs stored: req/s, p99;
 *   - a 1 GB upload (a sparse temp file, read once beforehand so it is in the page cache, streamed as multipart):
 *     MB/s and the server's peak RSS growth.
 * Targets (issue 4): >= 5,000 req/s with p99 < 10 ms; uploads >= 300 MB/s with RSS growth < 64 MB.
 * The scheduler is not started: jobs stay queued, so only the HTTP path is measured.
 */
import { type ChildProcess, fork } from 'node:child_process';
import {
  closeSync,
  createReadStream,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const UPLOAD_BYTES = Number(process.env.BENCH_UPLOAD_BYTES ?? 1024 ** 3);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const KEY = 'bench-key';

type ServerMessage =
  | { kind: 'ready'; port: number; jobId: string }
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
  process.send!({ kind: 'ready', port, jobId } satisfies ServerMessage);
}

function request(child: ChildProcess, kind: string): Promise<ServerMessage> {
  return new Promise((resolve) => {
    child.once('message', (message: ServerMessage) => resolve(message));
    child.send({ kind });
  });
}

async function cannon(title: string, url: string): Promise<void> {
  const result = await autocannon({
    url,
    connections: 16,
    duration: DURATION_S,
    headers: { authorization: `Bearer ${KEY}` },
  });
  const ok = result.non2xx === 0 && result.errors === 0;
  console.log(
    `${title.padEnd(44)} ${result.requests.average.toFixed(0).padStart(7)} req/s   p99 ${String(result.latency.p99).padStart(4)} ms` +
      `   (${result.requests.total} requests${ok ? '' : `, ${result.non2xx} non-2xx, ${result.errors} errors`})`,
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

/** Streams the file as one multipart part with node:http (no buffering on this side either). */
async function upload(port: number, path: string): Promise<number> {
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
  if (bytes !== UPLOAD_BYTES) throw new Error(`upload stored ${bytes} bytes, sent ${UPLOAD_BYTES}`);
  return seconds;
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
      `tunekit emulator API benchmark (${JOBS} jobs stored; autocannon, 16 connections, ${DURATION_S} s each; ` +
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
    const before = (await request(child, 'reset-rss')) as Extract<ServerMessage, { kind: 'rss' }>;
    const seconds = await upload(ready.port, path);
    const after = (await request(child, 'rss')) as Extract<ServerMessage, { kind: 'rss' }>;
    const mb = UPLOAD_BYTES / 1024 ** 2;
    console.log(
      `${`POST /v1/files (${(UPLOAD_BYTES / 1024 ** 3).toFixed(2)} GiB, streamed multipart)`.padEnd(44)} ${(mb / seconds).toFixed(0).padStart(7)} MB/s    ` +
        `${seconds.toFixed(2)} s; server RSS ${(before.baseline / 1024 ** 2).toFixed(0)} MB → peak ` +
        `${(after.peak / 1024 ** 2).toFixed(0)} MB (growth ${((after.peak - before.baseline) / 1024 ** 2).toFixed(1)} MB)`,
    );
    await cannon('GET /v1/fine_tuning/jobs/{id}', `${base}/fine_tuning/jobs/${ready.jobId}`);
    await cannon('GET /v1/fine_tuning/jobs (page of 20 of 10,000)', `${base}/fine_tuning/jobs`);
  } finally {
    child.send({ kind: 'stop' });
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--server') await runServer();
else await main();
