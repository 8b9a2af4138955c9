/**
 * `tunekit emulator [flags]`: starts the local fine-tuning service and prints one line, its base URL, when it is
 * ready; SIGINT/SIGTERM stop it cleanly (training stops at a checkpoint).
 */
import type { Command } from 'commander';
import { EXIT_FAILED, EXIT_OK, integerOption, note } from './output';

interface EmulatorFlags {
  port: number;
  host: string;
  dataDir: string;
  modelsDir?: string;
  apiKeys?: string;
  modelMap?: string;
  maxUploadBytes?: number;
  workers: number;
}

/** Whether this process is serving (it must not exit when the command returns). */
export let serving = false;

async function runEmulator(flags: EmulatorFlags): Promise<void> {
  // Loaded here only: the other commands never load the emulator.
  const [
    { startEmulator },
    { readApiKeysFile },
    { DEFAULT_HOSTED_MODELS, loadHostedModelTable },
    { engineInfo },
  ] = await Promise.all([
    import('../emulator/main'),
    import('../emulator/http/auth'),
    import('../emulator/worker/models'),
    import('../native/index'),
  ]);
  const apiKeys = flags.apiKeys ? readApiKeysFile(flags.apiKeys) : null;
  const hostedModels = flags.modelMap
    ? { ...DEFAULT_HOSTED_MODELS, ...loadHostedModelTable(flags.modelMap) }
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
      () => process.exit(EXIT_OK),
      (error: unknown) => {
        note(`tunekit: error while stopping on ${signal}: ${(error as Error).message}`);
        process.exit(EXIT_FAILED);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  serving = true;
  note(`tunekit: engine kernels: ${engineCpuReport(engineInfo)}`);
  process.stdout.write(`${emulator.url}\n`);
}

/** Which CPU kernel path the engine runs (startup log; GET /health says the same). */
function engineCpuReport(engineInfo: () => { cpuReport: string }): string {
  try {
    return engineInfo().cpuReport;
  } catch (error) {
    return `unavailable (${(error as Error).message})`;
  }
}

export function registerEmulator(program: Command): void {
  program
    .command('emulator')
    .description('Run the local fine-tuning service; prints its base URL, serves until Ctrl-C')
    .option('--port <n>', 'port to listen on; 0 picks a free port', integerOption(0, 65535), 4100)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--data-dir <dir>', 'data folder: SQLite database, files, jobs, adapters', './.tunekit')
    .option(
      '--models-dir <dir>',
      'folder of Hugging Face model folders to offer as base models (default: none)',
    )
    .option(
      '--api-keys <file>',
      'accept only the keys listed in the file, one per line (default: any non-empty key)',
    )
    .option('--model-map <file>', 'JSON {"hosted name": "local model id"} added to the hosted-name table')
    .option(
      '--max-upload-bytes <n>',
      'largest accepted upload in bytes (default: 8589934592)',
      integerOption(1),
    )
    .option('--workers <n>', 'jobs trained at the same time', integerOption(1, 64), 1)
    .addHelpText('after', '\nExample:\n  tunekit emulator --port 0 --data-dir /tmp/tunekit')
    .action(runEmulator);
}
