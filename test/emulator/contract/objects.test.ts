import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  AdapterSchema,
  ChatCompletionChunkSchema,
  ChatCompletionSchema,
  ErrorBodySchema,
  FileListSchema,
  FileObjectSchema,
  FineTuningJobCheckpointListSchema,
  FineTuningJobCheckpointSchema,
  FineTuningJobEventListSchema,
  FineTuningJobEventSchema,
  FineTuningJobSchema,
  HealthResponseSchema,
  ModelDeletedSchema,
  ModelListSchema,
} from '../../../emulator/contract';

/** The issue paths of a failed parse, as dotted strings. */
function failurePaths(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value);
  expect(result.success).toBe(false);
  return result.error ? result.error.issues.map((issue) => issue.path.join('.')) : [];
}

// Shapes from shared/reference/openai-fine-tuning.md (§2, §7).
const succeededJob = {
  object: 'fine_tuning.job',
  id: 'ftjob-abc123abc123abc123abc123',
  model: 'gpt-4o-mini-2024-07-18',
  created_at: 1721764800,
  finished_at: 1721767201,
  fine_tuned_model: 'ft:gpt-4o-mini-2024-07-18:personal:pinolo:9uJPbR69',
  organization_id: 'org-123',
  result_files: ['file-abc123abc123abc123abc123'],
  status: 'succeeded',
  validation_file: null,
  training_file: 'file-def456def456def456def456',
  hyperparameters: { n_epochs: 3, batch_size: 1, learning_rate_multiplier: 1.8 },
  trained_tokens: 379446,
  error: null,
  seed: 683058546,
  estimated_finish: null,
  integrations: [],
  method: {
    type: 'supervised',
    supervised: { hyperparameters: { n_epochs: 3, batch_size: 1, learning_rate_multiplier: 1.8 } },
  },
  metadata: null,
  user_provided_suffix: 'pinolo',
};

const failedJob = {
  ...succeededJob,
  id: 'ftjob-failed0failed0failed0fa',
  status: 'failed',
  fine_tuned_model: null,
  finished_at: null,
  trained_tokens: null,
  result_files: [],
  hyperparameters: null,
  error: {
    code: 'invalid_n_examples',
    message: 'Training file has 7 example(s), but must have at least 10 examples',
    param: 'training_file',
  },
};

const pausedJob = {
  ...succeededJob,
  id: 'ftjob-paused0paused0paused0pa',
  status: 'paused',
  fine_tuned_model: null,
  finished_at: null,
  trained_tokens: null,
  result_files: [],
  hyperparameters: { n_epochs: 'auto', batch_size: 'auto', learning_rate_multiplier: 'auto' },
  training_type: { type: 'lora', r: 8, alpha: 16, dropout: 0, target_modules: ['q_proj', 'v_proj'] },
  n_checkpoints: 3,
};

const messageEvent = {
  object: 'fine_tuning.job.event',
  id: 'ftevent-abc123abc123abc123abc123',
  created_at: 1721764800,
  level: 'info',
  message: 'Fine-tuning job started',
  type: 'message',
  data: null,
};

const metricsEvent = {
  object: 'fine_tuning.job.event',
  id: 'ftevent-def456def456def456def456',
  created_at: 1721764900,
  level: 'info',
  message: 'Step 300/300: training loss=0.15, validation loss=0.27, full validation loss=0.40',
  type: 'metrics',
  data: {
    step: 300,
    train_loss: 0.1501,
    valid_loss: 0.2712,
    total_steps: 300,
    full_valid_loss: 0.4031,
    train_mean_token_accuracy: 0.95,
    valid_mean_token_accuracy: 0.9,
    full_valid_mean_token_accuracy: 0.88,
  },
};

const checkpoint = {
  object: 'fine_tuning.job.checkpoint',
  id: 'ftckpt_zc4Q7MP6XxulcVzj4MZdwsAB',
  created_at: 1721764867,
  fine_tuned_model_checkpoint: 'ft:gpt-4o-mini-2024-07-18:my-org:custom-suffix:96olL566:ckpt-step-2000',
  fine_tuning_job_id: 'ftjob-abc123abc123abc123abc123',
  metrics: { full_valid_loss: 0.134, full_valid_mean_token_accuracy: 0.874 },
  step_number: 2000,
};

const file = {
  id: 'file-abc123abc123abc123abc123',
  object: 'file',
  bytes: 120000,
  created_at: 1677610602,
  filename: 'mydata.jsonl',
  purpose: 'fine-tune',
  status: 'processed',
  status_details: null,
};

const chatCompletion = {
  id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
  object: 'chat.completion',
  created: 1741569952,
  model: 'ft:gpt-4o-mini-2024-07-18:personal:pinolo:9uJPbR69',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Paris.', refusal: null },
      finish_reason: 'stop',
      logprobs: {
        content: [
          {
            token: 'Paris',
            logprob: -0.01,
            bytes: [80, 97, 114, 105, 115],
            top_logprobs: [{ token: 'Paris', logprob: -0.01, bytes: [80, 97, 114, 105, 115] }],
          },
        ],
        refusal: null,
      },
    },
  ],
  usage: { prompt_tokens: 19, completion_tokens: 2, total_tokens: 21 },
  system_fingerprint: 'fp_44709d6fcb',
};

const chunk = {
  id: 'chatcmpl-123',
  object: 'chat.completion.chunk',
  created: 1694268190,
  model: 'gpt-4o-mini',
  system_fingerprint: 'fp_44709d6fcb',
  choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, logprobs: null, finish_reason: null }],
};

const adapter = {
  id: 'adapter-abc123abc123abc123abc123',
  object: 'adapter',
  fine_tuning_job_id: 'ftjob-abc123abc123abc123abc123',
  fine_tuned_model: 'ft:SmolLM2-135M-Instruct:tunekit:demo:ab12CD34',
  base_model: 'SmolLM2-135M-Instruct',
  step: 300,
  peft_type: 'LORA',
  r: 8,
  lora_alpha: 16,
  target_modules: ['q_proj', 'v_proj'],
  bytes: 1843200,
  created_at: 1721767201,
};

describe('response objects from the reference parse', () => {
  it.each([
    ['a succeeded job', FineTuningJobSchema, succeededJob],
    ['a failed job with its error', FineTuningJobSchema, failedJob],
    ['a paused job with LoRA settings', FineTuningJobSchema, pausedJob],
    ['a message event', FineTuningJobEventSchema, messageEvent],
    ['a metrics event', FineTuningJobEventSchema, metricsEvent],
    ['a checkpoint', FineTuningJobCheckpointSchema, checkpoint],
    ['a file', FileObjectSchema, file],
    ['a chat completion with logprobs', ChatCompletionSchema, chatCompletion],
    ['a chat completion chunk', ChatCompletionChunkSchema, chunk],
    ['an adapter', AdapterSchema, adapter],
    ['a health response', HealthResponseSchema, { status: 'ok', version: '0.1.0', cpu: 'avx512' }],
    [
      'a deleted model',
      ModelDeletedSchema,
      { id: 'ft:gpt-4o-mini:org::abc', object: 'model', deleted: true },
    ],
  ] as const)('%s', (_name, schema, value) => {
    expect(schema.parse(value)).toEqual(value);
  });

  it('parses list envelopes with and without first/last ids', () => {
    expect(
      FileListSchema.parse({
        object: 'list',
        data: [file],
        first_id: file.id,
        last_id: file.id,
        has_more: false,
      }),
    ).toBeTruthy();
    expect(
      FineTuningJobCheckpointListSchema.parse({
        object: 'list',
        data: [],
        first_id: null,
        last_id: null,
        has_more: false,
      }),
    ).toBeTruthy();
    expect(
      FineTuningJobEventListSchema.parse({
        object: 'list',
        data: [metricsEvent, messageEvent],
        has_more: true,
      }),
    ).toBeTruthy();
    expect(
      ModelListSchema.parse({
        object: 'list',
        data: [{ id: 'gpt-4o-mini', object: 'model', created: 1, owned_by: 'system' }],
      }),
    ).toBeTruthy();
  });

  it('parses the error body with all four keys', () => {
    const body = {
      error: {
        message: 'No such File object: file-x',
        type: 'invalid_request_error',
        param: 'id',
        code: null,
      },
    };
    expect(ErrorBodySchema.parse(body)).toEqual(body);
    expect(failurePaths(ErrorBodySchema, { error: { message: 'x', type: 'y', param: null } })).toEqual([
      'error.code',
    ]);
  });
});

describe('wrong objects fail at the right path', () => {
  it('rejects an unknown job status', () => {
    expect(failurePaths(FineTuningJobSchema, { ...succeededJob, status: 'done' })).toEqual(['status']);
  });

  it('rejects a job id with the wrong prefix', () => {
    expect(failurePaths(FineTuningJobSchema, { ...succeededJob, id: 'ft-abc' })).toEqual(['id']);
  });

  it('requires the nullable job fields to be present', () => {
    const { trained_tokens: _dropped, ...withoutTokens } = succeededJob;
    expect(failurePaths(FineTuningJobSchema, withoutTokens)).toEqual(['trained_tokens']);
  });

  it('rejects a failed job whose error lacks a code', () => {
    expect(failurePaths(FineTuningJobSchema, { ...failedJob, error: { message: 'x', param: null } })).toEqual(
      ['error.code'],
    );
  });

  it('rejects a checkpoint id written with a hyphen', () => {
    expect(failurePaths(FineTuningJobCheckpointSchema, { ...checkpoint, id: 'ftckpt-abc' })).toEqual(['id']);
  });

  it('rejects an event level outside info|warn|error', () => {
    expect(failurePaths(FineTuningJobEventSchema, { ...messageEvent, level: 'debug' })).toEqual(['level']);
  });

  it('rejects a file with a fractional size and an unknown purpose', () => {
    expect(failurePaths(FileObjectSchema, { ...file, bytes: 1.5, purpose: 'training' })).toEqual([
      'bytes',
      'purpose',
    ]);
  });

  it('rejects a chat completion whose choice has no finish_reason', () => {
    const choice = { ...chatCompletion.choices[0], finish_reason: undefined };
    expect(failurePaths(ChatCompletionSchema, { ...chatCompletion, choices: [choice] })).toEqual([
      'choices.0.finish_reason',
    ]);
  });

  it('rejects a chunk with the completion object type', () => {
    expect(failurePaths(ChatCompletionChunkSchema, { ...chunk, object: 'chat.completion' })).toEqual([
      'object',
    ]);
  });

  it('rejects an adapter with a non-integer rank and a string target_modules', () => {
    expect(failurePaths(AdapterSchema, { ...adapter, r: 8.5, target_modules: 'q_proj' })).toEqual([
      'r',
      'target_modules',
    ]);
  });
});
