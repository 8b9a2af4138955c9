/**
 * Issue 18: `startEmulator()` for users' test suites — a free port and a temporary data folder by default, several
 * per process, and nothing left behind: no child process and no folder after `stop()`, nor after SIGINT.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../emulator/index';
import { childPids } from '../e2e/helpers';
import { chatOnce, eventually, KEY, startLongJob } from './helpers';

/** The emulators' temporary folders under this test's TMPDIR (tsx, which runs the children from source, keeps its own). */
const emulatorFolders = () => readdirSync(tempRoot).filter((name) => name.startsWith('tunekit-emulator-'));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Every emulator's temporary folder goes under this test's own TMPDIR, so "none left" can be checked exactly. */
let tempRoot: string;
const savedTmp = process.env.TMPDIR;
beforeEach(() => {
  tempRoot = mkdtempSync(join(tmpdir(), 'tunekit-kit-'));
  process.env.TMPDIR = tempRoot;
});
afterEach(() => {
  process.env.TMPDIR = savedTmp;
  if (savedTmp === undefined) delete process.env.TMPDIR;
  rmSync(tempRoot, { recursive: true, force: true });
});
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe('startEmulator', () => {
  it('runs several at once, each on its own free port and temporary folder, removed by stop()', async () => {
    const [a, b] = await Promise.all([startEmulator(), startEmulator()]);
    expect(a.baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(a.baseURL).not.toBe(b.baseURL);
    expect(a.dataDir).not.toBe(b.dataDir);
    expect(a.dataDir.startsWith(tempRoot)).toBe(true);
    expect(a.url('/health')).toBe(a.baseURL.replace(/\/v1$/, '/health'));
    for (const emu of [a, b]) {
      expect((await fetch(emu.url('/health'))).status).toBe(200);
      expect((await fetch(emu.url('/v1/models'), { headers: KEY })).status).toBe(200);
      expect(existsSync(emu.dataDir)).toBe(true);
    }
    await Promise.all([a.stop(), b.stop()]);
    expect(existsSync(a.dataDir)).toBe(false);
    expect(existsSync(b.dataDir)).toBe(false);
    await expect(fetch(a.url('/health'))).rejects.toThrow();
  });

  it('keeps a data folder it was given', async () => {
    const dataDir = join(tempRoot, 'mine');
    const emu = await startEmulator({ dataDir, modelMap: { 'acme/hosted': 'tunekit-tiny-chat' } });
    const model = await fetch(emu.url('/v1/models/acme%2Fhosted'), { headers: KEY });
    expect(model.status).toBe(200);
    await emu.stop();
    expect(existsSync(join(dataDir))).toBe(true);
  });

  it('started and stopped 20 times, with inference and training children, leaves no process and no folder', async () => {
    for (let i = 0; i < 20; i += 1) {
      const emu = await startEmulator();
      expect((await fetch(emu.url('/v1/models'), { headers: KEY })).status).toBe(200);
      if (i % 5 === 0) {
        await chatOnce(emu.baseURL);
      }
      if (i % 10 === 0) {
        // A long job: stop() must end its trainer rather than wait for it.
        const jobId = await startLongJob(emu.baseURL);
        await eventually(() => childPids(process.pid).length >= 2, 30_000, 'training');
        expect(jobId).toMatch(/^ftjob-/);
      }
      await emu.stop();
      expect(childPids(process.pid)).toEqual([]);
    }
    expect(emulatorFolders()).toEqual([]);
  }, 300_000);

  it('leaves no child process and no folder when the process running it gets SIGINT', async () => {
    const script = fileURLToPath(new URL('./sigint-target.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, TMPDIR: tempRoot },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('close', (_code, signal) => resolve(signal)),
    );
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      void exited.then(() => reject(new Error('the target exited before it was ready')));
    });
    const { dataDir, pids } = JSON.parse(line) as { dataDir: string; pids: number[] };
    expect(pids.length).toBeGreaterThanOrEqual(2); // the trainer, the inference process (and tsx's esbuild)
    expect(existsSync(dataDir)).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe('SIGINT');
    await eventually(() => pids.every((pid) => !alive(pid)), 20_000, 'ended');
    expect(existsSync(dataDir)).toBe(false);
    expect(emulatorFolders()).toEqual([]);
  }, 120_000);
});
