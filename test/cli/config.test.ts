/** The pure half of `tunekit run`: Axolotl keys → job parameters, and the dataset conversions. */
import { describe, expect, it } from 'vitest';
import { ConfigError, nearestKey, parseRunConfig, toJobParams } from '../../cli/config';
import { alpacaPrompt, convertRow, splitValidation } from '../../cli/datasets';

const base = { base_model: 'tunekit-tiny-chat', datasets: [{ path: 'a.jsonl', type: 'chat_template' }] };

function configError(raw: unknown): ConfigError {
  try {
    parseRunConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseRunConfig', () => {
  it('maps Axolotl keys onto the job body', () => {
    const config = parseRunConfig({
      ...base,
      adapter: 'lora',
      lora_r: 8,
      lora_alpha: 16,
      lora_dropout: 0.05,
      lora_target_modules: ['q_proj', 'v_proj'],
      num_epochs: 3,
      learning_rate: 0.0002,
      micro_batch_size: 2,
      gradient_accumulation_steps: 4,
      sequence_len: 512,
      sample_packing: true,
      lr_scheduler: 'cosine',
      warmup_ratio: 0.1,
      weight_decay: 0.01,
      max_grad_norm: 0.5,
      seed: 42,
    });
    expect(toJobParams(config, 100)).toEqual({
      model: 'tunekit-tiny-chat',
      seed: 42,
      training_type: { type: 'lora', r: 8, alpha: 16, dropout: 0.05, target_modules: ['q_proj', 'v_proj'] },
      method: {
        type: 'supervised',
        supervised: {
          hyperparameters: {
            batch_size: 8,
            n_epochs: 3,
            learning_rate: 0.0002,
            lr_scheduler: 'cosine',
            warmup_ratio: 0.1,
            weight_decay: 0.01,
            max_grad_norm: 0.5,
            max_seq_length: 512,
            packing: true,
          },
        },
      },
    });
  });

  it('leaves unset hyperparameters to the server, and no adapter means full fine-tuning (as in Axolotl)', () => {
    expect(toJobParams(parseRunConfig(base), 20)).toEqual({
      model: 'tunekit-tiny-chat',
      training_type: { type: 'full' },
      method: { type: 'supervised', supervised: { hyperparameters: {} } },
    });
    const linear = toJobParams(parseRunConfig({ ...base, adapter: 'lora', lora_target_linear: true }), 20);
    expect(linear.training_type).toEqual({ type: 'lora', target_modules: 'all-linear' });
  });

  it('turns warmup_steps into a ratio of the run’s steps, and refuses it when the steps are unknown', () => {
    const config = parseRunConfig({ ...base, warmup_steps: 3, num_epochs: 2, micro_batch_size: 4 });
    // 10 examples / batch 4 = 3 steps per epoch, 6 in all.
    expect(toJobParams(config, 10).method.supervised?.hyperparameters?.warmup_ratio).toBe(0.5);
    expect(() => toJobParams(parseRunConfig({ ...base, warmup_steps: 3 }), 10)).toThrow(
      /warmup_steps: needs/,
    );
  });

  it('names an unknown key and the nearest valid one', () => {
    const error = configError({ ...base, lora_rr: 8 });
    expect(error.key).toBe('lora_rr');
    expect(error.message).toContain("did you mean 'lora_r'?");
    const nested = configError({ ...base, datasets: [{ path: 'a.jsonl', type: 'alpaca', tpye: 'x' }] });
    expect(nested.message).toContain("datasets[0].tpye: unknown key (did you mean 'type'?)");
    expect(nearestKey('zzzzzzzz', ['lora_r'])).toBeUndefined();
  });

  it('names a wrong type with the value it got, and a missing required key', () => {
    expect(configError({ ...base, num_epochs: 'three' }).message).toBe(
      'num_epochs: expected a number, got the string "three"',
    );
    expect(configError({ ...base, num_epochs: 2.5 }).key).toBe('num_epochs');
    expect(configError({ ...base, datasets: [{ path: 'a.jsonl', type: 'jsonl' }] }).message).toBe(
      'datasets[0].type: expected one of chat_template, alpaca, sharegpt, chat_template.default, ' +
        'chat_template.argilla_chat or a mapping (Axolotl\'s user_defined type), got the string "jsonl"',
    );
    expect(configError({ datasets: base.datasets }).message).toBe('base_model: required key is missing');
    expect(configError('just text').message).toContain('must be a YAML mapping');
  });

  it('refuses contradictions: LoRA keys without the adapter, both warmups, mixed alpaca and chat data', () => {
    expect(configError({ ...base, lora_r: 8 }).message).toBe("lora_r: only allowed with 'adapter: lora'");
    expect(configError({ ...base, warmup_ratio: 0.1, warmup_steps: 2 }).key).toBe('warmup_steps');
    expect(
      configError({
        ...base,
        datasets: [...base.datasets, { path: 'b.jsonl', type: 'alpaca' }],
      }).key,
    ).toBe('datasets');
  });

  it('maps rl: dpo and rl: kto onto the dpo and kto methods, with beta and the KTO weights', () => {
    const dpo = parseRunConfig({
      ...base,
      rl: 'dpo',
      beta: 0.2,
      num_epochs: 2,
      datasets: [{ path: 'p.jsonl', type: 'chat_template.default' }],
    });
    expect(toJobParams(dpo, 10).method).toEqual({
      type: 'dpo',
      dpo: { hyperparameters: { beta: 0.2, n_epochs: 2 } },
    });
    const kto = parseRunConfig({
      ...base,
      rl: 'kto',
      rl_beta: 0.3,
      kto_undesirable_weight: 1.5,
      datasets: [{ path: 'k.jsonl', type: { field_completion: 'answer' } }],
    });
    expect(toJobParams(kto, 10).method).toEqual({
      type: 'kto',
      kto: { hyperparameters: { beta: 0.3, undesirable_weight: 1.5 } },
    });
  });

  it('refuses rl keys and dataset types that do not fit the method', () => {
    const dpoData = [{ path: 'p.jsonl', type: 'chat_template.default' }];
    expect(configError({ ...base, beta: 0.1 }).key).toBe('beta');
    expect(configError({ ...base, rl: 'dpo', datasets: dpoData, beta: 0.1, rl_beta: 0.1 }).key).toBe(
      'rl_beta',
    );
    expect(configError({ ...base, rl: 'dpo', datasets: dpoData, kto_desirable_weight: 2 }).message).toBe(
      "kto_desirable_weight: only allowed with 'rl: kto'",
    );
    expect(configError({ ...base, rl: 'dpo', datasets: dpoData, sample_packing: true }).key).toBe(
      'sample_packing',
    );
    expect(configError({ ...base, rl: 'dpo' }).message).toBe(
      "datasets[0].type: 'chat_template' does not fit 'rl: dpo'; use chat_template.default, " +
        'chat_template.argilla_chat or a user_defined mapping',
    );
    expect(configError({ ...base, datasets: dpoData }).message).toContain(
      "'chat_template.default' does not fit supervised fine-tuning (no rl)",
    );
    expect(configError({ ...base, rl: 'kto', datasets: dpoData }).key).toBe('datasets[0].type');
    const userDefined = (type: Record<string, string>) => [{ path: 'k.jsonl', type }];
    expect(configError({ ...base, rl: 'kto', datasets: userDefined({ field_chosen: 'c' }) }).message).toBe(
      "datasets[0].type.field_chosen: not used by 'rl: kto'",
    );
    expect(
      configError({ ...base, rl: 'dpo', datasets: userDefined({ prompt_format: 'Q: {question}' }) }).message,
    ).toBe('datasets[0].type.prompt_format: unknown placeholder {question}; it may use {prompt}, {system}');
    expect(
      configError({ ...base, rl: 'dpo', datasets: userDefined({ field_promt: 'q' }) }).message,
    ).toContain("datasets[0].type.field_promt: unknown key (did you mean 'field_prompt'?)");
    expect(configError({ ...base, datasets: [{ ...base.datasets[0], field_chosen: 'c' }] }).key).toBe(
      'datasets[0].field_chosen',
    );
  });
});

describe('dataset conversion', () => {
  const fail = (problem: string): never => {
    throw new Error(problem);
  };

  it('renders alpaca rows with Axolotl’s prompt, as prompt/completion', () => {
    expect(
      convertRow({ path: 'x', type: 'alpaca' }, { instruction: 'Add', input: '1 2', output: '3' }, fail),
    ).toEqual({
      prompt: alpacaPrompt('Add', '1 2'),
      completion: '3',
    });
    expect(alpacaPrompt('Say hi', '')).toBe(
      'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
        '### Instruction:\nSay hi\n\n### Response:\n',
    );
    expect(() => convertRow({ path: 'x', type: 'alpaca' }, { instruction: 'Add' }, fail)).toThrow(
      'missing `output`',
    );
  });

  it('maps ShareGPT speakers and chat_template property mappings to chat messages', () => {
    const conversations = [
      { from: 'system', value: 'Be brief.' },
      { from: 'human', value: 'Hi' },
      { from: 'gpt', value: 'Hello' },
    ];
    const expected = {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
      ],
    };
    expect(convertRow({ path: 'x', type: 'sharegpt' }, { conversations }, fail)).toEqual(expected);
    const mapped = {
      path: 'x',
      type: 'chat_template' as const,
      field_messages: 'conversations',
      message_property_mappings: { role: 'from', content: 'value' },
    };
    expect(convertRow(mapped, { conversations }, fail)).toEqual(expected);
    expect(() =>
      convertRow({ path: 'x', type: 'sharegpt' }, { conversations: [{ from: 'human', value: 'Hi' }] }, fail),
    ).toThrow('no assistant turn');
  });

  it('turns chat_template.default and argilla_chat rows into OpenAI preference rows', () => {
    const expected = {
      input: { messages: [{ role: 'user', content: 'Capital of Peru?' }] },
      preferred_output: [{ role: 'assistant', content: 'Lima' }],
      non_preferred_output: [{ role: 'assistant', content: 'Quito' }],
    };
    const dflt = { path: 'x', type: 'chat_template.default' as const };
    const messages = [{ role: 'user', content: 'Capital of Peru?' }];
    expect(convertRow(dflt, { messages, chosen: 'Lima', rejected: 'Quito' }, fail, 'dpo')).toEqual(expected);
    expect(
      convertRow(
        dflt,
        {
          messages: 'Capital of Peru?',
          chosen: { role: 'assistant', content: 'Lima' },
          rejected: [{ role: 'assistant', content: 'Quito' }],
        },
        fail,
        'dpo',
      ),
    ).toEqual(expected);
    const mapped = {
      path: 'x',
      type: 'chat_template.default' as const,
      field_messages: 'conversation',
      field_chosen: 'good',
      field_rejected: 'bad',
      message_property_mappings: { role: 'from', content: 'value' },
      roles: { user: ['asker'], assistant: ['bot'] },
    };
    expect(
      convertRow(
        mapped,
        {
          conversation: [{ from: 'asker', value: 'Capital of Peru?' }],
          good: { from: 'bot', value: 'Lima' },
          bad: { from: 'bot', value: 'Quito' },
        },
        fail,
        'dpo',
      ),
    ).toEqual(expected);
    const argilla = { path: 'x', type: 'chat_template.argilla_chat' as const };
    const turn = (content: string) => [...messages, { role: 'assistant', content }];
    expect(convertRow(argilla, { chosen: turn('Lima'), rejected: turn('Quito') }, fail, 'dpo')).toEqual(
      expected,
    );
    expect(() => convertRow(dflt, { messages, chosen: 'Lima' }, fail, 'dpo')).toThrow('missing `rejected`');
  });

  it('fills user_defined formats into TRL plain-text rows (dpo pairs, kto rows with their label)', () => {
    const dpo = {
      path: 'x',
      type: {
        field_prompt: 'q',
        prompt_format: '{system}\nQ: {prompt}\nA: {{short}}',
        chosen_format: ' {chosen}',
      },
    };
    expect(
      convertRow(dpo, { q: 'Peru?', system: 'Be brief.', chosen: 'Lima', rejected: 'Quito' }, fail, 'dpo'),
    ).toEqual({ prompt: 'Be brief.\nQ: Peru?\nA: {short}', chosen: ' Lima', rejected: 'Quito' });
    const kto = { path: 'x', type: { field_completion: 'answer', field_label: 'good' } };
    expect(convertRow(kto, { prompt: 'Peru?', answer: 'Lima', good: true }, fail, 'kto')).toEqual({
      prompt: 'Peru?',
      completion: 'Lima',
      label: true,
    });
    expect(() => convertRow(kto, { prompt: 'Peru?', answer: 'Lima', good: 'yes' }, fail, 'kto')).toThrow(
      '`good` must be true or false',
    );
  });

  it('splits the last rows off as validation, as an unshuffled train_test_split', () => {
    const rows = Array.from({ length: 10 }, (_, i) => String(i));
    expect(splitValidation(rows, 0.25)).toEqual({ training: rows.slice(0, 7), validation: rows.slice(7) });
    expect(splitValidation(rows, 2).validation).toEqual(['8', '9']);
    expect(splitValidation(rows, 0).validation).toEqual([]);
    expect(() => splitValidation(rows, 10)).toThrow(/val_set_size: leaves no training rows/);
  });
});
