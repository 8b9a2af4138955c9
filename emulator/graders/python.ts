/**
 * `python` graders: the source's `grade(sample, item) -> float` runs in a separate `python3` process (isolated mode,
 * a minimal environment without proxies, sockets disabled, an address-space limit), one process per batch of
 * samples. A grading that raises or returns no number scores 0 with `python_grader_runtime_error`; one that runs
 * past the time limit is killed and scores 0 with `python_grader_server_error` (type `timeout`). As on the service,
 * the source is at most 256 kB. A machine without python3 refuses python graders when they are validated.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import type { z } from 'zod';
import type { PythonGraderSchema } from '../contract/graders';
import { failed, type GradeOutcome, scored } from './outcome';
import { PYTHON_RUNNER } from './python-runner';
import type { Sample } from './template';

export type PythonGrader = z.infer<typeof PythonGraderSchema>;

export const MAX_PYTHON_SOURCE_BYTES = 256 * 1024;
export const LOAD_TIMEOUT_MS = 30_000;

export interface PythonOptions {
  /** The interpreter. Default `python3` from PATH. */
  command?: string;
  /** Time limit of one grading, ms. Default 120 000 (the service's 2 minutes). Starting python and loading the
   * source have {@link LOAD_TIMEOUT_MS} or this, whichever is longer. */
  timeoutMs?: number;
  /** Address-space limit of the grader process, bytes. Default 2 GiB (the service's). */
  memoryBytes?: number;
}

export interface PythonCase {
  sample: Sample;
  item: Record<string, unknown>;
}

type RunnerLine = { reward: number } | { error: string } | { load_error: string } | { ok: true };

const available = new Map<string, string | undefined>();

/** Undefined when the interpreter runs, else why not (checked once per command). */
export function pythonUnavailable(command = 'python3'): string | undefined {
  if (!available.has(command)) {
    const probe = spawnSync(command, ['-I', '-c', 'import json, resource, socket'], { timeout: 10_000 });
    available.set(
      command,
      probe.error || probe.status !== 0
        ? `python graders need ${command}, which ${probe.error ? 'is not installed on this machine' : 'failed to start'}`
        : undefined,
    );
  }
  return available.get(command);
}

/** The environment of a grader: enough to run python, nothing that points at a network. */
function graderEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' };
}

interface RunResult {
  lines: RunnerLine[];
  /** The process was killed after a case ran past the time limit (the case after the last line). */
  timedOut: boolean;
  stderr: string;
}

/** One runner process; each result line restarts the per-case timer. */
function runPython(request: object, options: PythonOptions): Promise<RunResult> {
  const command = options.command ?? 'python3';
  const memory = options.memoryBytes ?? 2 * 1024 ** 3;
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve) => {
    const child = spawn(command, ['-I', '-c', PYTHON_RUNNER, String(memory)], {
      cwd: os.tmpdir(),
      env: graderEnv(),
      stdio: ['pipe', 'ignore', 'pipe', 'pipe'],
    });
    const lines: RunnerLine[] = [];
    let pending = '';
    let stderr = '';
    let timedOut = false;
    let timer = setTimeout(onTimeout, Math.max(timeoutMs, LOAD_TIMEOUT_MS));
    function onTimeout() {
      timedOut = true;
      child.kill('SIGKILL');
    }
    child.stdio[3]?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        lines.push(JSON.parse(pending.slice(0, newline)) as RunnerLine);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
        clearTimeout(timer);
        timer = setTimeout(onTimeout, timeoutMs);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 4000) stderr += chunk.toString('utf8');
    });
    child.on('error', (error) => {
      stderr += error.message;
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ lines, timedOut, stderr: stderr.trim() });
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(JSON.stringify(request));
  });
}

/** Why a grader's source cannot be used (it does not compile, or defines no `grade`), or undefined. */
export async function checkPythonSource(
  source: string,
  options: PythonOptions = {},
): Promise<string | undefined> {
  if (Buffer.byteLength(source) > MAX_PYTHON_SOURCE_BYTES) {
    return `the python grader's source is larger than ${MAX_PYTHON_SOURCE_BYTES / 1024} kB`;
  }
  const { lines, timedOut, stderr } = await runPython({ source, validate: true }, options);
  const first = lines[0];
  if (first && 'ok' in first) return undefined;
  if (first && 'load_error' in first) return `the python grader's source fails to load: ${first.load_error}`;
  return timedOut ? 'loading the python grader timed out' : `the python grader could not start: ${stderr}`;
}

/** Grades each case; the outcomes are in the order of the cases. */
export async function gradePython(
  grader: PythonGrader,
  cases: readonly PythonCase[],
  options: PythonOptions = {},
): Promise<GradeOutcome[]> {
  const outcomes: GradeOutcome[] = [];
  while (outcomes.length < cases.length) {
    const rest = cases.slice(outcomes.length);
    const { lines, timedOut, stderr } = await runPython({ source: grader.source, cases: rest }, options);
    const loadError = lines[0] && 'load_error' in lines[0] ? lines[0].load_error : undefined;
    if (loadError !== undefined) {
      const outcome = failed({
        python_grader_runtime_error: true,
        python_grader_runtime_error_details: loadError,
      });
      return [...outcomes, ...rest.map(() => outcome)];
    }
    for (const line of lines) {
      if ('reward' in line) outcomes.push(scored(line.reward));
      else if ('error' in line) {
        outcomes.push(
          failed({ python_grader_runtime_error: true, python_grader_runtime_error_details: line.error }),
        );
      }
    }
    if (outcomes.length < cases.length) {
      // The process ended early: the case it was running timed out or killed it (e.g. out of memory).
      outcomes.push(
        failed({
          python_grader_server_error: true,
          python_grader_server_error_type: timedOut ? 'timeout' : 'crashed',
          python_grader_runtime_error_details: stderr.slice(-2000) || null,
        }),
      );
    }
  }
  return outcomes;
}
