/**
 * What model graders (`score_model`, `label_model`) share: the judge, a model the emulator serves, asked through
 * the same inference path as chat completions; the grader's prompt rendered with the templates (text only); an
 * instruction to answer in the JSON shape the service's judges answer in; and the answer's `result`.
 */
import type { GraderMessage } from '../contract/graders';
import { renderTemplate, type TemplateScope } from './template';

export interface JudgeMessage {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content: string;
}

export interface JudgeRequest {
  model: string;
  messages: JudgeMessage[];
  temperature?: number;
  topP?: number;
  seed?: number;
  maxTokens?: number;
}

export interface JudgeAnswer {
  text: string;
  promptTokens: number;
  completionTokens: number;
}

/** Asks a judge model; rejects when the model cannot answer (unknown model, inference failure). */
export type Judge = (request: JudgeRequest) => Promise<JudgeAnswer>;

/** Why a message cannot be given to a judge (the emulator's judges read text), or undefined. */
export function unsupportedContent(message: GraderMessage): string | undefined {
  const items = Array.isArray(message.content) ? message.content : [message.content];
  for (const item of items) {
    if (typeof item !== 'string' && item.type !== 'input_text' && item.type !== 'output_text') {
      return `${item.type} content: the emulator's judge models read text only`;
    }
  }
  return undefined;
}

function messageText(message: GraderMessage, scope: TemplateScope): string {
  const items = Array.isArray(message.content) ? message.content : [message.content];
  return items
    .map((item) => renderTemplate(typeof item === 'string' ? item : 'text' in item ? item.text : '', scope))
    .join('\n');
}

/**
 * The judge's prompt: the grader's messages rendered, with `instruction` (the answer format) added to a leading
 * system or developer message, or as a new one.
 */
export function judgeMessages(
  input: readonly GraderMessage[],
  scope: TemplateScope,
  instruction: string,
): JudgeMessage[] {
  const messages: JudgeMessage[] = input.map((message) => ({
    role: message.role,
    content: messageText(message, scope),
  }));
  const first = messages[0];
  if (first && (first.role === 'system' || first.role === 'developer')) {
    first.content = `${first.content}\n\n${instruction}`;
    return messages;
  }
  return [{ role: 'system', content: instruction }, ...messages];
}

/** The `result` of a JSON answer (the first `{` to the last `}`), or undefined when there is none. */
export function jsonResult(text: string): unknown {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  try {
    const parsed = JSON.parse(text.slice(start, end + 1)) as unknown;
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as { result?: unknown }).result
      : undefined;
  } catch {
    return undefined;
  }
}
