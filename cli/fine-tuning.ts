/**
 * `tunekit fine-tuning …` (alias `jobs`), with Together's CLI names: create, list, retrieve, cancel, list-events
 * [--follow], list-checkpoints, download.
 */
import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import type Tunekit from '../src/index';
import type {
  Adapter,
  FineTuningJob,
  FineTuningJobEvent,
  JobCreateParams,
  SupervisedHyperparameters,
} from '../src/index';
import { createClient } from './client';
import {
  CliError,
  fields,
  integerOption,
  note,
  numberOption,
  printJson,
  relativeTime,
  table,
  UsageError,
} from './output';

export function jobFields(job: FineTuningJob): string {
  return fields([
    ['id', job.id],
    ['status', job.status],
    ['model', job.model],
    ['fine_tuned_model', job.fine_tuned_model],
    ['training_type', job.training_type?.type],
    ['method', job.method?.type],
    ['training_file', job.training_file],
    ['validation_file', job.validation_file],
    ['hyperparameters', job.hyperparameters ? JSON.stringify(job.hyperparameters) : null],
    ['trained_tokens', job.trained_tokens],
    ['created', relativeTime(job.created_at)],
    ['finished', relativeTime(job.finished_at)],
    ['error', job.error ? `${job.error.code}: ${job.error.message}` : null],
  ]);
}

function eventLine(event: FineTuningJobEvent): string {
  const time = new Date(event.created_at * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return `${time}  ${event.level.padEnd(5)}  ${event.message}`;
}

/**
 * Downloads a job's adapter (the final one, or the checkpoint at `step`) into `output`: the PEFT folder, or with
 * `merged` the base model with the adapter merged in.
 */
export async function downloadJobAdapter(
  client: Tunekit,
  job: FineTuningJob,
  options: { output: string; step?: number; merged?: boolean },
): Promise<{ adapter: Adapter; files: string[] }> {
  const adapters: Adapter[] = [];
  for await (const adapter of client.adapters.list({ fine_tuning_job_id: job.id })) adapters.push(adapter);
  const adapter =
    options.step === undefined
      ? adapters.find((a) => a.fine_tuned_model === job.fine_tuned_model)
      : adapters.find((a) => a.step === options.step);
  if (!adapter) {
    const steps = adapters.map((a) => a.step).sort((a, b) => a - b);
    throw new CliError(
      options.step === undefined
        ? `job ${job.id} has no final adapter (status ${job.status}${job.training_type?.type === 'full' ? ', full fine-tuning' : ''})`
        : `job ${job.id} has no checkpoint at step ${options.step}${steps.length ? ` (steps: ${steps.join(', ')})` : ''}`,
    );
  }
  const files = await client.adapters.download(adapter.id, options.output, {
    format: options.merged ? 'merged' : 'adapter',
  });
  return { adapter, files };
}

interface CreateOptions {
  trainingFile: string;
  model: string;
  validationFile?: string;
  nEpochs?: number;
  learningRate?: number;
  batchSize?: number;
  lora?: boolean;
  loraR?: number;
  loraAlpha?: number;
  loraDropout?: number;
  loraTrainableModules?: string;
  suffix?: string;
  method: 'sft' | 'dpo';
  dpoBeta?: number;
  seed?: number;
  nCheckpoints?: number;
  warmupRatio?: number;
  lrScheduler?: 'linear' | 'cosine';
  json?: boolean;
}

/** The create body for the flags (Together's names → OpenAI's fields and tunekit's extensions). */
export function createParams(o: CreateOptions): JobCreateParams {
  const hyperparameters: SupervisedHyperparameters = {};
  if (o.nEpochs !== undefined) hyperparameters.n_epochs = o.nEpochs;
  if (o.batchSize !== undefined) hyperparameters.batch_size = o.batchSize;
  if (o.learningRate !== undefined) hyperparameters.learning_rate = o.learningRate;
  if (o.warmupRatio !== undefined) hyperparameters.warmup_ratio = o.warmupRatio;
  if (o.lrScheduler !== undefined) hyperparameters.lr_scheduler = o.lrScheduler;
  const params: JobCreateParams = { model: o.model, training_file: o.trainingFile };
  if (o.validationFile !== undefined) params.validation_file = o.validationFile;
  if (o.suffix !== undefined) params.suffix = o.suffix;
  if (o.seed !== undefined) params.seed = o.seed;
  if (o.nCheckpoints !== undefined) params.n_checkpoints = o.nCheckpoints;
  if (o.method === 'dpo') {
    const { learning_rate, warmup_ratio, lr_scheduler, ...common } = hyperparameters;
    if (learning_rate !== undefined || warmup_ratio !== undefined || lr_scheduler !== undefined) {
      throw new UsageError('--learning-rate, --warmup-ratio and --lr-scheduler apply to --method sft only');
    }
    params.method = {
      type: 'dpo',
      dpo: { hyperparameters: { ...common, ...(o.dpoBeta !== undefined ? { beta: o.dpoBeta } : {}) } },
    };
  } else {
    if (o.dpoBeta !== undefined) throw new UsageError('--dpo-beta applies to --method dpo only');
    params.method = { type: 'supervised', supervised: { hyperparameters } };
  }
  const loraFlags = [o.loraR, o.loraAlpha, o.loraDropout, o.loraTrainableModules].some(
    (v) => v !== undefined,
  );
  if (o.lora === false) {
    if (loraFlags) throw new UsageError('--lora-* flags need LoRA (drop --no-lora)');
    params.training_type = { type: 'full' };
  } else if (o.lora || loraFlags) {
    params.training_type = {
      type: 'lora',
      ...(o.loraR !== undefined ? { r: o.loraR } : {}),
      ...(o.loraAlpha !== undefined ? { alpha: o.loraAlpha } : {}),
      ...(o.loraDropout !== undefined ? { dropout: o.loraDropout } : {}),
      ...(o.loraTrainableModules !== undefined
        ? {
            target_modules:
              o.loraTrainableModules === 'all-linear' ? 'all-linear' : o.loraTrainableModules.split(','),
          }
        : {}),
    };
  }
  return params;
}

const json = () => new Option('--json', 'print the API object as one JSON document on stdout').default(false);

export function registerFineTuning(program: Command): void {
  const group = program
    .command('fine-tuning')
    .alias('jobs')
    .description('Create, follow and download fine-tuning jobs');

  group
    .command('create')
    .description('Create a fine-tuning job from uploaded files')
    .requiredOption('--training-file <id>', 'id of an uploaded training file')
    .requiredOption('--model <name>', 'base model')
    .option('--validation-file <id>', 'id of an uploaded validation file (default: none)')
    .option('--n-epochs <n>', 'passes over the data (default: auto)', integerOption(1))
    .option('--learning-rate <x>', 'peak learning rate (default: auto)', numberOption)
    .option('--batch-size <n>', 'examples per optimizer step (default: auto)', integerOption(1))
    .option('--lora', 'train a LoRA adapter (the server default)')
    .option('--no-lora', 'full fine-tuning')
    .option('--lora-r <n>', 'LoRA rank (default: 16)', integerOption(1))
    .option('--lora-alpha <x>', 'LoRA alpha (default: 2 × rank)', numberOption)
    .option('--lora-dropout <x>', 'LoRA dropout (default: 0)', numberOption)
    .option('--lora-trainable-modules <list>', 'comma-separated modules, or all-linear (default: all-linear)')
    .option('--suffix <s>', 'up to 64 characters in the model name')
    .addOption(new Option('--method <m>', 'training method').choices(['sft', 'dpo']).default('sft'))
    .option('--dpo-beta <x>', 'DPO beta (default: auto)', numberOption)
    .option('--seed <n>', 'random seed (default: generated)', integerOption(0))
    .option(
      '--n-checkpoints <n>',
      'checkpoints saved over the run (default: min(3, epochs))',
      integerOption(1),
    )
    .option('--warmup-ratio <x>', 'fraction of the steps spent warming up (default: 0.05)', numberOption)
    .addOption(
      new Option('--lr-scheduler <s>', 'learning-rate decay (default: linear)').choices(['linear', 'cosine']),
    )
    .addOption(json())
    .addHelpText(
      'after',
      '\nExample:\n  tunekit fine-tuning create --training-file file-abc --model tunekit-tiny-chat --lora --lora-r 8',
    )
    .action(async (options: CreateOptions) => {
      const job = await createClient().fineTuning.jobs.create(createParams(options));
      if (options.json) printJson(job);
      else process.stdout.write(`${jobFields(job)}\n`);
    });

  group
    .command('list')
    .description('List fine-tuning jobs, newest first')
    .option('--limit <n>', 'jobs to show', integerOption(1), 20)
    .addOption(json())
    .addHelpText('after', '\nExample:\n  tunekit fine-tuning list --limit 5')
    .action(async (options: { limit: number; json: boolean }) => {
      const page = await createClient().fineTuning.jobs.list({ limit: options.limit });
      if (options.json) return printJson({ object: 'list', data: page.data, has_more: page.has_more });
      const rows = page.data.map((j) => [
        j.id,
        j.status,
        j.model,
        j.fine_tuned_model,
        relativeTime(j.created_at),
      ]);
      process.stdout.write(`${table(['ID', 'STATUS', 'MODEL', 'FINE-TUNED MODEL', 'CREATED'], rows)}\n`);
    });

  group
    .command('retrieve')
    .description('Show a fine-tuning job')
    .argument('<id>', 'job id')
    .addOption(json())
    .addHelpText('after', '\nExample:\n  tunekit fine-tuning retrieve ftjob-abc')
    .action(async (id: string, options: { json: boolean }) => {
      const job = await createClient().fineTuning.jobs.retrieve(id);
      if (options.json) printJson(job);
      else process.stdout.write(`${jobFields(job)}\n`);
    });

  group
    .command('cancel')
    .description('Cancel a job that has not finished')
    .argument('<id>', 'job id')
    .addOption(json())
    .addHelpText('after', '\nExample:\n  tunekit fine-tuning cancel ftjob-abc')
    .action(async (id: string, options: { json: boolean }) => {
      const job = await createClient().fineTuning.jobs.cancel(id);
      if (options.json) printJson(job);
      else process.stdout.write(`${job.id}  ${job.status}\n`);
    });

  group
    .command('list-events')
    .description("List a job's events, oldest first; --follow streams them until the job ends")
    .argument('<id>', 'job id')
    .option('--follow', 'stream new events until the job succeeds, fails or is cancelled', false)
    .option('--limit <n>', 'latest events to show without --follow', integerOption(1), 100)
    .addOption(json())
    .addHelpText('after', '\nExample:\n  tunekit fine-tuning list-events ftjob-abc --follow')
    .action(async (id: string, options: { follow: boolean; limit: number; json: boolean }) => {
      const client = createClient();
      if (options.follow) {
        const events: FineTuningJobEvent[] = [];
        for await (const event of client.fineTuning.jobs.streamEvents(id)) {
          if (options.json) events.push(event);
          else process.stdout.write(`${eventLine(event)}\n`);
        }
        if (options.json) printJson({ object: 'list', data: events, has_more: false });
        return;
      }
      const page = await client.fineTuning.jobs.listEvents(id, { limit: options.limit });
      if (options.json) return printJson({ object: 'list', data: page.data, has_more: page.has_more });
      for (const event of [...page.data].reverse()) process.stdout.write(`${eventLine(event)}\n`);
    });

  group
    .command('list-checkpoints')
    .description("List a job's checkpoints, highest step first")
    .argument('<id>', 'job id')
    .addOption(json())
    .addHelpText('after', '\nExample:\n  tunekit fine-tuning list-checkpoints ftjob-abc')
    .action(async (id: string, options: { json: boolean }) => {
      const page = await createClient().fineTuning.jobs.checkpoints.list(id, { limit: 100 });
      if (options.json) return printJson({ object: 'list', data: page.data, has_more: page.has_more });
      const rows = page.data.map((c) => [
        c.step_number,
        c.metrics.train_loss?.toFixed(4),
        c.fine_tuned_model_checkpoint,
        relativeTime(c.created_at),
      ]);
      process.stdout.write(`${table(['STEP', 'TRAIN LOSS', 'MODEL', 'CREATED'], rows)}\n`);
    });

  group
    .command('download')
    .description("Download a job's adapter (PEFT folder), a checkpoint's, or the merged model")
    .argument('<id>', 'job id')
    .option('--output <dir>', 'folder to write (default: ./<job id>, or ./<job id>-step-<N>)')
    .option(
      '--checkpoint-step <n>',
      'the checkpoint at this step instead of the final adapter',
      integerOption(0),
    )
    .option('--merged', 'the base model with the adapter merged in, instead of the adapter', false)
    .addOption(json())
    .addHelpText('after', '\nExample:\n  tunekit fine-tuning download ftjob-abc --output ./adapter')
    .action(
      async (
        id: string,
        options: { output?: string; checkpointStep?: number; merged: boolean; json: boolean },
      ) => {
        const client = createClient();
        const job = await client.fineTuning.jobs.retrieve(id);
        const step = options.checkpointStep;
        const output = resolve(options.output ?? (step === undefined ? `./${id}` : `./${id}-step-${step}`));
        note(`Downloading ${options.merged ? 'the merged model' : 'the adapter'} of ${id} into ${output}`);
        const { adapter, files } = await downloadJobAdapter(client, job, {
          output,
          ...(step !== undefined ? { step } : {}),
          merged: options.merged,
        });
        if (options.json) return printJson({ adapter, output_dir: output, files });
        process.stdout.write(`${files.join('\n')}\n`);
      },
    );
}
