/**
 * `files`, `fine-tuning` (and its alias `jobs`), `models` and `chat` from the built binary against a real emulator:
 * every subcommand, human tables and --json documents, local file checks with line numbers, and exit codes.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  datasetRows,
  json,
  removeTempDirs,
  requireFreshBuild,
  startEmulator,
  tempDir,
  tunekit,
} from './helpers';

let server: Awaited<ReturnType<typeof startEmulator>>;
let work: string;
let env: Record<string, string>;
const run = (args: string[]) => tunekit(args, { cwd: work, env });

beforeAll(async () => {
  requireFreshBuild();
  work = tempDir();
  server = await startEmulator(work, tempDir());
  env = { TUNEKIT_BASE_URL: server.url, TUNEKIT_API_KEY: 'commands' };
});
afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

/** Uploads 10 chat rows and creates a job with `flags` through `group create` (fine-tuning or its alias jobs). */
async function createJob(group: 'fine-tuning' | 'jobs', name: string, flags: string[]): Promise<Job> {
  const path = join(work, `${name}.jsonl`);
  writeFileSync(path, datasetRows('chat_template'));
  const file = json<{ id: string }>(await run(['files', 'upload', path, '--json']));
  const args = ['--training-file', file.id, '--model', 'tunekit-tiny-chat', ...flags, '--json'];
  return json<Job>(await run([group, 'create', ...args]));
}

interface Job {
  id: string;
  status: string;
  fine_tuned_model: string | null;
  training_type: unknown;
  hyperparameters: Record<string, unknown>;
}

describe('tunekit files', () => {
  it('check: exit 0 on a good file; each bad line with its number and exit 1 on a broken one', async () => {
    const good = join(work, 'good.jsonl');
    writeFileSync(good, datasetRows('chat_template'));
    const ok = await run(['files', 'check', good]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`${good}: OK, 10 examples (chat format)\n`);

    const lines = datasetRows('chat_template').trimEnd().split('\n');
    lines[1] = '{"messages": [{"role": "user", "content": "Hi"}]}';
    lines[3] = '{not json';
    const broken = join(work, 'broken.jsonl');
    writeFileSync(broken, `${lines.join('\n')}\n`);
    const bad = await run(['files', 'check', broken]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`${broken}:2: no assistant message to train on`);
    expect(bad.stdout).toContain(`${broken}:4: invalid JSON`);
    const report = json<{ valid: boolean; n_examples: number; problems: { line: number }[] }>(
      await run(['files', 'check', broken, '--json']),
    );
    expect(report).toMatchObject({ valid: false, n_examples: 8 });
    expect(report.problems.map((p) => p.line)).toEqual([2, 4]);

    // upload checks first: nothing is sent.
    const refused = await run(['files', 'upload', broken]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('nothing was uploaded');
  });

  it('upload, list, retrieve and delete, as tables and as JSON', async () => {
    const path = join(work, 'upload.jsonl');
    writeFileSync(path, datasetRows('chat_template'));
    const file = json<{ id: string; filename: string; purpose: string }>(
      await run(['files', 'upload', path, '--json']),
    );
    expect(file).toMatchObject({ filename: 'upload.jsonl', purpose: 'fine-tune' });
    const table = await run(['files', 'list']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+FILENAME\s+PURPOSE\s+SIZE\s+CREATED$/);
    expect(table.stdout).toMatch(
      new RegExp(
        `^${file.id}\\s+upload\\.jsonl\\s+fine-tune\\s+[\\d.]+ k?B\\s+(\\d+ seconds? ago|now)$`,
        'm',
      ),
    );
    const retrieved = json<{ id: string }>(await run(['files', 'retrieve', file.id, '--json']));
    expect(retrieved.id).toBe(file.id);
    const deleted = json<{ deleted: boolean }>(await run(['files', 'delete', file.id, '--json']));
    expect(deleted.deleted).toBe(true);
    const missing = await run(['files', 'retrieve', file.id]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/request failed with 404/);
  });
});

describe('tunekit fine-tuning', () => {
  it('create, list-events --follow, retrieve, list, list-checkpoints, download (final, a checkpoint, merged)', async () => {
    const created = await createJob('fine-tuning', 'train', [
      '--n-epochs',
      '2',
      '--batch-size',
      '5',
      '--lora-r',
      '4',
      '--n-checkpoints',
      '2',
      '--suffix',
      'cli',
    ]);
    expect(created.status).toBe('validating_files');
    expect(created.training_type).toEqual({ type: 'lora', r: 4 });

    const follow = await run(['jobs', 'list-events', created.id, '--follow']);
    expect(follow.code).toBe(0);
    expect(follow.stdout.split('\n')[0]).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}info {3}Created fine-tuning job/,
    );
    expect(follow.stdout).toContain('Step 4/4: training loss=');
    expect(follow.stdout.trimEnd().split('\n').at(-1)).toMatch(/The job has successfully completed$/);

    const job = json<Job>(await run(['fine-tuning', 'retrieve', created.id, '--json']));
    expect(job).toMatchObject({ status: 'succeeded', hyperparameters: { n_epochs: 2, batch_size: 5 } });
    expect(job.fine_tuned_model).toMatch(/^ft:tunekit-tiny-chat:[^:]+:cli:/);
    const shown = await run(['fine-tuning', 'retrieve', created.id]);
    expect(shown.stdout).toMatch(/^status:\s+succeeded$/m);

    const events = json<{ data: { message: string }[] }>(
      await run(['fine-tuning', 'list-events', created.id, '--limit', '2', '--json']),
    );
    expect(events.data).toHaveLength(2);
    expect(events.data[0]?.message).toBe('The job has successfully completed');

    const listed = await run(['fine-tuning', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`^${created.id}\\s+succeeded\\s+tunekit-tiny-chat\\s+ft:`, 'm'));
    const page = json<{ data: Job[] }>(await run(['fine-tuning', 'list', '--json']));
    expect(page.data.map((j) => j.id)).toContain(created.id);

    const checkpoints = json<{ data: { step_number: number }[] }>(
      await run(['fine-tuning', 'list-checkpoints', created.id, '--json']),
    );
    expect(checkpoints.data.map((c) => c.step_number)).toEqual([4, 2]);
    const checkpointTable = await run(['fine-tuning', 'list-checkpoints', created.id]);
    expect(checkpointTable.stdout).toMatch(/^STEP\s+TRAIN LOSS\s+MODEL\s+CREATED$/m);

    const final = await run(['fine-tuning', 'download', created.id, '--output', join(work, 'final')]);
    expect(final.code, final.stderr).toBe(0);
    expect(final.stdout.trim().split('\n')).toEqual([
      join(work, 'final', 'adapter_config.json'),
      join(work, 'final', 'adapter_model.safetensors'),
    ]);
    const step = json<{ adapter: { step: number }; files: string[] }>(
      await run([
        'fine-tuning',
        'download',
        created.id,
        '--checkpoint-step',
        '2',
        '--output',
        join(work, 's2'),
        '--json',
      ]),
    );
    expect(step.adapter.step).toBe(2);
    expect(existsSync(join(work, 's2', 'adapter_model.safetensors'))).toBe(true);
    const noStep = await run(['fine-tuning', 'download', created.id, '--checkpoint-step', '3']);
    expect(noStep.code).toBe(1);
    expect(noStep.stderr).toContain('has no checkpoint at step 3 (steps: 2, 4)');
    const merged = json<{ files: string[] }>(
      await run([
        'fine-tuning',
        'download',
        created.id,
        '--merged',
        '--output',
        join(work, 'merged'),
        '--json',
      ]),
    );
    expect(merged.files.map((f) => f.slice(join(work, 'merged').length + 1))).toContain('model.safetensors');

    const models = json<{ data: { id: string }[] }>(await run(['models', 'list', '--json']));
    expect(models.data.map((m) => m.id)).toContain(job.fine_tuned_model);
    const chat = json<{ choices: { message: { content: string } }[] }>(
      await run(['chat', job.fine_tuned_model as string, 'Capital of Peru?', '--max-tokens', '4', '--json']),
    );
    expect(typeof chat.choices[0]?.message.content).toBe('string');
  }, 300_000);

  it('cancel stops a job (again: the same answer); an unknown job is a failed request (exit 1)', async () => {
    const created = await createJob('jobs', 'cancel', ['--n-epochs', '50']);
    const cancelled = json<Job>(await run(['fine-tuning', 'cancel', created.id, '--json']));
    expect(cancelled.status).toBe('cancelled');
    const again = await run(['fine-tuning', 'cancel', created.id]);
    expect(again.stdout).toBe(`${created.id}  cancelled\n`);
    const unknown = await run(['fine-tuning', 'cancel', 'ftjob-unknown']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/request failed with 404/);
  });

  it('usage mistakes exit 2 before any request; --help lists every flag with its default', async () => {
    const missing = await run(['fine-tuning', 'create', '--model', 'tunekit-tiny-chat']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--training-file <id>' not specified");
    const create = ['fine-tuning', 'create', '--training-file', 'f', '--model', 'm'];
    const notInt = await run([...create, '--n-epochs', 'x']);
    expect(notInt.code).toBe(2);
    const contradiction = await run([...create, '--no-lora', '--lora-r', '4']);
    expect(contradiction.code).toBe(2);
    expect(contradiction.stderr).toContain('--lora-* flags need LoRA');

    const help = await run(['fine-tuning', 'create', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--training-file', '--n-epochs', '--lora-r', '--method', '--json']) {
      expect(help.stdout).toContain(flag);
    }
    expect(help.stdout).toContain('default: "sft")');
    const runHelp = await run(['run', '--help']);
    expect(runHelp.stdout).toMatch(
      /--detach\s+print the job id and return once the job is created \(default:\s+false\)/,
    );
  });
});
