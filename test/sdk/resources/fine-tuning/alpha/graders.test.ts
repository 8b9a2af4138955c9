import { http } from 'msw';
import { describe, expect, it } from 'vitest';
import { BadRequestError, type Grader } from '../../../../../src/index';
import { BASE_URL, json, makeClient, useMswServer } from '../../../helpers';

const server = useMswServer();

const grader: Grader = {
  type: 'multi',
  name: 'combined',
  graders: {
    exact: {
      type: 'string_check',
      name: 'exact',
      input: '{{sample.output_text}}',
      reference: '{{item.a}}',
      operation: 'eq',
    },
  },
  calculate_output: 'exact',
};

describe('fineTuning.alpha.graders', () => {
  it('run: POST /fine_tuning/alpha/graders/run with grader, model_sample and item', async () => {
    let body: unknown;
    server.use(
      http.post(`${BASE_URL}/fine_tuning/alpha/graders/run`, async ({ request }) => {
        body = await request.json();
        return json({
          reward: 1,
          metadata: {},
          sub_rewards: { exact: 1 },
          model_grader_token_usage_per_model: {},
        });
      }),
    );
    const result = await makeClient().fineTuning.alpha.graders.run({
      grader,
      model_sample: 'x',
      item: { a: 'x' },
    });
    expect(body).toEqual({ grader, model_sample: 'x', item: { a: 'x' } });
    expect(result.sub_rewards).toEqual({ exact: 1 });
  });

  it('validate: a refused grader is a BadRequestError with its param', async () => {
    server.use(
      http.post(`${BASE_URL}/fine_tuning/alpha/graders/validate`, () =>
        json(
          {
            error: {
              message: 'Invalid grader',
              type: 'invalid_request_error',
              param: 'grader.input',
              code: 'invalid_grader',
            },
          },
          { status: 400 },
        ),
      ),
    );
    const error = await makeClient({ maxRetries: 0 })
      .fineTuning.alpha.graders.validate({ grader })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).param).toBe('grader.input');
  });
});
