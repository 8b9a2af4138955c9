/**
 * `tunekit run` from the built binary: the README's quick start on an embedded emulator (then chat with the result),
 * each dataset type, --json, validation before any upload (exit 2), a failed job (exit 1), Ctrl-C without a
 * terminal, and the live display under a pseudo-terminal against plain lines without one.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMORIZE_QA } from '../memorize-qa';
import {
  BIN,
  json,
  ROOT,
  removeTempDirs,
  requireFreshBuild,
  start,
  startEmulator,
  tempDir,
  tunekit,
  userEnv,
  writeRun,
} from './helpers';

let server: Awaited<ReturnType<typeof startEmulator>>;
let work: string;

beforeAll(async () => {
  requireFreshBuild();
  work = tempDir();
  server = await startEmulator(work, tempDir());
});
afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

/** Against the shared emulator, in the project of `key`. */
const remote = (key: string) => ({ cwd: work, env: { TUNEKIT_BASE_URL: server.url, TUNEKIT_API_KEY: key } });

describe('tunekit run', () => {
  it("runs the README's quick start on an embedded emulator; the adapter answers as trained through chat", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const command = 'npx tunekit run examples/chat.yaml';
    expect(readme).toContain(command);
    const home = tempDir();
    cpSync(join(ROOT, 'examples'), join(home, 'examples'), { recursive: true });

    const result = await tunekit(command.split(' ').slice(2), { cwd: home });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('Starting an embedded emulator (data folder ./.tunekit');
    expect(result.stderr).toMatch(/step 150\/150 .*loss \d/);
    expect(result.stderr).toContain(`Adapter (PEFT) saved to ${join(home, 'model-out')}`);
    for (const file of ['adapter_config.json', 'adapter_model.safetensors']) {
      expect(existsSync(join(home, 'model-out', file)), file).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(home, 'model-out', 'adapter_config.json'), 'utf8'))).toMatchObject({
      peft_type: 'LORA',
      r: 16,
      lora_alpha: 32,
    });

    // What the run printed: serve ./.tunekit with `tunekit emulator`, then chat.
    const local = await startEmulator(home, './.tunekit');
    try {
      const env = { TUNEKIT_BASE_URL: local.url };
      const model = /succeeded: (ft:\S+)/.exec(result.stderr)?.[1] as string;
      expect(result.stderr).toContain(`tunekit chat ${model} "Hello"`);
      const jobs = json<{ data: { fine_tuned_model: string }[] }>(
        await tunekit(['fine-tuning', 'list', '--json'], { cwd: home, env }),
      );
      expect(jobs.data.map((j) => j.fine_tuned_model)).toEqual([model]);
      for (const [question, answer] of [
        ['Capital of Peru?', 'Lima'],
        ['Largest planet?', 'Jupiter'],
        ['Author of Hamlet?', 'Shakespeare'],
      ]) {
        const tuned = await tunekit(['chat', model, question as string, '--temperature', '0'], {
          cwd: home,
          env,
        });
        expect(tuned.code, tuned.stderr).toBe(0);
        expect(tuned.stdout).toBe(`${answer}\n`);
        const untuned = await tunekit(
          ['chat', 'tunekit-tiny-chat', question as string, '--temperature', '0', '--max-tokens', '8'],
          { cwd: home, env },
        );
        expect(untuned.stdout.trim()).not.toBe(answer);
      }
    } finally {
      await local.stop();
    }
  }, 300_000);

  it('runs an alpaca dataset with --json: one document with the job, the adapter and its files', async () => {
    const config = writeRun(work, 'alpaca', 'alpaca', 'num_epochs: 1\nmicro_batch_size: 5\n');
    const result = await tunekit(['run', config, '--json'], remote('alpaca'));
    expect(result.code, result.stderr).toBe(0);
    const out = json<{
      job: { status: string; training_type: unknown };
      adapter: { r: number };
      files: string[];
    }>(result);
    expect(out.job.status).toBe('succeeded');
    expect(out.job.training_type).toMatchObject({ type: 'lora', r: 4 });
    expect(out.adapter.r).toBe(4);
    expect(out.files).toEqual([
      join(work, 'alpaca-out', 'adapter_config.json'),
      join(work, 'alpaca-out', 'adapter_model.safetensors'),
    ]);
    // One upload: the training file (the job added its metrics file).
    const files = json<{ data: { filename: string }[] }>(
      await tunekit(['files', 'list', '--purpose', 'fine-tune', '--json'], remote('alpaca')),
    );
    expect(files.data.map((f) => f.filename)).toEqual(['train.jsonl']);
  });

  it('runs a sharegpt dataset with a validation split into --output', async () => {
    const config = writeRun(
      work,
      'sharegpt',
      'sharegpt',
      'num_epochs: 1\nmicro_batch_size: 4\nval_set_size: 0.2\n',
      13,
    );
    const output = join(work, 'elsewhere');
    const result = await tunekit(['run', config, '--output', output], remote('sharegpt'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('Uploading 10 training row(s) and 3 validation row(s)');
    expect(result.stdout).toBe('');
    expect(existsSync(join(output, 'adapter_model.safetensors'))).toBe(true);
    expect(existsSync(join(work, 'sharegpt-out'))).toBe(false);
  });

  it('runs rl: dpo (chat_template.default) and rl: kto (user_defined) as dpo and kto jobs', async () => {
    const pairs = MEMORIZE_QA.slice(0, 10);
    const wrong = (i: number) => (pairs[(i + 1) % pairs.length] as [string, string])[1];
    writeFileSync(
      join(work, 'pairs.jsonl'),
      pairs
        .map(([q, a], i) =>
          JSON.stringify({ messages: [{ role: 'user', content: q }], chosen: a, rejected: wrong(i) }),
        )
        .join('\n'),
    );
    writeFileSync(
      join(work, 'labelled.jsonl'),
      pairs
        .map(([q, a], i) => JSON.stringify({ question: q, answer: i % 2 ? a : wrong(i), ok: i % 2 === 1 }))
        .join('\n'),
    );
    const common =
      'base_model: tunekit-tiny-chat\nadapter: lora\nlora_r: 4\nnum_epochs: 1\nmicro_batch_size: 5\n';
    writeFileSync(
      join(work, 'dpo.yaml'),
      `${common}rl: dpo\nbeta: 0.2\noutput_dir: ./dpo-out\ndatasets:\n  - path: pairs.jsonl\n    type: chat_template.default\n`,
    );
    writeFileSync(
      join(work, 'kto.yaml'),
      `${common}rl: kto\nkto_undesirable_weight: 1.5\noutput_dir: ./kto-out\ndatasets:\n  - path: labelled.jsonl\n` +
        '    type:\n      field_prompt: question\n      field_completion: answer\n      field_label: ok\n' +
        '      prompt_format: "Q: {prompt}\\nA:"\n      completion_format: " {completion}"\n',
    );
    type Out = {
      job: { status: string; method: Record<string, { hyperparameters: Record<string, unknown> }> };
    };
    const dpo = await tunekit(['run', join(work, 'dpo.yaml'), '--json'], remote('dpo'));
    expect(dpo.code, dpo.stderr).toBe(0);
    const dpoJob = json<Out>(dpo).job;
    expect(dpoJob.status).toBe('succeeded');
    expect(dpoJob.method.type).toBe('dpo');
    expect(dpoJob.method.dpo?.hyperparameters).toMatchObject({ beta: 0.2, batch_size: 5, n_epochs: 1 });
    expect(existsSync(join(work, 'dpo-out', 'adapter_model.safetensors'))).toBe(true);
    const kto = await tunekit(['run', join(work, 'kto.yaml'), '--json'], remote('kto'));
    expect(kto.code, kto.stderr).toBe(0);
    const ktoJob = json<Out>(kto).job;
    expect(ktoJob.status).toBe('succeeded');
    expect(ktoJob.method.kto?.hyperparameters).toMatchObject({ undesirable_weight: 1.5, batch_size: 5 });
    expect(existsSync(join(work, 'kto-out', 'adapter_model.safetensors'))).toBe(true);
    // A bad row after conversion stops before any upload, naming the source file and line.
    writeFileSync(
      join(work, 'pairs.jsonl'),
      `${JSON.stringify({ messages: 'q', chosen: '', rejected: 'x' })}\n`,
    );
    const bad = await tunekit(['run', join(work, 'dpo.yaml')], remote('dpo-bad'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/pairs\.jsonl, line 1: .*empty/);
    const files = json<{ data: unknown[] }>(await tunekit(['files', 'list', '--json'], remote('dpo-bad')));
    expect(files.data).toEqual([]);
  });

  it('refuses an unknown key, a wrong type and a missing file with exit 2 before uploading anything', async () => {
    writeRun(work, 'bad', 'chat_template', '');
    const cases: [string, RegExp][] = [
      ['lora_rr: 8\n', /lora_rr: unknown key \(did you mean 'lora_r'\?\)/],
      ['num_epochs: three\n', /num_epochs: expected a number, got the string "three"/],
      ['', /datasets\[0\]\.path: no such file: .*missing\.jsonl/],
    ];
    for (const [extra, message] of cases) {
      const config = join(work, 'bad-case.yaml');
      const base = readFileSync(join(work, 'bad.yaml'), 'utf8');
      writeFileSync(config, extra ? `${base}${extra}` : base.replace('bad.jsonl', 'missing.jsonl'));
      const result = await tunekit(['run', config], remote('bad-configs'));
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).toBe('');
    }
    const files = json<{ data: unknown[] }>(
      await tunekit(['files', 'list', '--json'], remote('bad-configs')),
    );
    expect(files.data).toEqual([]);
  });

  it('exits 1 with the error code and message when the job fails', async () => {
    const config = writeRun(work, 'few', 'chat_template', 'num_epochs: 1\n', 5);
    const result = await tunekit(['run', config], remote('failing'));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /job ftjob-\S+ failed: invalid_n_examples: Training file has 5 example\(s\)/,
    );
    expect(existsSync(join(work, 'few-out'))).toBe(false);
  });

  it('--detach prints the job id at once; the job then finishes on the server', async () => {
    const config = writeRun(work, 'detached', 'chat_template', 'num_epochs: 1\nmicro_batch_size: 5\n');
    const result = await tunekit(['run', config, '--detach'], remote('detach'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ftjob-[A-Za-z0-9]+\n$/);
    const id = result.stdout.trim();
    const follow = await tunekit(['fine-tuning', 'list-events', id, '--follow'], remote('detach'));
    expect(follow.stdout).toContain('The job has successfully completed');
  });

  it('on Ctrl-C without a terminal, leaves the job running and says so', async () => {
    const config = writeRun(work, 'interrupted', 'chat_template', 'num_epochs: 3\nmicro_batch_size: 1\n');
    const running = start(['run', config], remote('interrupt'));
    await running.waitForStderr(/^step 1\/30 /m);
    running.child.kill('SIGINT');
    const result = await running.done;
    expect(result.code).toBe(130);
    const id = /Left job (ftjob-\S+) running/.exec(result.stderr)?.[1] as string;
    expect(id).toBeDefined();
    const follow = await tunekit(['fine-tuning', 'list-events', id, '--follow'], remote('interrupt'));
    expect(follow.stdout).toContain('The job has successfully completed');
  });

  it('redraws one status line in place under a pseudo-terminal, and prints plain lines without one', async () => {
    const config = writeRun(work, 'display', 'chat_template', 'num_epochs: 2\nmicro_batch_size: 2\n');
    const env = userEnv(remote('display').env);
    const tty = await new Promise<{ code: number | null; output: string }>((resolve) => {
      // util-linux `script` gives the command a pseudo-terminal; its output is what the terminal received.
      const child = spawn(
        'script',
        ['-qefc', `stty cols 160 rows 24; "${process.execPath}" "${BIN}" run "${config}"`, '/dev/null'],
        {
          cwd: work,
          env: { ...env, COLUMNS: '160' },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.on('close', (code) => resolve({ code, output }));
    });
    expect(tty.code, tty.output).toBe(0);
    // log-update erases the previous frame (cursor up + erase line) before drawing the next one.
    expect(tty.output).toContain('\u001b[2K');
    expect(tty.output).toMatch(/step 10\/10 .*loss \d+\.\d{4}/);
    expect(tty.output).toMatch(/\[#+-*\] \d+%/);

    const plain = await tunekit(['run', config], remote('display'));
    expect(plain.code).toBe(0);
    expect(plain.stderr).not.toContain('\u001b');
    const steps = plain.stderr
      .split('\n')
      .filter((line) => /^step \d+\/10 {2}epoch .* {2}loss \d+\.\d{4}/.test(line));
    expect(steps).toHaveLength(10);
  });
});
