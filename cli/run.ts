/**
 * `tunekit run CONFIG.yaml`: validate the config and the datasets, upload, create the job, follow it to the end,
 * download the adapter. Everything that can be checked locally is checked before anything is uploaded.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import Tunekit, { type FineTuningJob, toFile } from '../src/index';
import { type Connection, connect, EMBEDDED_DATA_DIR } from './client';
import { ConfigError, DEFAULT_OUTPUT_DIR, parseRunConfig, type RunConfig, toJobParams } from './config';
import { convertDatasets, DatasetRowError, requireDatasetFiles, splitValidation } from './datasets';
import { downloadJobAdapter } from './fine-tuning';
import { CliError, EXIT_FAILED, EXIT_OK, note, printJson, UsageError } from './output';
import { createProgressView, type ProgressView } from './progress';

/** Exit code when the user interrupted the run (Ctrl-C), whether the job was cancelled or left running. */
export const EXIT_INTERRUPTED = 130;

interface RunOptions {
  detach?: boolean;
  output?: string;
  json?: boolean;
}

/** Everything `run` prepares before it talks to a server. */
export interface PreparedRun {
  config: RunConfig;
  training: string[];
  validation: string[];
  params: ReturnType<typeof toJobParams>;
  outputDir: string;
}

/** Reads and validates the config and its datasets; every problem is a UsageError (exit 2). */
export function prepareRun(configPath: string, outputOverride: string | undefined): PreparedRun {
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the config ${configPath}: ${(error as Error).message}`);
  }
  try {
    let raw: unknown;
    try {
      raw = parseYaml(text);
    } catch (error) {
      throw new UsageError(`${configPath} is not valid YAML: ${(error as Error).message}`);
    }
    const config = parseRunConfig(raw);
    const configDir = dirname(resolve(configPath));
    requireDatasetFiles(config.datasets, configDir);
    const rows = convertDatasets(config.datasets, configDir, config.rl);
    const { training, validation } = splitValidation(rows, config.val_set_size ?? 0);
    const params = toJobParams(config, training.length);
    const outputDir = resolve(outputOverride ?? config.output_dir ?? DEFAULT_OUTPUT_DIR);
    return { config, training, validation, params, outputDir };
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`${configPath}: ${error.message}`);
    if (error instanceof DatasetRowError) throw new UsageError(error.message);
    throw error;
  }
}

async function uploadLines(client: Tunekit, lines: string[], name: string) {
  return client.files.create({
    file: await toFile(Buffer.from(`${lines.join('\n')}\n`), name),
    purpose: 'fine-tune',
  });
}

/**
 * Ctrl-C while following: on a terminal, ask whether to cancel the job or leave it running; otherwise leave it.
 * Resolves with what was decided; the follow loop is aborted either way.
 */
function interruptHandler(
  client: Tunekit,
  job: FineTuningJob,
  view: ProgressView,
  abort: AbortController,
): { decided: Promise<'cancelled' | 'left'>; dispose(): void } {
  let settle: (how: 'cancelled' | 'left') => void = () => {};
  const decided = new Promise<'cancelled' | 'left'>((resolve) => {
    settle = resolve;
  });
  let asking = false;
  const onSigint = async () => {
    if (asking) {
      settle('left');
      abort.abort();
      return;
    }
    view.clear();
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      settle('left');
      abort.abort();
      return;
    }
    asking = true;
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`Interrupted. Cancel job ${job.id}, or leave it running? [c/L] `);
    rl.close();
    if (/^c/i.test(answer.trim())) {
      await client.fineTuning.jobs.cancel(job.id);
      settle('cancelled');
    } else settle('left');
    abort.abort();
  };
  const listener = () => void onSigint();
  process.on('SIGINT', listener);
  return { decided, dispose: () => process.off('SIGINT', listener) };
}

function chatHint(model: string, embedded: boolean): string {
  const chat = `tunekit chat ${model} "Hello"`;
  return embedded
    ? `Chat with it: run \`tunekit emulator\` here (it serves ${EMBEDDED_DATA_DIR} at the default address), then \`${chat}\``
    : `Chat with it: ${chat}`;
}

async function follow(connection: Connection, job: FineTuningJob, prepared: PreparedRun, json: boolean) {
  const { client } = connection;
  const view = createProgressView(process.stderr);
  const abort = new AbortController();
  const interrupt = interruptHandler(client, job, view, abort);
  let finished: FineTuningJob | undefined;
  try {
    for await (const event of client.fineTuning.jobs.streamEvents(job.id, { signal: abort.signal })) {
      if (event.type === 'metrics' && view.state.nEpochs === undefined) {
        // The job resolved its epochs before its first step; the display shows the epoch from then on.
        const n = (await client.fineTuning.jobs.retrieve(job.id)).hyperparameters?.n_epochs;
        if (typeof n === 'number') view.state.nEpochs = n;
      }
      view.event(event);
    }
    finished = await client.fineTuning.jobs.retrieve(job.id);
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  } finally {
    interrupt.dispose();
    view.stop();
  }
  if (finished === undefined) {
    const how = await interrupt.decided;
    if (how === 'cancelled') note(`Cancelled job ${job.id}.`);
    else if (connection.embedded) {
      note(
        `Left job ${job.id} queued: the embedded emulator stops now; the job resumes from its last checkpoint ` +
          `when an emulator serves ${EMBEDDED_DATA_DIR} again (\`tunekit emulator\`).`,
      );
    } else
      note(`Left job ${job.id} running. Follow it with: tunekit fine-tuning list-events ${job.id} --follow`);
    if (json) printJson(await client.fineTuning.jobs.retrieve(job.id));
    return EXIT_INTERRUPTED;
  }
  if (finished.status !== 'succeeded') {
    if (json) printJson({ job: finished });
    const error = finished.error;
    throw new CliError(
      `job ${finished.id} ${finished.status}${error ? `: ${error.code}: ${error.message}` : ''}`,
      EXIT_FAILED,
    );
  }
  const model = finished.fine_tuned_model as string;
  if (finished.training_type?.type === 'full') {
    note(`Job ${finished.id} succeeded: ${model} (full fine-tuning: the weights stay on the server).`);
    note(chatHint(model, connection.embedded));
    if (json) printJson({ job: finished, output_dir: null, files: [] });
    return EXIT_OK;
  }
  const { adapter, files } = await downloadJobAdapter(client, finished, { output: prepared.outputDir });
  note(`Job ${finished.id} succeeded: ${model}`);
  note(
    `Adapter (PEFT) saved to ${prepared.outputDir}: ${files.map((f) => f.slice(prepared.outputDir.length + 1)).join(', ')}`,
  );
  note(chatHint(model, connection.embedded));
  if (json) printJson({ job: finished, adapter, output_dir: prepared.outputDir, files });
  return EXIT_OK;
}

async function run(configPath: string, options: RunOptions): Promise<number> {
  const prepared = prepareRun(configPath, options.output);
  const connection = await connect();
  try {
    const { client } = connection;
    note(
      `Uploading ${prepared.training.length} training row(s)${prepared.validation.length ? ` and ${prepared.validation.length} validation row(s)` : ''}`,
    );
    const trainingFile = await uploadLines(client, prepared.training, 'train.jsonl');
    const validationFile =
      prepared.validation.length > 0
        ? await uploadLines(client, prepared.validation, 'validation.jsonl')
        : null;
    const job = await client.fineTuning.jobs.create({
      ...prepared.params,
      training_file: trainingFile.id,
      ...(validationFile ? { validation_file: validationFile.id } : {}),
    });
    if (options.detach) {
      if (options.json) printJson(job);
      else process.stdout.write(`${job.id}\n`);
      note(
        connection.embedded
          ? `Created ${job.id}. The embedded emulator stops now: the job trains when an emulator serves ${EMBEDDED_DATA_DIR} (\`tunekit emulator\`).`
          : `Created ${job.id}. Follow it with: tunekit fine-tuning list-events ${job.id} --follow`,
      );
      return EXIT_OK;
    }
    note(`Created ${job.id} (${job.model}); following it (Ctrl-C to cancel it or leave it running)`);
    return await follow(connection, job, prepared, options.json ?? false);
  } finally {
    await connection.close();
  }
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('Fine-tune from an Axolotl-style YAML config: upload, train, follow, download the adapter')
    .argument('<config>', 'YAML config (Axolotl keys; see docs/cli.md)')
    .option('--detach', 'print the job id and return once the job is created', false)
    .option(
      '--output <dir>',
      `where to download the adapter (default: the config's output_dir, else ${DEFAULT_OUTPUT_DIR})`,
    )
    .option('--json', 'print one JSON document on stdout: {job, adapter, output_dir, files}', false)
    .addHelpText(
      'after',
      `
Without TUNEKIT_BASE_URL an embedded emulator runs for the command (data folder ${EMBEDDED_DATA_DIR}).

Example:
  tunekit run examples/chat.yaml`,
    )
    .action(async (config: string, options: RunOptions) => {
      process.exitCode = await run(config, options);
    });
}
