/**
 * Training data formats: one JSON object per line (JSONL), in one of
 *   chat               {"messages": [{role, content, weight?, tool_calls?, ...}], "tools"?: [...]}   (OpenAI)
 *   prompt/completion  {"prompt": "...", "completion": "..."}                                     (OpenAI legacy)
 *   Alpaca             {"instruction": "...", "input"?: "...", "output": "...", "system"?: "..."}
 *   ShareGPT           {"conversations": [{"from": "human"|"gpt"|"system"|..., "value": "..."}]}
 * The first example fixes the file's format; every later line must use it. Alpaca and ShareGPT become chat
 * examples. Each problem is reported with its line number (1-based, blank lines counted) and, for messages, the
 * message number (1-based).
 */

export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool' | 'function';

export interface ChatMessage {
  role: Role;
  /** Text content (text parts of an array joined); null for an assistant turn holding only tool calls. */
  content: string | null;
  name?: string;
  tool_calls?: unknown[];
  function_call?: unknown;
  tool_call_id?: string;
  /** Assistant turns only: 0 = context, not trained on. Default 1. */
  weight?: 0 | 1;
}

export type Example =
  | { kind: 'chat'; line: number; messages: ChatMessage[]; tools?: unknown[] }
  | { kind: 'completion'; line: number; prompt: string; completion: string };

export type DataFormat = 'chat' | 'prompt_completion' | 'alpaca' | 'sharegpt';

/** A problem in the data, with the line it concerns. */
export class DataFormatError extends Error {
  override readonly name = 'DataFormatError';
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`Line ${line}: ${problem}`);
  }
}

const ROLES: readonly Role[] = ['system', 'developer', 'user', 'assistant', 'tool', 'function'];

/** ShareGPT speaker names and the chat role each maps to. */
const SHAREGPT_ROLES: Record<string, Role> = {
  system: 'system',
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  assistant: 'assistant',
  model: 'assistant',
  tool: 'tool',
  observation: 'tool',
  function_call: 'assistant',
};

function detectFormat(value: Record<string, unknown>): DataFormat | undefined {
  if ('messages' in value) return 'chat';
  if ('conversations' in value) return 'sharegpt';
  if ('instruction' in value || 'output' in value) return 'alpaca';
  if ('prompt' in value || 'completion' in value) return 'prompt_completion';
  return undefined;
}

const FORMAT_KEYS: Record<DataFormat, string> = {
  chat: '`messages`',
  prompt_completion: '`prompt` and `completion`',
  alpaca: '`instruction` and `output`',
  sharegpt: '`conversations`',
};

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Text of a message content: a string, or an array of `{type: "text", text}` parts. */
function contentText(content: unknown, where: string, line: number): string | null {
  if (content === null || content === undefined) return null;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let text = '';
    content.forEach((part, i) => {
      const p = part as { type?: unknown; text?: unknown };
      if (typeof part !== 'object' || part === null) {
        throw new DataFormatError(
          line,
          `${where}, content part ${i + 1}: expected an object, got ${describe(part)}`,
        );
      }
      if (p.type === 'text' && typeof p.text === 'string') text += p.text;
      else if (p.type === 'image_url' || p.type === 'input_audio' || p.type === 'file') {
        throw new DataFormatError(
          line,
          `${where}, content part ${i + 1}: '${p.type}' parts are not supported by tunekit`,
        );
      } else {
        throw new DataFormatError(
          line,
          `${where}, content part ${i + 1}: expected {"type": "text", "text": string}`,
        );
      }
    });
    return text;
  }
  throw new DataFormatError(line, `${where}: \`content\` must be a string, an array of text parts or null`);
}

export function parseChatMessage(raw: unknown, index: number, line: number): ChatMessage {
  const where = `message ${index + 1}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new DataFormatError(line, `${where}: expected an object, got ${describe(raw)}`);
  }
  const m = raw as Record<string, unknown>;
  if (!('role' in m)) throw new DataFormatError(line, `${where}: missing \`role\``);
  if (typeof m.role !== 'string' || !ROLES.includes(m.role as Role)) {
    throw new DataFormatError(
      line,
      `${where}: unknown role ${JSON.stringify(m.role)} (expected one of ${ROLES.join(', ')})`,
    );
  }
  const role = m.role as Role;
  const message: ChatMessage = { role, content: null };
  const hasCalls =
    Array.isArray(m.tool_calls) || (typeof m.function_call === 'object' && m.function_call !== null);
  if (!('content' in m) && !(role === 'assistant' && hasCalls)) {
    throw new DataFormatError(line, `${where}: missing \`content\``);
  }
  message.content = contentText(m.content, where, line);
  if (message.content === null && !(role === 'assistant' && hasCalls)) {
    throw new DataFormatError(
      line,
      `${where}: \`content\` is null, which only an assistant message with tool calls may have`,
    );
  }
  if (m.name !== undefined) {
    if (typeof m.name !== 'string') throw new DataFormatError(line, `${where}: \`name\` must be a string`);
    message.name = m.name;
  }
  if (m.tool_calls !== undefined) {
    if (role !== 'assistant' || !Array.isArray(m.tool_calls)) {
      throw new DataFormatError(line, `${where}: \`tool_calls\` must be an array on an assistant message`);
    }
    message.tool_calls = m.tool_calls;
  }
  if (m.function_call !== undefined) message.function_call = m.function_call;
  if (m.tool_call_id !== undefined) {
    if (typeof m.tool_call_id !== 'string')
      throw new DataFormatError(line, `${where}: \`tool_call_id\` must be a string`);
    message.tool_call_id = m.tool_call_id;
  }
  if (m.weight !== undefined) {
    if (role !== 'assistant')
      throw new DataFormatError(line, `${where}: \`weight\` is only allowed on assistant messages`);
    if (m.weight !== 0 && m.weight !== 1)
      throw new DataFormatError(line, `${where}: \`weight\` must be 0 or 1`);
    message.weight = m.weight;
  }
  return message;
}

function requireTrainableTurn(messages: ChatMessage[], line: number): void {
  const assistants = messages.filter((m) => m.role === 'assistant');
  if (assistants.length === 0) throw new DataFormatError(line, 'no assistant message to train on');
  if (assistants.every((m) => m.weight === 0)) {
    throw new DataFormatError(line, 'every assistant message has weight 0, so there is nothing to train on');
  }
}

function parseChat(value: Record<string, unknown>, line: number): Example {
  const { messages, tools } = value;
  if (!Array.isArray(messages))
    throw new DataFormatError(line, `\`messages\` must be an array, got ${describe(messages)}`);
  if (messages.length === 0) throw new DataFormatError(line, '`messages` is empty');
  const parsed = messages.map((m, i) => parseChatMessage(m, i, line));
  requireTrainableTurn(parsed, line);
  if (tools !== undefined && tools !== null && !Array.isArray(tools)) {
    throw new DataFormatError(line, `\`tools\` must be an array, got ${describe(tools)}`);
  }
  return {
    kind: 'chat',
    line,
    messages: parsed,
    ...(Array.isArray(tools) && tools.length > 0 ? { tools } : {}),
  };
}

function requireString(value: Record<string, unknown>, key: string, line: number, optional = false): string {
  const v = value[key];
  if (v === undefined && optional) return '';
  if (v === undefined) throw new DataFormatError(line, `missing \`${key}\``);
  if (typeof v !== 'string')
    throw new DataFormatError(line, `\`${key}\` must be a string, got ${describe(v)}`);
  return v;
}

function parseCompletion(value: Record<string, unknown>, line: number): Example {
  const prompt = requireString(value, 'prompt', line);
  const completion = requireString(value, 'completion', line);
  if (completion.length === 0)
    throw new DataFormatError(line, '`completion` is empty, so there is nothing to train on');
  return { kind: 'completion', line, prompt, completion };
}

function parseAlpaca(value: Record<string, unknown>, line: number): Example {
  const instruction = requireString(value, 'instruction', line);
  const input = requireString(value, 'input', line, true);
  const output = requireString(value, 'output', line);
  const system = requireString(value, 'system', line, true);
  const messages: ChatMessage[] = [];
  if (system) messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: input ? `${instruction}\n\n${input}` : instruction });
  messages.push({ role: 'assistant', content: output });
  return { kind: 'chat', line, messages };
}

function parseShareGpt(value: Record<string, unknown>, line: number): Example {
  const { conversations } = value;
  if (!Array.isArray(conversations)) {
    throw new DataFormatError(line, `\`conversations\` must be an array, got ${describe(conversations)}`);
  }
  if (conversations.length === 0) throw new DataFormatError(line, '`conversations` is empty');
  const messages = conversations.map((turn, i): ChatMessage => {
    const where = `conversation turn ${i + 1}`;
    if (typeof turn !== 'object' || turn === null)
      throw new DataFormatError(line, `${where}: expected an object`);
    const { from, value: text } = turn as Record<string, unknown>;
    if (typeof from !== 'string') throw new DataFormatError(line, `${where}: missing \`from\``);
    const role = SHAREGPT_ROLES[from];
    if (!role) {
      throw new DataFormatError(
        line,
        `${where}: unknown speaker ${JSON.stringify(from)} (expected one of ${Object.keys(SHAREGPT_ROLES).join(', ')})`,
      );
    }
    if (typeof text !== 'string') throw new DataFormatError(line, `${where}: \`value\` must be a string`);
    return { role, content: text };
  });
  requireTrainableTurn(messages, line);
  return { kind: 'chat', line, messages };
}

const PARSERS: Record<DataFormat, (value: Record<string, unknown>, line: number) => Example> = {
  chat: parseChat,
  prompt_completion: parseCompletion,
  alpaca: parseAlpaca,
  sharegpt: parseShareGpt,
};

/** The JSON object on one line (1-based `line`); `DataFormatError` when it is not one. */
function jsonlRecord(raw: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new DataFormatError(line, `invalid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataFormatError(line, `expected a JSON object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Each non-blank line's text with its 1-based line number. */
function* jsonlLines(text: string): Generator<{ line: number; raw: string }> {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).replace(/\r$/, '');
    if (raw.trim() !== '') yield { line: i + 1, raw };
  }
}

/** The JSON object of every non-blank line, with its 1-based line number; `DataFormatError` at a bad line. */
export function* jsonlRecords(text: string): Generator<{ line: number; record: Record<string, unknown> }> {
  for (const { line, raw } of jsonlLines(text)) yield { line, record: jsonlRecord(raw, line) };
}

/** Which preference method a row is for, when it is one (a clear error for a supervised job). */
export function preferenceRowMethod(record: Record<string, unknown>): 'dpo' | 'kto' | undefined {
  if ('preferred_output' in record || 'non_preferred_output' in record || 'chosen' in record) return 'dpo';
  if ('label' in record && ('output' in record || 'completion' in record)) return 'kto';
  return undefined;
}

/** Parses JSONL text into examples; throws `DataFormatError` at the first bad line. */
export function parseJsonl(text: string): { format: DataFormat | null; examples: Example[] } {
  return scanJsonl(text, (problem) => {
    throw problem;
  });
}

/**
 * Checks every line of a supervised JSONL text and returns each bad line's problem (what `tunekit files check`
 * lists), with the format and the number of good examples. The format is fixed by the first line that has one.
 */
export function checkJsonl(text: string): {
  format: DataFormat | null;
  nExamples: number;
  problems: DataFormatError[];
} {
  const problems: DataFormatError[] = [];
  const { format, examples } = scanJsonl(text, (problem) => problems.push(problem));
  return { format, nExamples: examples.length, problems };
}

function scanJsonl(
  text: string,
  onProblem: (problem: DataFormatError) => void,
): { format: DataFormat | null; examples: Example[] } {
  const state: { format: DataFormat | null } = { format: null };
  const examples: Example[] = [];
  for (const { line, raw } of jsonlLines(text)) {
    try {
      examples.push(parseLine(jsonlRecord(raw, line), line, state));
    } catch (error) {
      if (!(error instanceof DataFormatError)) throw error;
      onProblem(error);
    }
  }
  return { format: state.format, examples };
}

function parseLine(
  record: Record<string, unknown>,
  line: number,
  state: { format: DataFormat | null },
): Example {
  const preference = preferenceRowMethod(record);
  if (preference) {
    throw new DataFormatError(
      line,
      `the file holds ${preference === 'dpo' ? 'preference pairs' : 'kto rows (`label`)'}, which are for method ` +
        `'${preference}'; method 'supervised' trains on chat examples {"messages": [...]}`,
    );
  }
  const detected = detectFormat(record);
  if (state.format === null) {
    if (!detected) {
      const keys = Object.keys(record);
      throw new DataFormatError(
        line,
        'missing `messages`: expected a chat example {"messages": [...]} (or prompt/completion, Alpaca or ShareGPT)' +
          (keys.length > 0 ? `; found keys ${keys.join(', ')}` : ''),
      );
    }
    state.format = detected;
  } else if (detected !== state.format) {
    throw new DataFormatError(
      line,
      `missing ${FORMAT_KEYS[state.format]}: the file's first example uses the ${state.format} format`,
    );
  }
  return PARSERS[state.format](record, line);
}
