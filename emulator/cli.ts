#!/usr/bin/env node
/**
 * The `tunekit` command. `tunekit emulator [flags]` starts the local fine-tuning service and prints one line,
 * its base URL, when it is ready; SIGINT/SIGTERM stop it cleanly (training stops at a checkpoint).
 */
import { parseArgs } from 'node:util';
import { engineInfo } from '../native/index';
import { readApiKeysFile } from './http/auth';
import { startEmulator } from './main';
import { DEFAULT_HOSTED_MODELS, loadHostedModelTable } from './worker/models';

const USAGE = `Usage: tunekit emulator [options]

Options:
  --port N                port to listen on (default 4100; 0 picks a free port)
  --host HOST             address to bind (default 127.0.0.1)
  --data-dir DIR          data folder: SQLite database, files, jobs, adapters (default ./.tunekit)
  --models-dir DIR        folder of Hugging Face model folders to offer as base models
  --api-keys FILE         accept only the keys listed in FILE (one per line); default: any non-empty key
  --model-map FILE        JSON {"hosted name": "local model id"} added to (and overriding) the hosted-name table
  --max-upload-bytes N    largest accepted upload in bytes (default 8589934592)
  --workers N             jobs trained at the same time (default 1)
  -h, --help              show this help`;

/** A mistake in the command line: printed with the usage, exit code 2. */
class UsageError extends Error {}

interface EmulatorFlags {
  port: number;
  host: string;
  dataDir: string;
  modelsDir: string | undefined;
  apiKeysFile: string | undefined;
  modelMapFile: string | undefined;
  maxUploadBytes: number | undefined;
  workers: number;
}

function integerFlag(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return Number(text);
}

function parseEmulatorFlags(args: string[]): EmulatorFlags | 'help' {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(args).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  return {
    port: integerFlag('port', values.port, 0, 65535) ?? 4100,
    host: values.host ?? '127.0.0.1',
    dataDir: values['data-dir'] ?? './.tunekit',
    modelsDir: values['models-dir'],
    apiKeysFile: values['api-keys'],
    modelMapFile: values['model-map'],
    maxUploadBytes: integerFlag('max-upload-bytes', values['max-upload-bytes'], 1, Number.MAX_SAFE_INTEGER),
    workers: integerFlag('workers', values.workers, 1, 64) ?? 1,
  };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'models-dir': { type: 'string' },
      'api-keys': { type: 'string' },
      'model-map': { type: 'string' },
      'max-upload-bytes': { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

async function runEmulator(args: string[]): Promise<void> {
  const flags = parseEmulatorFlags(args);
  if (flags === 'help') {
    console.log(USAGE);
    return;
  }
  const apiKeys = flags.apiKeysFile ? readApiKeysFile(flags.apiKeysFile) : null;
  const hostedModels = flags.modelMapFile
    ? { ...DEFAULT_HOSTED_MODELS, ...loadHostedModelTable(flags.modelMapFile) }
    : undefined;
  const emulator = await startEmulator({
    port: flags.port,
    host: flags.host,
    dataDir: flags.dataDir,
    modelsDir: flags.modelsDir,
    apiKeys,
    hostedModels,
    maxUploadBytes: flags.maxUploadBytes,
    workers: flags.workers,
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    emulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`tunekit: error while stopping on ${signal}: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  console.error(`tunekit: engine kernels: ${engineCpuReport()}`);
  console.log(emulator.url);
}

/** Which CPU kernel path the engine runs (startup log; GET /health says the same). */
function engineCpuReport(): string {
  try {
    return engineInfo().cpuReport;
  } catch (error) {
    return `unavailable (${(error as Error).message})`;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'emulator') {
      await runEmulator(rest);
      return 0;
    }
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown command '${command}'`);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`tunekit: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`tunekit: ${(error as Error).message}`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code !== 0) process.exit(code);
});
