/**
 * The fault-injection scenarios of crash consistency (docs/emulator.md, "Crash consistency"), shared by
 * test/emulator/worker/crash.test.ts (each once) and `npm run stress:crash` (each N times, with a table).
 *
 * Each scenario injects one fault into a SMALL_RUN job (30 steps, an engine checkpoint every 2 steps, listed
 * checkpoints at 18 and 24): a kill of the server stand-in (test/emulator/worker/crash-target.ts) at a moment
 * around a checkpoint, during an upload or during the adapter export; a corrupt or truncated checkpoint at
 * restart; a full disk (a small tmpfs, when this process may mount one). After it, `verifyRecovered` checks that
 * nothing was lost or doubled and that nothing half-written is visible: every step's metrics event exactly once,
 * every adapter byte-identical to the uninterrupted run, no leftovers. A scenario throws `Lost` naming every
 * violation it found.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FineTuningJob } from '../../../emulator/contract/jobs';
import { openStore, type Store } from '../../../emulator/store';
import { childPids, spawnEmulator } from '../../e2e/helpers';
import { startTestServer } from '../server/harness';
import {
  chatJsonl,
  type Harness,
  messages,
  metricsSteps,
  ORG,
  openHarness,
  PROJECT,
  QA,
  SMALL_RUN,
  upload,
  waitForStatus,
  waitForStep,
} from './helpers';

export const SEED = 1234;
const STEPS = 30;
const LISTED = [18, 24];

/** What an uninterrupted SMALL_RUN with SEED leaves: adapter_model.safetensors by step (the final one at 30). */
export type Reference = Map<number, Buffer>;

/** One or more losses (or half-written states) a scenario found. */
export class Lost extends Error {
  constructor(readonly violations: string[]) {
    super(violations.join('; '));
    this.name = 'Lost';
  }
}

function createJob(harness: Harness, fileId: string): FineTuningJob {
  return harness.scheduler.createJob(PROJECT, ORG, {
    model: 'tunekit-tiny-chat',
    training_file: fileId,
    seed: SEED,
    method: { type: 'supervised', supervised: { hyperparameters: SMALL_RUN } },
  });
}

function adaptersByStep(store: Store, jobId: string): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const adapter of store.adapters.list(PROJECT, { limit: 100, fineTuningJobId: jobId }).data) {
    const dir = store.adapters.dir(PROJECT, adapter.id) as string;
    out.set(adapter.step, fs.readFileSync(path.join(dir, 'adapter_model.safetensors')));
  }
  return out;
}

function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tunekit-${name}-`));
}

/** Trains the uninterrupted run once, in this process. */
export async function referenceRun(): Promise<Reference> {
  const harness = openHarness(tempDir('crash-ref'));
  try {
    const file = await upload(harness.store, chatJsonl(QA));
    const job = await waitForStatus(harness.store, createJob(harness, file.id).id, ['succeeded', 'failed']);
    if (job.status !== 'succeeded') throw new Error(`the reference run ${job.status}: ${job.error?.message}`);
    return adaptersByStep(harness.store, job.id);
  } finally {
    await harness.close();
    fs.rmSync(harness.dir, { recursive: true, force: true });
  }
}

/** Every way a recovered job can have lost, doubled or half-written something, as messages. */
export function recoveryViolations(store: Store, jobId: string, reference: Reference): string[] {
  const found: string[] = [];
  const job = store.jobs.get(PROJECT, jobId);
  if (job?.status !== 'succeeded') return [`job ${job?.status}: ${job?.error?.message ?? ''}`];
  const steps = metricsSteps(store, jobId);
  const expected = Array.from({ length: STEPS }, (_, i) => i + 1);
  if (steps.join() !== expected.join()) {
    const missing = expected.filter((s) => !steps.includes(s));
    const doubled = steps.filter((s, i) => steps.indexOf(s) !== i);
    found.push(`metrics events: missing [${missing}], doubled [${doubled}], ${steps.length} in all`);
  }
  const listed = messages(store, jobId)
    .map((m) => /^Checkpoint created at step (\d+) /.exec(m)?.[1])
    .filter((s) => s !== undefined)
    .map(Number);
  if (listed.join() !== LISTED.join()) found.push(`checkpoint events at steps [${listed}]`);
  const checkpoints = store.checkpoints.list(PROJECT, jobId, { limit: 100 }).data.map((c) => c.step_number);
  // Newest first, as the API lists them.
  if (checkpoints.join() !== [STEPS, ...LISTED.toReversed()].join())
    found.push(`checkpoints [${checkpoints}]`);
  const adapters = adaptersByStep(store, jobId);
  for (const [step, bytes] of reference) {
    const got = adapters.get(step);
    if (!got) found.push(`no adapter at step ${step}`);
    else if (!got.equals(bytes)) found.push(`adapter at step ${step} differs from the uninterrupted run`);
  }
  if (adapters.size !== reference.size) found.push(`${adapters.size} adapters, expected ${reference.size}`);
  const jobDir = store.paths.jobDir(jobId);
  if (fs.existsSync(path.join(jobDir, 'checkpoints'))) found.push('engine checkpoints left after success');
  const inTmp = fs.readdirSync(store.paths.tmp);
  if (inTmp.length > 0) found.push(`tmp/ holds ${inTmp.join(', ')}`);
  const onDisk = fs.readdirSync(store.paths.adapters).length;
  const rows = store.adapters.list(PROJECT, { limit: 100 }).data.length;
  if (onDisk !== rows) found.push(`${onDisk} adapter folders for ${rows} adapter rows`);
  return found;
}

// ------------------------------------------------------------------------------------------------ processes

/** True once `pid` is gone or a zombie (a container's init may not reap it), polling until `ms` have passed. */
export async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    let state: string | undefined;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    } catch {
      return true;
    }
    if (state === 'Z') return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Polls `condition` every millisecond until it holds; false if `ms` pass first. */
async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return true;
}

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The server stand-in training one job in `dir`; `steps` resolves as its metrics events are recorded. */
class Target {
  readonly child;
  jobId = '';
  trainer = 0;
  private readonly seen = new Set<number>();
  private readonly waiters: { step: number; resolve: () => void }[] = [];
  readonly exited: Promise<void>;

  constructor(readonly dir: string) {
    this.child = spawn(
      process.execPath,
      ['--import', TSX, path.join(import.meta.dirname, 'crash-target.ts'), dir, String(SEED)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    let buffered = '';
    this.child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const job = /^job (ftjob-\w+)$/.exec(line)?.[1];
        if (job) this.jobId = job;
        const step = /^step (\d+)$/.exec(line)?.[1];
        if (step === undefined) continue;
        // The training child is this process's only child once steps are reported.
        if (this.trainer === 0) this.trainer = childPids(this.child.pid as number)[0] ?? 0;
        this.seen.add(Number(step));
        for (const w of this.waiters.filter((w) => this.seen.has(w.step))) w.resolve();
      }
    });
  }

  /** Resolves once the metrics event of `step` is recorded (rejects if the target ends first). */
  step(step: number): Promise<void> {
    if (this.seen.has(step)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ step, resolve });
      void this.exited.then(() => reject(new Error(`the crash target ended before step ${step}`)));
    });
  }

  checkpoints(): string {
    return path.join(this.dir, 'jobs', this.jobId, 'checkpoints');
  }

  /**
   * kill -9 of the server alone, then of its trainer `laterMs` afterwards if it still lives; a trainer still
   * alive 2 s after its server is a violation (it must die with it).
   */
  async killServer(laterMs: number): Promise<string[]> {
    const trainer = this.trainer;
    this.child.kill('SIGKILL');
    await this.exited;
    if (trainer === 0) return ['no trainer process was seen'];
    await new Promise((resolve) => setTimeout(resolve, laterMs));
    if (await exitsWithin(trainer, 2000)) return [];
    killIfAlive(trainer);
    return ['the trainer outlived its server by more than 2 s'];
  }
}

/** Restarts on `dir` in this process, waits for the job and checks what it left. */
async function recover(dir: string, jobId: string, reference: Reference, found: string[]): Promise<Harness> {
  const harness = openHarness(dir);
  const finished = new Promise<FineTuningJob>((resolve) => {
    void waitForStatus(harness.store, jobId, ['succeeded', 'failed', 'cancelled']).then(resolve);
  });
  const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 180_000).unref());
  if (!(await Promise.race([finished, timeout])))
    found.push('the job did not finish within 180 s of a restart');
  else found.push(...recoveryViolations(harness.store, jobId, reference));
  return harness;
}

async function finishAndCheck(dir: string, jobId: string, reference: Reference, found: string[]) {
  const harness = await recover(dir, jobId, reference, found);
  await harness.close();
  fs.rmSync(dir, { recursive: true, force: true });
  if (found.length > 0) throw new Lost(found);
}

// ------------------------------------------------------------------------------------------------ scenarios

/** Where around checkpoint N the server is killed. */
export const MOMENTS = ['writing', 'written', 'recorded', 'between'] as const;
export type Moment = (typeof MOMENTS)[number];

/**
 * Split kill: the server at `moment` around the engine checkpoint of step `n` (even, 4..26), its trainer
 * `laterMs` later. writing: the checkpoint folder exists (the adapter may be half written); written: `latest`
 * names it (complete on disk, its step perhaps not recorded); recorded: step n's event is recorded (the checkpoint
 * committed); between: step n + 1's event is recorded.
 */
export async function splitKill(reference: Reference, moment: Moment, n: number, laterMs: number) {
  const dir = tempDir('crash-split');
  const target = new Target(dir);
  const found: string[] = [];
  try {
    await target.step(Math.max(1, n - 3));
    const checkpoint = path.join(target.checkpoints(), `step-${n}`);
    const latest = path.join(target.checkpoints(), 'latest');
    if (moment === 'writing') await until(() => fs.existsSync(checkpoint), 60_000);
    if (moment === 'written') {
      await until(() => {
        try {
          return fs.readFileSync(latest, 'utf8') === `step-${n}\n`;
        } catch {
          return false;
        }
      }, 60_000);
    }
    if (moment === 'recorded') await target.step(n);
    if (moment === 'between') await target.step(n + 1);
    found.push(...(await target.killServer(laterMs)));
  } catch (error) {
    target.child.kill('SIGKILL');
    throw error;
  }
  await finishAndCheck(dir, target.jobId, reference, found);
}

/**
 * Kill during the adapter export: `engine` — once the engine has begun writing the final adapter into the job's
 * output folder; `register` — once the server starts copying it into adapters/ (an entry in tmp/ after step 30).
 */
export async function killDuringExport(reference: Reference, when: 'engine' | 'register') {
  const dir = tempDir('crash-export');
  const target = new Target(dir);
  const found: string[] = [];
  try {
    await target.step(STEPS - 4);
    if (when === 'engine') {
      const adapter = path.join(dir, 'jobs', target.jobId, 'output', 'adapter_config.json');
      await until(() => fs.existsSync(adapter), 60_000);
    } else {
      await target.step(STEPS);
      await until(() => fs.readdirSync(path.join(dir, 'tmp')).length > 0, 10_000);
    }
    found.push(...(await target.killServer(0)));
  } catch (error) {
    target.child.kill('SIGKILL');
    throw error;
  }
  await finishAndCheck(dir, target.jobId, reference, found);
}

/**
 * A damaged newest committed checkpoint at restart (`corrupt`: one byte flipped; `truncated`: cut in half): its
 * checksum or size check fails, the previous committed one is used, and the job still ends identical.
 */
export async function damagedCheckpoint(reference: Reference, damage: 'corrupt' | 'truncated', n: number) {
  const dir = tempDir('crash-damaged');
  const target = new Target(dir);
  const found: string[] = [];
  try {
    await target.step(n);
    found.push(...(await target.killServer(0)));
  } catch (error) {
    target.child.kill('SIGKILL');
    throw error;
  }
  const store = openStore(dir);
  const committed = store.jobs.record(target.jobId)?.runtime.checkpoints ?? [];
  store.close();
  const newest = committed.at(-1);
  if (newest === undefined || committed.length < 2) throw new Error(`committed checkpoints [${committed}]`);
  const state = path.join(target.checkpoints(), `step-${newest}`, 'state.bin');
  const bytes = fs.readFileSync(state);
  if (damage === 'corrupt') {
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0x10;
    fs.writeFileSync(state, bytes);
  } else {
    fs.writeFileSync(state, bytes.subarray(0, bytes.length >> 1));
  }
  const harness = await recover(dir, target.jobId, reference, found);
  const log = messages(harness.store, target.jobId);
  const warned = `The checkpoint at step ${newest} could not be read (corrupt or incomplete); an older one is used instead`;
  if (!log.includes(warned)) found.push(`no event: ${warned}`);
  if (!log.includes(`Resumed training from the checkpoint at step ${committed.at(-2)}`)) {
    found.push(`did not resume from the previous checkpoint (step ${committed.at(-2)})`);
  }
  await harness.close();
  fs.rmSync(dir, { recursive: true, force: true });
  if (found.length > 0) throw new Lost(found);
}

/**
 * A multipart body that streams `bytes` of JSONL-looking text, then closes it (or never ends: bytes Infinity).
 * Each chunk waits for a turn of the event loop: once its connection is gone, fetch keeps pulling the body in
 * microtasks alone, which would starve the loop (nothing else runs, not even the abort) and fill the heap.
 */
function multipartBody(boundary: string, bytes: number, signal?: AbortSignal): ReadableStream<Uint8Array> {
  const line = Buffer.from(`${JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(200) }] })}\n`);
  const chunk = Buffer.concat(Array.from({ length: Math.ceil(65536 / line.length) }, () => line));
  let sent = 0;
  let stage = 0;
  return new ReadableStream({
    async pull(controller) {
      await new Promise((resolve) => setImmediate(resolve));
      if (signal?.aborted) {
        controller.error(signal.reason);
      } else if (stage === 0) {
        stage = 1;
        controller.enqueue(
          Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n` +
              `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n` +
              'Content-Type: application/jsonl\r\n\r\n',
          ),
        );
      } else if (sent < bytes) {
        controller.enqueue(chunk);
        sent += chunk.length;
      } else {
        controller.enqueue(Buffer.from(`\r\n--${boundary}--\r\n`));
        controller.close();
      }
    },
  });
}

/** POSTs a streamed multipart upload of `bytes`; resolves with the answer (or the transport error). */
export async function streamUpload(baseURL: string, bytes: number, signal?: AbortSignal) {
  const boundary = `tunekit${Date.now()}`;
  try {
    const response = await fetch(`${baseURL}/files`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer crash-key',
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      body: multipartBody(boundary, bytes, signal),
      duplex: 'half',
      signal,
    } as RequestInit);
    return { status: response.status, headers: response.headers, body: await response.json() };
  } catch (error) {
    return { error: error as Error };
  }
}

async function listFiles(baseURL: string): Promise<{ id: string; bytes: number }[]> {
  const response = await fetch(`${baseURL}/files`, { headers: { authorization: 'Bearer crash-key' } });
  return ((await response.json()) as { data: { id: string; bytes: number }[] }).data;
}

/**
 * kill -9 of the emulator while an upload streams into tmp/: after a restart the file list holds exactly the files
 * that were complete, tmp/ and files/ hold nothing else, and uploads work.
 */
export async function killDuringUpload() {
  const dir = tempDir('crash-upload');
  const found: string[] = [];
  let emulator = await spawnEmulator(['--data-dir', dir]);
  try {
    const complete = await streamUpload(emulator.url, 256 * 1024);
    if (complete.status !== 200) throw new Error(`the first upload answered ${JSON.stringify(complete)}`);
    const abort = new AbortController();
    const pending = streamUpload(emulator.url, Number.POSITIVE_INFINITY, abort.signal);
    const partSize = () =>
      fs.readdirSync(path.join(dir, 'tmp')).reduce((n, name) => {
        try {
          return n + fs.statSync(path.join(dir, 'tmp', name)).size;
        } catch {
          return n;
        }
      }, 0);
    if (!(await until(() => partSize() >= 4 * 1024 * 1024, 60_000)))
      found.push('the upload never reached tmp/');
    for (const pid of childPids(emulator.child.pid as number)) killIfAlive(pid);
    emulator.child.kill('SIGKILL');
    await emulator.exited;
    abort.abort();
    await pending;

    emulator = await spawnEmulator(['--data-dir', dir]);
    const files = await listFiles(emulator.url);
    const first = (complete.body as { id: string; bytes: number }).id;
    if (files.map((f) => f.id).join() !== first)
      found.push(`files after restart: [${files.map((f) => f.id)}]`);
    if (fs.readdirSync(path.join(dir, 'tmp')).length > 0) found.push('tmp/ not emptied at restart');
    const blobs = fs.readdirSync(path.join(dir, 'files'));
    if (blobs.join() !== first) found.push(`files/ holds [${blobs}]`);
    const again = await streamUpload(emulator.url, 256 * 1024);
    if (again.status !== 200) found.push(`an upload after the restart answered ${again.status}`);
  } finally {
    emulator.child.kill('SIGKILL');
    await emulator.exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (found.length > 0) throw new Lost(found);
}

// ------------------------------------------------------------------------------------------------ full disk

/** A tmpfs of `bytes` mounted on a new folder, or undefined where this process may not mount (not root). */
export function mountTmpfs(bytes: number): { dir: string; unmount(): void } | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  const dir = tempDir('crash-tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  return {
    dir,
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True where `mountTmpfs` works (root on Linux, allowed to mount). */
export function canMountTmpfs(): boolean {
  const probe = mountTmpfs(1024 * 1024);
  probe?.unmount();
  return probe !== undefined;
}

/** Fills the file system of `dir` (a filler file) until `leave` bytes stay free. */
function fillDisk(dir: string, leave: number): string {
  const filler = path.join(dir, 'filler');
  const free = fs.statfsSync(dir).bavail * fs.statfsSync(dir).bsize;
  const fd = fs.openSync(filler, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (let left = free - leave; left > 0; left -= block.length) {
      fs.writeSync(fd, block, 0, Math.min(block.length, left));
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

/**
 * Disk full while a checkpoint is written: the data folder is a tmpfs, filled after step 1 until less than a
 * checkpoint is free. The job fails with `insufficient_storage` naming the folder; every recorded step has its
 * event once, nothing half-written is listed, the job's engine files are gone; with space freed, the same server
 * trains the job again to the uninterrupted run's bytes.
 */
export async function diskFullAtCheckpoint(reference: Reference) {
  const tmpfs = mountTmpfs(48 * 1024 * 1024);
  if (!tmpfs) throw new Error('cannot mount a tmpfs here (needs root on Linux)');
  const found: string[] = [];
  const harness = openHarness(path.join(tmpfs.dir, 'data'));
  try {
    const file = await upload(harness.store, chatJsonl(QA));
    const job = createJob(harness, file.id);
    await waitForStep(harness.store, job.id, 1);
    const filler = fillDisk(tmpfs.dir, 64 * 1024);
    const failed = await waitForStatus(harness.store, job.id, ['failed', 'succeeded']);
    const root = harness.store.paths.root;
    if (failed.error?.code !== 'insufficient_storage' || !failed.error.message.includes(root)) {
      found.push(`job ${failed.status} with ${JSON.stringify(failed.error)}`);
    }
    const steps = metricsSteps(harness.store, job.id);
    if (steps.join() !== Array.from({ length: steps.length }, (_, i) => i + 1).join()) {
      found.push(`metrics events [${steps}] after the failure`);
    }
    if (harness.store.checkpoints.list(PROJECT, job.id, { limit: 10 }).data.length > 0) {
      found.push('a checkpoint is listed for the failed job');
    }
    if (fs.existsSync(path.join(harness.store.paths.jobDir(job.id), 'checkpoints'))) {
      found.push("the failed job's engine checkpoints are left on the full disk");
    }
    fs.rmSync(filler);
    const again = await waitForStatus(harness.store, createJob(harness, file.id).id, ['succeeded', 'failed']);
    found.push(...recoveryViolations(harness.store, again.id, reference));
  } finally {
    await harness.close();
    tmpfs.unmount();
  }
  if (found.length > 0) throw new Lost(found);
}

/**
 * Disk full during an upload: the data folder is a 24 MiB tmpfs and the upload 40 MiB. The answer is a 507 in
 * OpenAI's error shape, `insufficient_storage`, naming the data folder, with `x-should-retry: false`; nothing of the
 * upload is left (no file, nothing in tmp/), and the server keeps serving: a small upload then succeeds.
 */
export async function diskFullAtUpload() {
  const tmpfs = mountTmpfs(24 * 1024 * 1024);
  if (!tmpfs) throw new Error('cannot mount a tmpfs here (needs root on Linux)');
  const found: string[] = [];
  const server = await startTestServer({ dataDir: path.join(tmpfs.dir, 'data') });
  try {
    const answer = await streamUpload(server.baseURL, 40 * 1024 * 1024);
    const root = server.store.paths.root;
    const error = (answer.body as { error?: { code?: string; message?: string; param?: string } } | undefined)
      ?.error;
    if (answer.status !== 507 || error?.code !== 'insufficient_storage' || error.param !== 'file') {
      found.push(
        `the upload answered ${answer.status ?? answer.error?.message} ${JSON.stringify(answer.body)}`,
      );
    } else if (!error.message?.includes(root)) {
      found.push(`the message does not name the data folder: ${error.message}`);
    }
    if (answer.headers?.get('x-should-retry') !== 'false') found.push('no x-should-retry: false');
    if ((await listFiles(server.baseURL)).length !== 0)
      found.push('a file is listed after the failed upload');
    if (fs.readdirSync(server.store.paths.tmp).length > 0) found.push('tmp/ keeps the failed upload');
    const small = await streamUpload(server.baseURL, 64 * 1024);
    if (small.status !== 200) found.push(`a small upload then answered ${small.status}`);
  } finally {
    await server.close();
    tmpfs.unmount();
  }
  if (found.length > 0) throw new Lost(found);
}
