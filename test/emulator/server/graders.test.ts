/**
 * The alpha grader endpoints and reinforcement job creation through the official `openai` SDK (responses checked
 * against openapi.yaml): run and validate give the grader module's results, invalid graders are 400s naming the
 * field, model graders ask the emulator's own model, and hosted non-reasoning models refuse reinforcement.
 */
import OpenAI, { BadRequestError, toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { checkedFetch, TEST_MODEL, useTestServer } from './harness';

const env = useTestServer('tunekit-graders-');

function client(apiKey = 'graders-key'): OpenAI {
  return new OpenAI({ apiKey, baseURL: env.server.baseURL, fetch: checkedFetch, maxRetries: 0 });
}

const exact = {
  type: 'string_check' as const,
  name: 'exact',
  input: '{{sample.output_text}}',
  reference: '{{item.answer}}',
  operation: 'eq' as const,
};

async function badRequest(promise: Promise<unknown>): Promise<BadRequestError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BadRequestError);
  return error as BadRequestError;
}

describe('/fine_tuning/alpha/graders', () => {
  it('run: reward, errors and sub-rewards in the service’s shape', async () => {
    const openai = client();
    const hit = await openai.fineTuning.alpha.graders.run({
      grader: exact,
      model_sample: 'Lima',
      item: { answer: 'Lima' },
    });
    expect(hit.reward).toBe(1);
    expect(hit.metadata).toMatchObject({
      name: 'exact',
      type: 'string_check',
      token_usage: null,
      sampled_model_name: null,
    });
    expect(hit.metadata.errors.invalid_variable_error).toBe(false);
    const missing = await openai.fineTuning.alpha.graders.run({
      grader: exact,
      model_sample: 'Lima',
      item: {},
    });
    expect(missing.reward).toBe(0);
    expect(missing.metadata.errors.invalid_variable_error).toBe(true);

    const multi = await openai.fineTuning.alpha.graders.run({
      grader: {
        type: 'multi',
        name: 'combined',
        // The wire shape the service accepts (a map), which the SDK's type does not spell.
        graders: {
          exact,
          fuzzy: { ...exact, type: 'text_similarity', name: 'fuzzy', evaluation_metric: 'fuzzy_match' },
        } as unknown as OpenAI.Graders.MultiGrader['graders'],
        calculate_output: '0.25 * exact + 0.75 * fuzzy',
      },
      model_sample: 'kitten',
      item: { answer: 'sitting' },
    });
    expect(multi.reward).toBeCloseTo(0.75 * (8 / 13), 12);
    expect(multi.sub_rewards).toEqual({ exact: 0, fuzzy: 8 / 13 });
  });

  it('run with a score_model grader asks the emulator’s model; an answer without a score counts as a parse error', async () => {
    const result = await client().fineTuning.alpha.graders.run({
      grader: {
        type: 'score_model',
        name: 'judge',
        model: TEST_MODEL,
        input: [{ role: 'user', content: 'Score this answer: {{sample.output_text}}' }],
        sampling_params: { max_completions_tokens: 8, seed: 1, temperature: 1 },
      },
      model_sample: 'Lima',
    });
    expect(result.metadata.sampled_model_name).toBe(TEST_MODEL);
    expect(result.metadata.token_usage).toBeGreaterThan(0);
    // The built-in model is random-initialized: its answer is no JSON score.
    expect(result.reward).toBe(0);
    expect(result.metadata.errors.model_grader_parse_error).toBe(true);
  });

  it('validate echoes a valid grader and refuses invalid ones with the field named', async () => {
    const openai = client();
    expect(await openai.fineTuning.alpha.graders.validate({ grader: exact })).toEqual({ grader: exact });
    const refusals: Array<[unknown, string]> = [
      [{ ...exact, input: '{{sample.text}}' }, 'grader.input'],
      [{ ...exact, type: 'text_similarity', evaluation_metric: 'cosine' }, 'grader.evaluation_metric'],
      [
        { type: 'multi', name: 'm', graders: { exact }, calculate_output: 'exact + other' },
        'grader.calculate_output',
      ],
      [
        { type: 'score_model', name: 's', model: 'no-such-model', input: [{ role: 'user', content: 'x' }] },
        'grader.model',
      ],
      [{ type: 'unknown_type', name: 'x' }, 'grader.type'],
    ];
    for (const [grader, param] of refusals) {
      const error = await badRequest(
        openai.fineTuning.alpha.graders.validate({ grader } as OpenAI.FineTuning.Alpha.GraderValidateParams),
      );
      expect(error.param).toBe(param);
    }
  });
});

describe('reinforcement job creation', () => {
  async function trainingFile(openai: OpenAI): Promise<string> {
    const rows = Array.from({ length: 10 }, (_, i) =>
      JSON.stringify({ messages: [{ role: 'user', content: `Say ${i}` }], answer: String(i) }),
    );
    const file = await openai.files.create({
      file: await toFile(Buffer.from(`${rows.join('\n')}\n`), 'rft.jsonl'),
      purpose: 'fine-tune',
    });
    return file.id;
  }

  it('refuses a bad grader, a hosted non-reasoning model, and another method on a reasoning model', async () => {
    const openai = client('rft-create');
    const training_file = await trainingFile(openai);
    const badGrader = await badRequest(
      openai.fineTuning.jobs.create({
        model: 'o4-mini-2025-04-16',
        training_file,
        method: { type: 'reinforcement', reinforcement: { grader: { ...exact, reference: '{{answer}}' } } },
      }),
    );
    expect(badGrader.param).toBe('method.reinforcement.grader.reference');
    const hosted = await badRequest(
      openai.fineTuning.jobs.create({
        model: 'gpt-4o-mini-2024-07-18',
        training_file,
        method: { type: 'reinforcement', reinforcement: { grader: exact } },
      }),
    );
    expect(hosted.param).toBe('model');
    expect(hosted.message).toMatch(/gpt-4o-mini-2024-07-18.*reinforcement/);
    const sft = await badRequest(openai.fineTuning.jobs.create({ model: 'o4-mini', training_file }));
    expect(sft.message).toMatch(/o4-mini.*'supervised'/);
    // Full fine-tuning is not a reinforcement option here (the rollouts sample from the adapter being trained).
    const full = await badRequest(
      openai.fineTuning.jobs.create({
        model: 'o4-mini-2025-04-16',
        training_file,
        method: { type: 'reinforcement', reinforcement: { grader: exact } },
        training_type: { type: 'full' },
      } as Parameters<typeof openai.fineTuning.jobs.create>[0]),
    );
    expect(full).toMatchObject({ param: 'training_type', code: 'unsupported_method' });
    // A valid reinforcement job is accepted, its method echoed (it trains: test/e2e/rft.test.ts).
    const valid = await openai.fineTuning.jobs.create({
      model: 'o4-mini-2025-04-16',
      training_file,
      method: { type: 'reinforcement', reinforcement: { grader: exact } },
    });
    expect(valid.status).toBe('validating_files');
    expect(valid.method?.reinforcement?.grader).toMatchObject(exact);
    await openai.fineTuning.jobs.cancel(valid.id);
  });
});
