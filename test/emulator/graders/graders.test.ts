/**
 * Grader semantics: string_check's operations, templates (nesting, JSON output, missing fields, unicode), multi
 * formulas, python graders in their own process, model graders with a scripted judge, and what validation refuses.
 */
import { describe, expect, it } from 'vitest';
import type { AnyGrader, Grader } from '../../../emulator/contract/graders';
import {
  type GraderServices,
  GraderValidationError,
  gradeBatch,
  gradeSample,
  type Judge,
  sampleOf,
  validateGrader,
} from '../../../emulator/graders';
import { pythonUnavailable } from '../../../emulator/graders/python';

const none: GraderServices = {};
const check = (input: string, reference: string, operation: 'eq' | 'ne' | 'like' | 'ilike'): Grader => ({
  type: 'string_check',
  name: 'check',
  input,
  reference,
  operation,
});

async function reward(grader: Grader, output: string, item: Record<string, unknown> = {}, services = none) {
  return (await gradeSample(grader, output, item, services)).reward;
}

describe('string_check', () => {
  const table: Array<[string, string, 'eq' | 'ne' | 'like' | 'ilike', number]> = [
    ['Lima', 'Lima', 'eq', 1],
    ['lima', 'Lima', 'eq', 0],
    ['Lima ', 'Lima', 'eq', 0],
    ['Lima', 'Lima', 'ne', 0],
    ['Quito', 'Lima', 'ne', 1],
    ['The capital is Lima.', 'Lima', 'like', 1],
    ['The capital is lima.', 'Lima', 'like', 0],
    ['The capital is LIMA.', 'lima', 'ilike', 1],
    ['Quito', 'lima', 'ilike', 0],
    ['', '', 'eq', 1],
    ['anything', '', 'like', 1],
    ['Ça va, Zoë?', 'zoë', 'ilike', 1],
  ];
  for (const [output, reference, operation, expected] of table) {
    it(`${JSON.stringify(output)} ${operation} ${JSON.stringify(reference)} → ${expected}`, async () => {
      expect(
        await reward(check('{{sample.output_text}}', '{{item.ref}}', operation), output, { ref: reference }),
      ).toBe(expected);
    });
  }
});

describe('templates', () => {
  it('reads nested item fields, list indices and JSON output paths, with spaces inside the braces', async () => {
    const grader = check('{{ sample.output_json.city }}-{{item.answer.cities[1]}}', 'Lima-Lima', 'eq');
    expect(await reward(grader, '{"city": "Lima"}', { answer: { cities: ['Quito', 'Lima'] } })).toBe(1);
  });

  it('inserts non-string values as JSON', async () => {
    const grader = check('{{sample.output_text}}', '{{item.expected}}', 'eq');
    expect(await reward(grader, '{"a":[1,2]}', { expected: { a: [1, 2] } })).toBe(1);
    expect(await reward(grader, '42', { expected: 42 })).toBe(1);
  });

  it('a missing item field scores 0 with invalid_variable_error', async () => {
    const outcome = await gradeSample(check('{{sample.output_text}}', '{{item.nope}}', 'ne'), 'x', {}, none);
    expect(outcome.reward).toBe(0);
    expect(outcome.errors.invalid_variable_error).toBe(true);
  });

  it('output_json of a sample that is not JSON scores 0 with sample_parse_error', async () => {
    const outcome = await gradeSample(check('{{sample.output_json.a}}', 'x', 'ne'), 'not json', {}, none);
    expect(outcome).toMatchObject({
      reward: 0,
      errors: { sample_parse_error: true, invalid_variable_error: false },
    });
  });

  it('sampleOf keeps output_json for objects and arrays only', () => {
    expect(sampleOf('[1]').output_json).toEqual([1]);
    expect(sampleOf('"text"').output_json).toBeUndefined();
    expect(sampleOf('{"a":1}').output_json).toEqual({ a: 1 });
  });
});

describe('multi', () => {
  const multi = (calculate_output: string, graders: Record<string, AnyGrader> = {}): Grader =>
    ({
      type: 'multi',
      name: 'combined',
      graders: {
        exact: check('{{sample.output_text}}', '{{item.answer}}', 'eq'),
        near: {
          type: 'text_similarity',
          name: 'near',
          input: '{{sample.output_text}}',
          reference: '{{item.answer}}',
          evaluation_metric: 'fuzzy_match',
        },
        ...graders,
      },
      calculate_output,
    }) as Grader;

  it('combines the sub-rewards with the formula and reports each', async () => {
    const outcome = await gradeSample(
      multi('0.5 * exact + 0.5 * near ^ 2'),
      'kitten',
      { answer: 'sitting' },
      none,
    );
    const near = 8 / 13;
    expect(outcome.reward).toBeCloseTo(0.5 * near * near, 12);
    expect(outcome.subRewards).toEqual({ exact: 0, near });
  });

  it('supports min max abs floor ceil exp sqrt log', async () => {
    const outcome = await gradeSample(
      multi('min(exact, 1) + max(near, 0) + abs(-1) + floor(1.5) + ceil(0.2) + exp(0) + sqrt(4) + log(1)'),
      'Lima',
      { answer: 'Lima' },
      none,
    );
    expect(outcome.reward).toBe(1 + 1 + 1 + 1 + 1 + 1 + 2 + 0);
  });

  it('a formula that is not a finite number scores 0 with formula_parse_error', async () => {
    const outcome = await gradeSample(multi('exact / near'), 'zzz', { answer: 'Lima' }, none);
    expect(outcome).toMatchObject({ reward: 0, errors: { formula_parse_error: true } });
  });

  it('validation refuses unknown names, forbidden syntax, nesting and an empty map', async () => {
    const refusals: Array<[Grader, string]> = [
      [multi('exact + typo'), 'grader.calculate_output'],
      [multi('exact = 1'), 'grader.calculate_output'],
      [multi('sin(exact)'), 'grader.calculate_output'],
      [multi('exact +'), 'grader.calculate_output'],
      [multi('exact', { inner: multi('exact') as AnyGrader }), 'grader.graders.inner'],
      [{ type: 'multi', name: 'm', graders: {}, calculate_output: '1' }, 'grader.graders'],
    ];
    for (const [grader, param] of refusals) {
      await expect(validateGrader(grader, none)).rejects.toMatchObject({
        name: 'GraderValidationError',
        param,
      });
    }
    await expect(validateGrader(multi('0.3 * exact + 0.7 * near'), none)).resolves.toBeUndefined();
  });
});

describe('validation', () => {
  it('refuses unknown namespaces and sample fields, and cosine', async () => {
    await expect(validateGrader(check('{{output_text}}', 'x', 'eq'), none)).rejects.toMatchObject({
      param: 'grader.input',
    });
    await expect(validateGrader(check('x', '{{sample.text}}', 'eq'), none)).rejects.toMatchObject({
      param: 'grader.reference',
    });
    await expect(
      validateGrader(
        { type: 'text_similarity', name: 't', input: 'a', reference: 'b', evaluation_metric: 'cosine' },
        none,
      ),
    ).rejects.toThrow(/embedding model/);
  });

  it('refuses label_model outside multi and a judge the emulator does not serve', async () => {
    const label: AnyGrader = {
      type: 'label_model',
      name: 'l',
      model: 'tunekit-tiny-chat',
      input: [{ role: 'user', content: '{{sample.output_text}}' }],
      labels: ['good', 'bad'],
      passing_labels: ['good'],
    };
    await expect(
      validateGrader(label, { judge: async () => ({ text: '', promptTokens: 0, completionTokens: 0 }) }),
    ).rejects.toThrow(/only allowed inside a multi/);
    const score: Grader = {
      type: 'score_model',
      name: 's',
      model: 'nope',
      input: [{ role: 'user', content: 'x' }],
    };
    await expect(
      validateGrader(score, {
        judge: async () => ({ text: '', promptTokens: 0, completionTokens: 0 }),
        modelExists: () => false,
      }),
    ).rejects.toMatchObject({ param: 'grader.model' });
  });
});

describe('model graders', () => {
  const answers: string[] = [];
  const asked: Parameters<Judge>[0][] = [];
  const judge: Judge = async (request) => {
    asked.push(request);
    return { text: answers.shift() ?? '', promptTokens: 10, completionTokens: 5 };
  };
  const services: GraderServices = { judge, modelExists: () => true };
  const score: Grader = {
    type: 'score_model',
    name: 'judge',
    model: 'tunekit-tiny-chat',
    input: [{ role: 'user', content: 'Rate {{sample.output_text}} against {{item.answer}}' }],
    range: [0, 10],
  };

  it('score_model reads {"result": x}, a bare number, clips to the range, and counts unparsable answers', async () => {
    answers.push('{"steps": [], "result": 7.5}', ' 3 ', '{"result": 42}', 'I think it is good');
    const outcomes = await gradeBatch(
      score,
      [1, 2, 3, 4].map(() => ({ sample: sampleOf('Lima'), item: { answer: 'Lima' } })),
      services,
    );
    expect(outcomes.map((o) => o.reward)).toEqual([7.5, 3, 10, 0]);
    expect(outcomes.map((o) => o.errors.model_grader_parse_error)).toEqual([false, false, false, true]);
    expect(outcomes[0]!.usage).toEqual({
      'tunekit-tiny-chat': { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    });
    expect(asked.at(-1)!.messages[0]!.role).toBe('system');
    expect(asked.at(-1)!.messages[1]!.content).toBe('Rate Lima against Lima');
  });

  it('label_model inside multi passes on a passing label', async () => {
    answers.push('{"result": "good"}', 'Bad.', 'maybe');
    const grader: Grader = {
      type: 'multi',
      name: 'm',
      graders: {
        label: {
          type: 'label_model',
          name: 'label',
          model: 'tunekit-tiny-chat',
          input: [{ role: 'user', content: '{{sample.output_text}}' }],
          labels: ['good', 'bad'],
          passing_labels: ['good'],
        },
      },
      calculate_output: 'label',
    };
    const outcomes = await gradeBatch(
      grader,
      [0, 1, 2].map(() => ({ sample: sampleOf('x'), item: {} })),
      services,
    );
    expect(outcomes.map((o) => o.reward)).toEqual([1, 0, 0]);
    expect(outcomes[2]!.errors.model_grader_parse_error).toBe(true);
  });

  it('a judge that fails scores 0 with model_grader_server_error', async () => {
    const failing: GraderServices = {
      judge: async () => {
        throw new Error('inference died');
      },
    };
    const outcome = await gradeSample(score, 'x', { answer: 'y' }, failing);
    expect(outcome.errors).toMatchObject({
      model_grader_server_error: true,
      model_grader_server_error_details: 'inference died',
    });
  });
});

describe.skipIf(pythonUnavailable() !== undefined)('python', () => {
  const python = (source: string): Grader => ({ type: 'python', name: 'py', source });
  const fast: GraderServices = { python: { timeoutMs: 20_000 } };

  it('grades a batch in one process with sample and item', async () => {
    const grader = python(
      'def grade(sample, item):\n    print("noise")\n    return float(sample["output_text"] == item["answer"]) + len(sample.get("output_json") or []) / 10\n',
    );
    const outcomes = await gradeBatch(
      grader,
      [
        { sample: sampleOf('Lima'), item: { answer: 'Lima' } },
        { sample: sampleOf('[1, 2]'), item: { answer: 'Lima' } },
      ],
      fast,
    );
    expect(outcomes.map((o) => o.reward)).toEqual([1, 0.2]);
  });

  it('a grader that raises, returns no number, loops or uses the network scores 0 with the error', async () => {
    const cases = [{ sample: sampleOf('x'), item: {} }];
    const [raised] = await gradeBatch(python('def grade(s, i):\n    raise ValueError("bad")\n'), cases, fast);
    expect(raised!.errors).toMatchObject({ python_grader_runtime_error: true });
    expect(raised!.errors.python_grader_runtime_error_details).toMatch(/ValueError: bad/);
    const [text] = await gradeBatch(python('def grade(s, i):\n    return "1"\n'), cases, fast);
    expect(text!.errors.python_grader_runtime_error_details).toMatch(/not a number/);
    const [net] = await gradeBatch(
      python(
        'import socket\ndef grade(s, i):\n    socket.create_connection(("example.com", 80))\n    return 1.0\n',
      ),
      cases,
      fast,
    );
    expect(net!.errors.python_grader_runtime_error_details).toMatch(/network access is disabled/);
    const looping = await gradeBatch(
      python('def grade(s, i):\n    while s["output_text"] == "loop":\n        pass\n    return 0.5\n'),
      [{ sample: sampleOf('loop'), item: {} }, ...cases],
      { python: { timeoutMs: 1000 } },
    );
    expect(looping[0]).toMatchObject({
      reward: 0,
      errors: { python_grader_server_error: true, python_grader_server_error_type: 'timeout' },
    });
    expect(looping[1]!.reward).toBe(0.5);
  });

  it('validation refuses source that does not load or defines no grade', async () => {
    await expect(validateGrader(python('def grade(:\n'), fast)).rejects.toThrow(/SyntaxError/);
    await expect(validateGrader(python('x = 1\n'), fast)).rejects.toThrow(/no function grade/);
    await expect(validateGrader(python('def grade(s, i):\n    return 1\n'), fast)).resolves.toBeUndefined();
  });
});

it('GraderValidationError carries the param', () => {
  expect(new GraderValidationError('m', 'grader.x').param).toBe('grader.x');
});
