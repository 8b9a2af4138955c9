/**
 * Preference fine-tuning end to end through the official `openai` SDK: a DPO job (with RPO's NLL term) on the
 * built-in model learns to prefer the preferred answers of a memorisable set (the final full validation over the
 * training pairs: a positive log-ratio margin for >= 90 % of them; greedy answers move to the preferred ones), the
 * job echoes its method with resolved values and reports TRL's metrics; a bad preference row (a missing or empty
 * answer, a wrong role, invalid JSON, a kto row) fails the job with its code and line, and a dpo job on supervised
 * rows fails with a clear validation error.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREFERENCE_METRICS } from '../../emulator/contract/jobs';
import { type RunningEmulator, startEmulator } from '../../emulator/main';
import { BUILTIN_MODEL } from '../../emulator/worker/models';
import { chatJsonl, MEMORIZE_QA } from '../memorize-qa';

const QA = MEMORIZE_QA.slice(0, 12);
let emulator: RunningEmulator;
let dataDir: string;
let openai: OpenAI;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tunekit-dpo-'));
  emulator = await startEmulator({ port: 0, dataDir });
  openai = new OpenAI({ apiKey: 'dpo-key', baseURL: emulator.url });
});
afterAll(async () => {
  await emulator?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function pairsJsonl(): string {
  return QA.map(([question, answer], i) =>
    JSON.stringify({
      input: { messages: [{ role: 'user', content: question }] },
      preferred_output: [{ role: 'assistant', content: answer }],
      non_preferred_output: [{ role: 'assistant', content: QA[(i + 1) % QA.length]![1] }],
    }),
  ).join('\n');
}

async function upload(text: string, name: string) {
  return openai.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'fine-tune' });
}

async function finished(id: string) {
  for (let i = 0; i < 1200; i++) {
    const job = await openai.fineTuning.jobs.retrieve(id);
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`job ${id} did not finish`);
}

async function greedy(model: string, question: string) {
  const r = await openai.chat.completions.create({
    model,
    messages: [{ role: 'user', content: question }],
    temperature: 0,
    max_tokens: 24,
  });
  return r.choices[0]?.message.content ?? null;
}

describe('dpo through the openai SDK', () => {
  it('learns the preferred answers', async () => {
    const file = await upload(pairsJsonl(), 'pairs.jsonl');
    const created = await openai.fineTuning.jobs.create({
      model: BUILTIN_MODEL,
      training_file: file.id,
      validation_file: file.id,
      seed: 3,
      method: { type: 'dpo', dpo: { hyperparameters: { beta: 0.1, rpo_alpha: 1 } as { beta: number } } },
    });
    expect(created.method?.type).toBe('dpo');
    const job = await finished(created.id);
    expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
    const h = job.method?.dpo?.hyperparameters as Record<string, unknown>;
    expect(h).toMatchObject({ beta: 0.1, rpo_alpha: 1 });
    expect(typeof h.batch_size).toBe('number');
    expect(typeof h.n_epochs).toBe('number');
    expect(job.hyperparameters).toBeNull();

    const events = await openai.fineTuning.jobs.listEvents(job.id, { limit: 100 });
    const metrics = events.data
      .filter((e) => e.type === 'metrics')
      .map((e) => e.data as Record<string, number>);
    const last = metrics[0]!;
    for (const key of PREFERENCE_METRICS.slice(0, 6)) expect(Number.isFinite(last[key]), key).toBe(true);
    expect(last.step).toBe(last.total_steps);
    // the final full validation runs over the training pairs: the share with a positive log-ratio margin
    const accuracy = last['full_valid_rewards/accuracies']!;
    console.log(
      `dpo e2e: steps ${last.total_steps}, final validation accuracy ${accuracy}, margin ${last['full_valid_rewards/margins']}`,
    );
    expect(accuracy).toBeGreaterThanOrEqual(0.9);
    expect(last['full_valid_rewards/margins']!).toBeGreaterThan(0);

    let tuned = 0;
    let base = 0;
    for (const [question, answer] of QA) {
      if ((await greedy(job.fine_tuned_model!, question)) === answer) tuned++;
      if ((await greedy(BUILTIN_MODEL, question)) === answer) base++;
    }
    console.log(`dpo e2e: greedy preferred answers ${tuned}/${QA.length} (base ${base})`);
    expect(tuned).toBeGreaterThanOrEqual(Math.ceil(0.75 * QA.length));
    expect(base).toBe(0);

    const csv = await (await openai.files.content(job.result_files[0]!)).text();
    expect(csv.split('\n')[0]).toContain('rewards/margins');
  });

  it('fails bad rows with the code and the line, and supervised rows with a clear error', async () => {
    const good = pairsJsonl().split('\n');
    const cases: [string, RegExp][] = [
      [
        [
          ...good.slice(0, 4),
          JSON.stringify({
            input: { messages: [{ role: 'user', content: 'q' }] },
            preferred_output: [{ role: 'assistant', content: 'a' }],
          }),
          ...good.slice(4),
        ].join('\n'),
        /Line 5: missing `non_preferred_output`/,
      ],
      [
        [...good.slice(0, 2), good[2]!.replace('"role":"assistant","content":"', '"role":"user","content":"')]
          .concat(good.slice(3))
          .join('\n'),
        /Line 3: `preferred_output` message 1: role must be "assistant"/,
      ],
      [[...good.slice(0, 6), '{not json', ...good.slice(6)].join('\n'), /Line 7: invalid JSON/],
      [
        [
          ...good.slice(0, 7),
          good[7]!.replace(
            /"preferred_output":\[\{"role":"assistant","content":"[^"]*"/,
            '"preferred_output":[{"role":"assistant","content":""',
          ),
        ]
          .concat(good.slice(8))
          .join('\n'),
        /Line 8: `preferred_output` message 1: `content` is empty/,
      ],
      [
        [
          ...good.slice(0, 9),
          JSON.stringify({
            input: { messages: [{ role: 'user', content: 'q' }] },
            output: [{ role: 'assistant', content: 'a' }],
            label: true,
          }),
          ...good.slice(9),
        ].join('\n'),
        /Line 10: this is a kto row \(`label`\); method 'dpo' trains on preference rows/,
      ],
      [
        chatJsonl(QA),
        /Line 1: the file is in the fine-tune-chat format .* method 'dpo' trains on preference rows/,
      ],
    ];
    for (const [text, message] of cases) {
      const file = await upload(text, 'bad.jsonl');
      const created = await openai.fineTuning.jobs.create({
        model: BUILTIN_MODEL,
        training_file: file.id,
        method: { type: 'dpo' },
      });
      const job = await finished(created.id);
      expect(job.status).toBe('failed');
      expect(job.error?.code).toBe('invalid_training_file');
      expect(job.error?.message).toMatch(message);
    }
    // preference rows given to a supervised job
    const file = await upload(pairsJsonl(), 'pairs.jsonl');
    const job = await finished(
      (await openai.fineTuning.jobs.create({ model: BUILTIN_MODEL, training_file: file.id })).id,
    );
    expect(job.error?.message).toMatch(/Line 1: the file holds preference pairs, which are for method 'dpo'/);
  });
});
