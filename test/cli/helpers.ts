/**
 * Running the built `tunekit` binary (dist/cli.js) as a user would: a child process in a temp folder, with the
 * environment it is given and nothing else of ours.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MEMORIZE_QA } from '../memorize-qa';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'dist', 'cli.js');

/** Fails clearly when dist/cli.js is missing or older than a source file under cli/ (`npm run build`). */
export function requireFreshBuild(): void {
  let built: number;
  try {
    built = statSync(BIN).mtimeMs;
  } catch {
    throw new Error(`${BIN} is missing: run \`npm run build\` before these tests`);
  }
  const stale = readdirSync(join(ROOT, 'cli')).filter((f) => statSync(join(ROOT, 'cli', f)).mtimeMs > built);
  if (stale.length > 0) throw new Error(`dist/cli.js is older than cli/${stale[0]}: run \`npm run build\``);
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a user with no tunekit settings, plus `env`. */
export function userEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = { ...process.env };
  delete clean.TUNEKIT_BASE_URL;
  delete clean.TUNEKIT_API_KEY;
  return { ...clean, ...env };
}

export interface Running {
  child: ChildProcess;
  done: Promise<Result>;
  /** Resolves with the stderr so far once it matches. */
  waitForStderr(pattern: RegExp): Promise<string>;
}

export function start(args: string[], options: { cwd: string; env?: Record<string, string> }): Running {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: userEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (s: string) => void }[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const w of waiters.filter((w) => w.pattern.test(stderr))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(stderr);
    }
  });
  const done = new Promise<Result>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    child,
    done,
    waitForStderr: (pattern) =>
      pattern.test(stderr)
        ? Promise.resolve(stderr)
        : new Promise((resolve, reject) => {
            waiters.push({ pattern, resolve });
            void done.then(() => reject(new Error(`exited before stderr matched ${pattern}:\n${stderr}`)));
          }),
  };
}

export function tunekit(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<Result> {
  return start(args, options).done;
}

/** Parses the one JSON document a --json command printed, failing with the command's output when it cannot. */
export function json<T = Record<string, unknown>>(result: Result): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** `tunekit emulator --port 0` from the built binary, resolved once it printed its URL. */
export async function startEmulator(cwd: string, dataDir: string) {
  const child = spawn(process.execPath, [BIN, 'emulator', '--port', '0', '--data-dir', dataDir], {
    cwd,
    env: userEnv(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    void exited.then((code) => reject(new Error(`tunekit emulator exited (${code}) before it was ready`)));
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const dirs: string[] = [];
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-cli-'));
  dirs.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The first `n` trivia pairs as rows of one Axolotl dataset type. */
export function datasetRows(type: 'chat_template' | 'alpaca' | 'sharegpt', n = 10): string {
  const rows = MEMORIZE_QA.slice(0, n).map(([q, a]) => {
    if (type === 'alpaca') return { instruction: q, input: '', output: a };
    if (type === 'sharegpt') {
      return {
        conversations: [
          { from: 'human', value: q },
          { from: 'gpt', value: a },
        ],
      };
    }
    return {
      messages: [
        { role: 'user', content: q },
        { role: 'assistant', content: a },
      ],
    };
  });
  return `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
}

/** Writes a dataset and a config beside it in `dir`; returns the config's path. */
export function writeRun(
  dir: string,
  name: string,
  type: 'chat_template' | 'alpaca' | 'sharegpt',
  extra: string,
  rows = 10,
): string {
  writeFileSync(join(dir, `${name}.jsonl`), datasetRows(type, rows));
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    `base_model: tunekit-tiny-chat\nadapter: lora\nlora_r: 4\ndatasets:\n  - path: ${name}.jsonl\n    type: ${type}\nseed: 1\noutput_dir: ./${name}-out\n${extra}`,
  );
  return config;
}
