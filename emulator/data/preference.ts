/**
 * Preference data for dpo and kto jobs: parsing (one JSON object per line) and encoding into whole sequences
 * (prompt tokens labelled -100, then the answer's tokens), as TRL 1.13's DPOTrainer / KTOTrainer tokenize them.
 *
 *   dpo, OpenAI   {"input": {"messages": [...], "tools"?: [...]}, "preferred_output": [{"role": "assistant", ...}],
 *                  "non_preferred_output": [{"role": "assistant", ...}]}
 *   dpo, TRL      {"prompt": [...messages] | "text", "chosen": [...] | "text", "rejected": [...] | "text"}, or the
 *                  implicit-prompt form {"chosen": [...], "rejected": [...]} (the shared leading messages are the prompt)
 *   kto, tunekit  {"input": {"messages": [...]}, "output": [{"role": "assistant", ...}], "label": true | false}
 *   kto, TRL      {"prompt": [...] | "text", "completion": [...] | "text", "label": true | false}
 *
 * Conversational rows: prompt = the chat template of the prompt messages with the generation prompt; answer = the
 * template of prompt + answer after the prompt's tokens. Plain text: the prompt's tokens (with the tokenizer's
 * special tokens), then the answer's and the end-of-sequence token. Each problem names the line and the field.
 */
import { type ChatMessage, DataFormatError, parseChatMessage } from './formats';
import type { ModelTokenizer } from './model-tokenizer';

export type PreferenceMethod = 'dpo' | 'kto';

type Prompt = { kind: 'chat'; messages: ChatMessage[]; tools?: unknown[] } | { kind: 'text'; text: string };
type Answer = { kind: 'chat'; messages: ChatMessage[] } | { kind: 'text'; text: string };

export type PreferenceRow =
  | { kind: 'pair'; line: number; prompt: Prompt; chosen: Answer; rejected: Answer }
  | { kind: 'unpaired'; line: number; prompt: Prompt; completion: Answer; desirable: boolean };

export type PreferenceFormat = 'openai' | 'trl';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** `messages` of an input / TRL list: an array of chat messages, `field` naming it in errors. */
function messageList(value: unknown, field: string, line: number): ChatMessage[] {
  if (!Array.isArray(value))
    throw new DataFormatError(line, `\`${field}\` must be an array, got ${describe(value)}`);
  if (value.length === 0) throw new DataFormatError(line, `\`${field}\` is empty`);
  return value.map((m, i) => {
    try {
      return parseChatMessage(m, i, line);
    } catch (error) {
      if (error instanceof DataFormatError) throw new DataFormatError(line, `\`${field}\` ${error.problem}`);
      throw error;
    }
  });
}

/** An answer: one assistant message with non-empty content (the OpenAI output arrays hold exactly one). */
function assistantAnswer(value: unknown, field: string, line: number, exactlyOne: boolean): Answer {
  const messages = messageList(value, field, line);
  if (exactlyOne && messages.length !== 1) {
    throw new DataFormatError(
      line,
      `\`${field}\` must hold exactly one assistant message, got ${messages.length}`,
    );
  }
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') {
      throw new DataFormatError(
        line,
        `\`${field}\` message ${i + 1}: role must be "assistant", got ${JSON.stringify(m.role)}`,
      );
    }
    if ((m.content ?? '') === '' && !m.tool_calls && !m.function_call) {
      throw new DataFormatError(line, `\`${field}\` message ${i + 1}: \`content\` is empty`);
    }
  });
  return { kind: 'chat', messages };
}

function openAiInput(value: unknown, line: number): Prompt {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataFormatError(line, `\`input\` must be an object with \`messages\`, got ${describe(value)}`);
  }
  const input = value as Record<string, unknown>;
  if (!('messages' in input)) throw new DataFormatError(line, 'missing `input.messages`');
  const messages = messageList(input.messages, 'input.messages', line);
  if (input.tools !== undefined && input.tools !== null && !Array.isArray(input.tools)) {
    throw new DataFormatError(line, `\`input.tools\` must be an array, got ${describe(input.tools)}`);
  }
  const tools = Array.isArray(input.tools) && input.tools.length > 0 ? input.tools : undefined;
  return { kind: 'chat', messages, ...(tools ? { tools } : {}) };
}

function textField(
  record: Record<string, unknown>,
  field: string,
  line: number,
  allowEmpty: boolean,
): string {
  const v = record[field];
  if (typeof v !== 'string')
    throw new DataFormatError(line, `\`${field}\` must be a string, got ${describe(v)}`);
  if (!allowEmpty && v === '') throw new DataFormatError(line, `\`${field}\` is empty`);
  return v;
}

/** TRL's conversational or plain-text prompt / answer; all fields of a row in the same form. */
function trlPrompt(record: Record<string, unknown>, line: number, conversational: boolean): Prompt {
  if (conversational) return { kind: 'chat', messages: messageList(record.prompt, 'prompt', line) };
  return { kind: 'text', text: textField(record, 'prompt', line, true) };
}

function trlAnswer(
  record: Record<string, unknown>,
  field: string,
  line: number,
  conversational: boolean,
): Answer {
  if (!(field in record)) throw new DataFormatError(line, `missing \`${field}\``);
  if (conversational) return assistantAnswer(record[field], field, line, false);
  return { kind: 'text', text: textField(record, field, line, false) };
}

function requireKeys(record: Record<string, unknown>, keys: string[], line: number): void {
  for (const key of keys) if (!(key in record)) throw new DataFormatError(line, `missing \`${key}\``);
}

function label(record: Record<string, unknown>, line: number): boolean {
  if (!('label' in record)) throw new DataFormatError(line, 'missing `label`');
  if (typeof record.label !== 'boolean') {
    throw new DataFormatError(line, `\`label\` must be true or false, got ${describe(record.label)}`);
  }
  return record.label;
}

/** TRL's implicit prompt: the messages chosen and rejected share at the start. */
function implicitPair(record: Record<string, unknown>, line: number): PreferenceRow {
  const chosen = messageList(record.chosen, 'chosen', line);
  const rejected = messageList(record.rejected, 'rejected', line);
  let k = 0;
  while (
    k < chosen.length &&
    k < rejected.length &&
    JSON.stringify(chosen[k]) === JSON.stringify(rejected[k])
  )
    k++;
  if (k === 0)
    throw new DataFormatError(
      line,
      'missing `prompt`, and `chosen` and `rejected` share no leading messages',
    );
  return {
    kind: 'pair',
    line,
    prompt: { kind: 'chat', messages: chosen.slice(0, k) },
    chosen: assistantAnswer(chosen.slice(k), 'chosen', line, false),
    rejected: assistantAnswer(rejected.slice(k), 'rejected', line, false),
  };
}

/** What an SFT row looks like to a preference method (for a clear error). */
function sftFormat(record: Record<string, unknown>): string | undefined {
  if ('messages' in record) return 'the fine-tune-chat format (`messages`)';
  if ('conversations' in record) return 'the ShareGPT format (`conversations`)';
  if ('instruction' in record) return 'the Alpaca format (`instruction`, `output`)';
  if ('prompt' in record && 'completion' in record && !('label' in record)) {
    return 'the prompt/completion format (`prompt`, `completion`)';
  }
  return undefined;
}

const EXPECTED: Record<PreferenceMethod, string> = {
  dpo:
    'preference rows {"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]} ' +
    '(or TRL\'s {"prompt", "chosen", "rejected"})',
  kto: 'rows {"input": {"messages": [...]}, "output": [...], "label": true|false} (or TRL\'s {"prompt", "completion", "label"})',
};

/** One row of a dpo or kto file. */
export function parsePreferenceRow(
  record: Record<string, unknown>,
  line: number,
  method: PreferenceMethod,
): { row: PreferenceRow; format: PreferenceFormat } {
  const sft = sftFormat(record);
  if (sft) {
    throw new DataFormatError(
      line,
      `the file is in ${sft}, which is for method 'supervised'; method '${method}' trains on ${EXPECTED[method]}`,
    );
  }
  if (method === 'dpo') {
    if ('label' in record || 'output' in record || 'completion' in record) {
      throw new DataFormatError(
        line,
        `this is a kto row (\`label\`); method 'dpo' trains on ${EXPECTED.dpo}`,
      );
    }
    if ('input' in record || 'preferred_output' in record || 'non_preferred_output' in record) {
      requireKeys(record, ['input', 'preferred_output', 'non_preferred_output'], line);
      return {
        format: 'openai',
        row: {
          kind: 'pair',
          line,
          prompt: openAiInput(record.input, line),
          chosen: assistantAnswer(record.preferred_output, 'preferred_output', line, true),
          rejected: assistantAnswer(record.non_preferred_output, 'non_preferred_output', line, true),
        },
      };
    }
    if ('chosen' in record || 'rejected' in record) {
      requireKeys(record, ['chosen', 'rejected'], line);
      if (!('prompt' in record)) return { format: 'trl', row: implicitPair(record, line) };
      const conversational = Array.isArray(record.prompt);
      return {
        format: 'trl',
        row: {
          kind: 'pair',
          line,
          prompt: trlPrompt(record, line, conversational),
          chosen: trlAnswer(record, 'chosen', line, conversational),
          rejected: trlAnswer(record, 'rejected', line, conversational),
        },
      };
    }
  } else {
    if ('preferred_output' in record || 'chosen' in record) {
      throw new DataFormatError(
        line,
        `this is a dpo row (a preferred and a rejected answer); method 'kto' trains on ${EXPECTED.kto}`,
      );
    }
    if ('input' in record || 'output' in record) {
      requireKeys(record, ['input', 'output'], line);
      return {
        format: 'openai',
        row: {
          kind: 'unpaired',
          line,
          prompt: openAiInput(record.input, line),
          completion: assistantAnswer(record.output, 'output', line, true),
          desirable: label(record, line),
        },
      };
    }
    if ('prompt' in record || 'completion' in record) {
      requireKeys(record, ['prompt', 'completion'], line);
      const conversational = Array.isArray(record.prompt);
      return {
        format: 'trl',
        row: {
          kind: 'unpaired',
          line,
          prompt: trlPrompt(record, line, conversational),
          completion: trlAnswer(record, 'completion', line, conversational),
          desirable: label(record, line),
        },
      };
    }
  }
  const keys = Object.keys(record);
  throw new DataFormatError(
    line,
    `method '${method}' trains on ${EXPECTED[method]}${keys.length > 0 ? `; found keys ${keys.join(', ')}` : ''}`,
  );
}

export interface EncodedSequence {
  ids: number[];
  labels: number[];
  truncated: boolean;
}

function render(
  tokenizer: ModelTokenizer,
  messages: ChatMessage[],
  tools: unknown[] | undefined,
  gen: boolean,
  line: number,
) {
  try {
    return tokenizer.render(messages, { tools, addGenerationPrompt: gen });
  } catch (error) {
    throw new DataFormatError(
      line,
      `the model's chat template cannot render it: ${(error as Error).message}`,
    );
  }
}

/** Prompt + answer as one sequence, the prompt labelled -100; cut at maxSeqLength (keep_start, as TRL). */
export function encodeSequence(
  tokenizer: ModelTokenizer,
  prompt: Prompt,
  answer: Answer,
  maxSeqLength: number,
  line: number,
  field: string,
): EncodedSequence {
  let promptIds: number[];
  let answerIds: number[];
  if (prompt.kind === 'chat' && answer.kind === 'chat') {
    const tools = prompt.tools;
    const promptText = render(tokenizer, prompt.messages, tools, true, line);
    const fullText = render(tokenizer, [...prompt.messages, ...answer.messages], tools, false, line);
    if (!fullText.startsWith(promptText)) {
      throw new DataFormatError(
        line,
        `\`${field}\`: the model's chat template does not render the prompt as a prefix of prompt + answer`,
      );
    }
    promptIds = tokenizer.encode(promptText);
    // TRL: the answer is the tokens of the whole render after the prompt's
    answerIds = tokenizer.encode(fullText).slice(promptIds.length);
  } else if (prompt.kind === 'text' && answer.kind === 'text') {
    promptIds = tokenizer.encode(prompt.text, true);
    answerIds = tokenizer.encode(prompt.text + answer.text, true).slice(promptIds.length);
    if (tokenizer.eosTokenId !== undefined) answerIds.push(tokenizer.eosTokenId);
  } else {
    throw new DataFormatError(
      line,
      `\`${field}\`: the prompt and the answer must both be messages or both be text`,
    );
  }
  if (answerIds.length === 0)
    throw new DataFormatError(line, `\`${field}\`: no token to train on after rendering it`);
  if (promptIds.length >= maxSeqLength) {
    throw new DataFormatError(
      line,
      `the prompt is ${promptIds.length} tokens long, which leaves no room for \`${field}\` within max_seq_length ` +
        `(${maxSeqLength})`,
    );
  }
  const ids = [...promptIds, ...answerIds];
  const labels = [...promptIds.map(() => -100), ...answerIds];
  const truncated = ids.length > maxSeqLength;
  return { ids: ids.slice(0, maxSeqLength), labels: labels.slice(0, maxSeqLength), truncated };
}

/** The engine's rows of one preference row: dpo (chosen, rejected), kto (the completion). */
export function encodePreferenceRow(
  tokenizer: ModelTokenizer,
  row: PreferenceRow,
  maxSeqLength: number,
  format: PreferenceFormat,
): EncodedSequence[] {
  if (row.kind === 'pair') {
    const [c, r] =
      format === 'openai' ? ['preferred_output', 'non_preferred_output'] : ['chosen', 'rejected'];
    return [
      encodeSequence(tokenizer, row.prompt, row.chosen, maxSeqLength, row.line, c as string),
      encodeSequence(tokenizer, row.prompt, row.rejected, maxSeqLength, row.line, r as string),
    ];
  }
  return [
    encodeSequence(
      tokenizer,
      row.prompt,
      row.completion,
      maxSeqLength,
      row.line,
      format === 'openai' ? 'output' : 'completion',
    ),
  ];
}
