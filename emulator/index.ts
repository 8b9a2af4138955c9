/**
 * The emulator as a library, for test suites: `const emu = await startEmulator()` starts one on a free port with a
 * temporary data folder, `await emu.stop()` ends it, its trainer and inference processes, and removes that folder.
 * Several can run in one process (each its own port and folder). Published as `@tunekit/emulator`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readApiKeysFile } from './http/auth';
import { type RunningEmulator, startEmulator as startServer } from './main';
import { DEFAULT_HOSTED_MODELS } from './worker/models';

export interface StartEmulatorOptions {
  /** Port to listen on; default 0, a free one. */
  port?: number;
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /**
   * Data folder (SQLite database, files, jobs, adapters). Default: a new folder under the OS temp folder, removed
   * by `stop()` (and when the process exits). A folder you give is kept, and trainings stop at a checkpoint.
   */
  dataDir?: string;
  /** Folder of Hugging Face model folders offered as base models (`<org>/<name>/config.json`). */
  modelsDir?: string;
  /** Hosted model name → local model id, added to (and overriding) the built-in table. */
  modelMap?: Record<string, string>;
  /** Jobs trained at the same time; default 1. */
  workers?: number;
  /** Accept only these API keys (or the keys listed in a file); default: any non-empty key, each its own project. */
  apiKeys?: readonly string[] | { file: string };
}

export interface Emulator {
  /** `http://127.0.0.1:PORT/v1`: the `baseURL` for the `openai` SDK and tunekit's. */
  readonly baseURL: string;
  /** The data folder in use. */
  readonly dataDir: string;
  /** An absolute URL on this emulator: `url('/health')`, `url('/v1/models')`. */
  url(path: string): string;
  /** Stops the server and its child processes; removes the data folder when it was a temporary one. */
  stop(): Promise<void>;
}

/** Temporary data folders of emulators not stopped yet: removed if the process ends first. */
const temporary = new Set<string>();
let exitHooked = false;

function removeTemporaryFolders(): void {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
  temporary.clear();
}

/**
 * The trainer and inference processes end by themselves when this process goes (their IPC channel closes); the
 * temporary folders are removed here on a normal exit, and on SIGINT/SIGTERM/SIGHUP when nothing else handles the
 * signal (the process would die without an 'exit' event: the folders go, then the signal is raised again).
 */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', removeTemporaryFolders);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) return; // someone else decides what this signal does
      removeTemporaryFolders();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const owned = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tunekit-emulator-'));
  if (owned) {
    temporary.add(dataDir);
    hookExit();
  }
  const apiKeys =
    options.apiKeys === undefined
      ? null
      : 'file' in options.apiKeys
        ? readApiKeysFile(options.apiKeys.file)
        : new Set(options.apiKeys);
  let running: RunningEmulator;
  try {
    running = await startServer({
      port: options.port ?? 0,
      host: options.host,
      dataDir,
      modelsDir: options.modelsDir,
      apiKeys,
      hostedModels: options.modelMap ? { ...DEFAULT_HOSTED_MODELS, ...options.modelMap } : undefined,
      workers: options.workers,
      // A temporary folder is deleted at stop: nothing would resume from a checkpoint, so trainings end at once.
      stopTimeoutMs: owned ? 0 : undefined,
    });
  } catch (error) {
    if (owned) {
      temporary.delete(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    }
    throw error;
  }
  const origin = new URL(running.url).origin;
  let stopping: Promise<void> | undefined;
  return {
    baseURL: running.url,
    dataDir,
    url: (path: string) => new URL(path, origin).href,
    stop() {
      stopping ??= running.close().finally(() => {
        if (owned) {
          temporary.delete(dataDir);
          rmSync(dataDir, { recursive: true, force: true });
        }
      });
      return stopping;
    },
  };
}
