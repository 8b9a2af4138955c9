/**
 * The SDK with `provider: 'openai'`: OpenAI's wire format is the one tunekit's extends, so requests go out
 * unchanged to `https://api.openai.com/v1` with `OPENAI_API_KEY`; tunekit's extensions and adapters throw
 * UnsupportedFeatureError before any request; events are followed by polling (OpenAI has no event stream).
 */
import { http } from 'msw';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Tunekit, UnsupportedFeatureError } from '../../../src/index';
import { json, useMswServer } from '../helpers';

const BASE = 'https://api.openai.com/v1';
const server = useMswServer();
let requests: Request[];
let saved: NodeJS.ProcessEnv;
beforeEach(() => {
  saved = { ...process.env };
  delete process.env.OPENAI_BASE_URL;
  process.env.OPENAI_API_KEY = 'sk-env';
  requests = [];
  server.events.on('request:start', ({ request }) => {
    requests.push(request.clone());
  });
});
afterEach(() => {
  server.events.removeAllListeners();
  process.env = saved;
});
const client = () => new Tunekit({ provider: 'openai', maxRetries: 0 });

const JOB = {
  id: 'ftjob-1',
  object: 'fine_tuning.job',
  created_at: 1,
  error: null,
  fine_tuned_model: null,
  finished_at: null,
  hyperparameters: null,
  model: 'gpt-4o-mini-2024-07-18',
  organization_id: 'org-1',
  result_files: [],
  seed: 1,
  status: 'running',
  trained_tokens: null,
  training_file: 'file-1',
  validation_file: null,
};
const event = (id: string, message: string) => ({
  id,
  object: 'fine_tuning.job.event',
  created_at: 1,
  level: 'info',
  message,
  type: 'message',
});

describe('the openai provider', () => {
  it('sends OpenAI’s own body to /fine_tuning/jobs with OPENAI_API_KEY', async () => {
    let body: unknown;
    server.use(
      http.post(`${BASE}/fine_tuning/jobs`, async ({ request }) => {
        body = await request.json();
        return json(JOB);
      }),
    );
    const params = {
      model: JOB.model,
      training_file: 'file-1',
      suffix: 'qa',
      method: { type: 'dpo' as const, dpo: { hyperparameters: { beta: 0.2, n_epochs: 2 } } },
    };
    expect((await client().fineTuning.jobs.create(params)).id).toBe('ftjob-1');
    expect(body).toEqual(params);
    expect(requests[0]!.headers.get('authorization')).toBe('Bearer sk-env');
    expect(requests[0]!.headers.get('idempotency-key')).toEqual(expect.any(String));
  });

  it('refuses tunekit’s extensions and adapters before sending', async () => {
    const refused: Parameters<Tunekit['fineTuning']['jobs']['create']>[0][] = [
      { model: 'm', training_file: 'f', training_type: { type: 'lora', r: 8 } },
      { model: 'm', training_file: 'f', n_checkpoints: 3 },
      { model: 'm', training_file: 'f', method: { type: 'kto' } },
      {
        model: 'm',
        training_file: 'f',
        method: { type: 'supervised', supervised: { hyperparameters: { learning_rate: 1e-4 } } },
      },
      {
        model: 'm',
        training_file: 'f',
        method: { type: 'dpo', dpo: { hyperparameters: { loss_type: 'ipo' } } },
      },
      { model: 'm', training_file: 'f', together: { n_evals: 2 } },
    ];
    for (const params of refused) {
      expect(() => client().fineTuning.jobs.create(params), JSON.stringify(params)).toThrow(
        UnsupportedFeatureError,
      );
    }
    await expect(client().adapters.download('a', '/tmp/x')).rejects.toThrow(
      /adapters\.download is not supported by the openai provider/,
    );
    expect(() => client().adapters.list()).toThrow(UnsupportedFeatureError);
    expect(requests).toEqual([]);
  });

  it('wait follows the events by polling the list and the job, oldest first, until the job ends', async () => {
    let polls = 0;
    server.use(
      http.get(`${BASE}/fine_tuning/jobs/ftjob-1`, () => {
        polls++;
        return json({ ...JOB, status: polls < 3 ? 'running' : 'succeeded' });
      }),
      http.get(`${BASE}/fine_tuning/jobs/ftjob-1/events`, () =>
        json({
          object: 'list',
          data: [event('e3', 'done'), event('e2', 'step'), event('e1', 'queued')].slice(
            polls < 2 ? 2 : polls < 3 ? 1 : 0,
          ),
          has_more: false,
        }),
      ),
      http.post(`${BASE}/fine_tuning/jobs/ftjob-1/pause`, () => json({ ...JOB, status: 'paused' })),
    );
    const seen: string[] = [];
    const job = await client().fineTuning.jobs.wait('ftjob-1', {
      pollInterval: 1,
      onEvent: (e) => seen.push(e.message),
    });
    expect(seen).toEqual(['queued', 'step', 'done']);
    expect(job.status).toBe('succeeded');
    expect(requests.every((r) => r.headers.get('accept') === 'application/json')).toBe(true);
    expect((await client().fineTuning.jobs.pause('ftjob-1')).status).toBe('paused');
  });
});
