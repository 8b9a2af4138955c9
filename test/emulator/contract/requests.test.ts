import { describe, expect, it } from 'vitest';
import {
  AdapterContentParamsSchema,
  ChatCompletionCreateParamsSchema,
  errorBodyFromZod,
  FileCreateFieldsSchema,
  FileListParamsSchema,
  foldBracketQuery,
  JobCreateParamsSchema,
  JobEventListParamsSchema,
  JobListParamsSchema,
  newId,
} from '../../../emulator/contract';

const base = { model: 'gpt-4o-mini-2024-07-18', training_file: 'file-abc' };

/** The `param` the server would report for a body that fails to parse. */
function rejectedParam(value: unknown): string | null {
  const result = JobCreateParamsSchema.safeParse(value);
  if (result.success) throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
  return errorBodyFromZod(result.error).error.param;
}

describe('job create params', () => {
  it('accept a full body with every tunekit extension', () => {
    const body = {
      ...base,
      validation_file: null,
      suffix: 'x'.repeat(64),
      seed: 2147483647,
      metadata: { team: 'ml' },
      method: {
        type: 'supervised',
        supervised: {
          hyperparameters: {
            n_epochs: 3,
            batch_size: 'auto',
            learning_rate_multiplier: 'auto',
            learning_rate: 2e-4,
            lr_scheduler: 'cosine',
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            max_grad_norm: 1,
            max_seq_length: 2048,
            packing: true,
          },
        },
      },
      training_type: {
        type: 'lora',
        r: 16,
        alpha: 32,
        dropout: 0.05,
        target_modules: 'all-linear',
        use_rslora: true,
      },
      n_checkpoints: 3,
      integrations: [{ type: 'wandb', wandb: { project: 'p' } }],
    };
    expect(JobCreateParamsSchema.parse(body)).toEqual(body);
    expect(JobCreateParamsSchema.parse({ ...base, training_type: { type: 'full' } }).training_type).toEqual({
      type: 'full',
    });
  });

  it('carries dpo and reinforcement methods as OpenAI does', () => {
    expect(
      JobCreateParamsSchema.safeParse({
        ...base,
        method: { type: 'dpo', dpo: { hyperparameters: { beta: 0.1 } } },
      }).success,
    ).toBe(true);
    const grader = {
      type: 'string_check',
      name: 'g',
      input: '{{sample.output_text}}',
      reference: 'x',
      operation: 'eq',
    };
    expect(
      JobCreateParamsSchema.safeParse({
        ...base,
        method: { type: 'reinforcement', reinforcement: { grader } },
      }).success,
    ).toBe(true);
  });

  it.each([
    [
      'a negative learning rate',
      { method: { type: 'supervised', supervised: { hyperparameters: { learning_rate: -1 } } } },
      'method.supervised.hyperparameters.learning_rate',
    ],
    [
      'n_epochs 0',
      { method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 0 } } } },
      'method.supervised.hyperparameters.n_epochs',
    ],
    [
      'batch_size as a string',
      { method: { type: 'supervised', supervised: { hyperparameters: { batch_size: '8' } } } },
      'method.supervised.hyperparameters.batch_size',
    ],
    [
      'an unknown lr_scheduler',
      { method: { type: 'supervised', supervised: { hyperparameters: { lr_scheduler: 'step' } } } },
      'method.supervised.hyperparameters.lr_scheduler',
    ],
    [
      'warmup_ratio above 1',
      { method: { type: 'supervised', supervised: { hyperparameters: { warmup_ratio: 1.5 } } } },
      'method.supervised.hyperparameters.warmup_ratio',
    ],
    [
      'an unknown hyperparameter',
      { method: { type: 'supervised', supervised: { hyperparameters: { epochs: 3 } } } },
      'method.supervised.hyperparameters.epochs',
    ],
    [
      'a settings key that does not match the type',
      { method: { type: 'supervised', dpo: {} } },
      'method.dpo',
    ],
    ['an unknown method type', { method: { type: 'ppo' } }, 'method.type'],
    ['a suffix of 65 characters', { suffix: 'x'.repeat(65) }, 'suffix'],
    ['a seed above 2^31-1', { seed: 2147483648 }, 'seed'],
    ['a training_type of unknown type', { training_type: { type: 'qlora' } }, 'training_type.type'],
    ['a LoRA rank of 0', { training_type: { type: 'lora', r: 0 } }, 'training_type.r'],
    ['a LoRA dropout of 1', { training_type: { type: 'lora', dropout: 1 } }, 'training_type.dropout'],
    ['extra keys on full training', { training_type: { type: 'full', r: 8 } }, 'training_type.r'],
    [
      '17 metadata pairs',
      { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) },
      'metadata',
    ],
    ['a metadata value over 512 characters', { metadata: { k: 'v'.repeat(513) } }, 'metadata.k'],
    ['n_checkpoints 0', { n_checkpoints: 0 }, 'n_checkpoints'],
    ['an unknown top-level argument', { learning_rate: 1e-4 }, 'learning_rate'],
  ])('reject %s', (_name, extra, param) => {
    expect(rejectedParam({ ...base, ...extra })).toBe(param);
  });

  it('reports a missing required field as such', () => {
    const result = JobCreateParamsSchema.safeParse({ model: 'm' });
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(errorBodyFromZod(result.error)).toEqual({
      error: {
        message: expect.stringContaining("'training_file'"),
        type: 'invalid_request_error',
        param: 'training_file',
        code: 'missing_required_parameter',
      },
    });
  });
});

describe('query parameters', () => {
  it('coerce and bound limit', () => {
    expect(FileListParamsSchema.parse({ limit: '50', order: 'asc' })).toEqual({ limit: 50, order: 'asc' });
    expect(FileListParamsSchema.safeParse({ limit: '0' }).success).toBe(false);
    expect(JobListParamsSchema.safeParse({ limit: '101' }).success).toBe(false);
    expect(JobListParamsSchema.safeParse({ limit: 'ten' }).error?.issues[0]?.path).toEqual(['limit']);
  });

  it('ignore unknown query parameters', () => {
    expect(JobListParamsSchema.parse({ after: 'ftjob-x', unknown: '1' })).toEqual({ after: 'ftjob-x' });
  });

  it('fold metadata[k]=v into the metadata filter, and metadata= into null', () => {
    const folded = foldBracketQuery({ 'metadata[team]': 'ml', 'metadata[env]': 'dev', limit: '5' });
    expect(JobListParamsSchema.parse(folded)).toEqual({ metadata: { team: 'ml', env: 'dev' }, limit: 5 });
    expect(JobListParamsSchema.parse(foldBracketQuery({ metadata: '' }))).toEqual({ metadata: null });
  });

  it('read stream=true|false on the events route as a boolean', () => {
    expect(JobEventListParamsSchema.parse({ stream: 'true' })).toEqual({ stream: true });
    expect(JobEventListParamsSchema.parse({ stream: 'false' })).toEqual({ stream: false });
    expect(JobEventListParamsSchema.safeParse({ stream: 'maybe' }).success).toBe(false);
  });

  it('accept only adapter|merged as the adapter content format', () => {
    expect(AdapterContentParamsSchema.parse({ format: 'merged' })).toEqual({ format: 'merged' });
    expect(AdapterContentParamsSchema.safeParse({ format: 'gguf' }).success).toBe(false);
  });
});

describe('file upload fields', () => {
  it('read multipart text fields, with expires_after folded from brackets', () => {
    const fields = foldBracketQuery({
      purpose: 'fine-tune',
      'expires_after[anchor]': 'created_at',
      'expires_after[seconds]': '3600',
    });
    expect(FileCreateFieldsSchema.parse(fields)).toEqual({
      purpose: 'fine-tune',
      expires_after: { anchor: 'created_at', seconds: 3600 },
    });
  });

  it('reject an unknown purpose and a too-short expiry', () => {
    const result = FileCreateFieldsSchema.safeParse({
      purpose: 'training',
      expires_after: { anchor: 'created_at', seconds: '60' },
    });
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toEqual([
      'purpose',
      'expires_after.seconds',
    ]);
  });
});

describe('chat completion params', () => {
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Capital of France?' },
  ];

  it('accept the sampling, stop, logprobs and streaming options', () => {
    const body = {
      model: 'ft:gpt-4o-mini:org::abc',
      messages,
      stream: true,
      stream_options: { include_usage: true },
      logprobs: true,
      top_logprobs: 5,
      seed: 42,
      stop: ['\n', 'END'],
      n: 2,
      max_tokens: 16,
      max_completion_tokens: 16,
      temperature: 0,
      top_p: 0.9,
    };
    expect(ChatCompletionCreateParamsSchema.parse(body)).toEqual(body);
  });

  it.each([
    ['top_logprobs 21', { top_logprobs: 21 }, 'top_logprobs'],
    ['temperature 3', { temperature: 3 }, 'temperature'],
    ['five stop sequences', { stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    ['n 0', { n: 0 }, 'n'],
    ['an unknown role', { messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
    [
      'a tool message without tool_call_id',
      { messages: [{ role: 'tool', content: 'x' }] },
      'messages[0].tool_call_id',
    ],
    ['no messages', { messages: [] }, 'messages'],
  ])('reject %s', (_name, extra, param) => {
    const result = ChatCompletionCreateParamsSchema.safeParse({ model: 'm', messages, ...extra });
    expect(result.success).toBe(false);
    if (!result.success) expect(errorBodyFromZod(result.error).error.param).toBe(param);
  });
});

describe('ids', () => {
  it('carry the kind prefix and 24 alphanumerics', () => {
    expect(newId('fineTuningJob')).toMatch(/^ftjob-[A-Za-z0-9]{24}$/);
    expect(newId('fineTuningJobCheckpoint')).toMatch(/^ftckpt_[A-Za-z0-9]{24}$/);
    expect(newId('adapter')).toMatch(/^adapter-[A-Za-z0-9]{24}$/);
    expect(newId('file')).not.toBe(newId('file'));
  });
});
