/**
 * Reinforcement fine-tuning data: one JSON object per line, `{"messages": [... ending with a user turn], "tools"?:
 * [...], <any other keys>}` (OpenAI's RFT format). The messages are the prompt, rendered with the model's chat
 * template and its generation prompt; every other key is the row's `item`, which graders read as `{{item.<key>}}`.
 * The prepared file is JSON (prompt token ids and item per row), read by the rollout loop (emulator/worker/rft.ts).
 */
import { type ChatMessage, DataFormatError, jsonlRecords, parseChatMessage } from './formats';
import type { ModelTokenizer } from './model-tokenizer';

/** One prompt of a reinforcement job. */
export interface RftPrompt {
  /** 1-based line of the file. */
  line: number;
  promptIds: number[];
  /** The row without `messages`: what `{{item.…}}` reads. */
  item: Record<string, unknown>;
}

export interface RftPromptFile {
  prompts: RftPrompt[];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * Parses and encodes every line; `DataFormatError` names the first bad line. A prompt must leave room for one
 * completion token within `maxSeqLength`.
 */
export function encodeRftPrompts(text: string, tokenizer: ModelTokenizer, maxSeqLength: number): RftPrompt[] {
  const prompts: RftPrompt[] = [];
  for (const { line, record } of jsonlRecords(text)) {
    const { messages: rawMessages, ...item } = record;
    const tools = record.tools;
    if (rawMessages === undefined) {
      const keys = Object.keys(record);
      throw new DataFormatError(
        line,
        'missing `messages`: a reinforcement row is {"messages": [... ending with a user message], <reference ' +
          `fields>}${keys.length > 0 ? `; found keys ${keys.join(', ')}` : ''}`,
      );
    }
    if (!Array.isArray(rawMessages))
      throw new DataFormatError(line, `\`messages\` must be an array, got ${describe(rawMessages)}`);
    if (rawMessages.length === 0) throw new DataFormatError(line, '`messages` is empty');
    const messages: ChatMessage[] = rawMessages.map((m, i) => parseChatMessage(m, i, line));
    const last = messages.at(-1) as ChatMessage;
    if (last.role !== 'user') {
      throw new DataFormatError(
        line,
        `the last message has role ${last.role}; a reinforcement row's messages end with the user turn the ` +
          'model answers (the answer is sampled in training, graded against the row)',
      );
    }
    if (tools !== undefined && !Array.isArray(tools))
      throw new DataFormatError(line, `\`tools\` must be an array, got ${describe(tools)}`);
    let rendered: string;
    try {
      rendered = tokenizer.render(messages, {
        tools: tools as unknown[] | undefined,
        addGenerationPrompt: true,
      });
    } catch (error) {
      throw new DataFormatError(
        line,
        `the model's chat template cannot render it: ${(error as Error).message}`,
      );
    }
    const promptIds = tokenizer.encode(rendered);
    if (promptIds.length === 0) throw new DataFormatError(line, 'the prompt renders to no tokens');
    if (promptIds.length >= maxSeqLength) {
      throw new DataFormatError(
        line,
        `the prompt is ${promptIds.length} tokens long, which leaves no room for a completion within the model's ` +
          `${maxSeqLength} tokens`,
      );
    }
    prompts.push({ line, promptIds, item });
  }
  return prompts;
}
