/**
 * Turns an example into token ids and labels, with loss only on the assistant turns (chat) or the completion.
 *
 * Assistant spans are found the way TRL masks assistant-only loss for templates without `{% generation %}`
 * markers: render the conversation up to each assistant turn with the generation prompt (where the turn's text
 * starts) and through the turn (where it ends); both renders must be prefixes of the whole conversation's render.
 * The whole text is tokenized once; when the tokenizer merges across a span boundary, the example is tokenized
 * piecewise at the boundaries instead, so labels never cover a token half inside a span.
 */
import { type ChatMessage, DataFormatError, type Example } from './formats';
import type { ModelTokenizer } from './model-tokenizer';

export const IGNORE_INDEX = -100;

export interface EncodedExample {
  ids: number[];
  labels: number[];
  /** The example was longer than max_seq_length and was cut at it. */
  truncated: boolean;
}

/**
 * Templates that do not know tool calls (no `tool_calls` / `tools` in their text) get them spelled into the
 * content, in the Hermes style most open models use: `<tool_call>{"name":…,"arguments":…}</tool_call>`.
 */
export function spellToolsForTemplate(
  tokenizer: ModelTokenizer,
  example: Extract<Example, { kind: 'chat' }>,
) {
  let messages = example.messages;
  if (messages.some((m) => m.tool_calls || m.function_call) && !tokenizer.templateMentions('tool_calls')) {
    messages = messages.map((m) => {
      if (!m.tool_calls && !m.function_call) return m;
      const calls = (m.tool_calls ?? [{ function: m.function_call }]).map((call) => {
        const fn = (call as { function?: { name?: unknown; arguments?: unknown } }).function ?? {};
        let args = fn.arguments;
        if (typeof args === 'string') {
          try {
            args = JSON.parse(args);
          } catch {
            // Arguments that are not JSON stay the string they are.
          }
        }
        return `<tool_call>\n${JSON.stringify({ name: fn.name, arguments: args })}\n</tool_call>`;
      });
      const { tool_calls: _calls, function_call: _fn, ...rest } = m;
      return { ...rest, content: [m.content ?? '', ...calls].filter((s) => s !== '').join('\n') };
    });
  }
  let tools = example.tools;
  if (tools && !tokenizer.templateMentions('tools')) {
    const listing = `You have access to the following tools:\n${tools.map((t) => JSON.stringify(t)).join('\n')}`;
    const first = messages[0];
    messages =
      first && (first.role === 'system' || first.role === 'developer')
        ? [{ ...first, content: `${first.content ?? ''}\n\n${listing}` }, ...messages.slice(1)]
        : [{ role: 'system', content: listing }, ...messages];
    tools = undefined;
  }
  return { messages, tools };
}

/** Character spans [start, end) of the trained assistant turns in the rendered conversation. */
function assistantSpans(
  tokenizer: ModelTokenizer,
  messages: ChatMessage[],
  tools: unknown[] | undefined,
  line: number,
): { text: string; spans: [number, number][] } {
  const text = tokenizer.render(messages, { tools, addGenerationPrompt: false });
  const spans: [number, number][] = [];
  messages.forEach((message, i) => {
    if (message.role !== 'assistant' || message.weight === 0) return;
    const before = tokenizer.render(messages.slice(0, i), { tools, addGenerationPrompt: true });
    const through = tokenizer.render(messages.slice(0, i + 1), { tools, addGenerationPrompt: false });
    if (!text.startsWith(before) || !text.startsWith(through) || through.length < before.length) {
      throw new DataFormatError(
        line,
        `message ${i + 1}: the model's chat template does not render this conversation turn by turn ` +
          '(an earlier render is not a prefix of the whole), so its assistant tokens cannot be located',
      );
    }
    spans.push([before.length, through.length]);
  });
  return { text, spans };
}

/** Ids and labels for text cut at span boundaries; `scored[k]` says whether piece k is trained on. */
function tokenizePieces(tokenizer: ModelTokenizer, pieces: string[], scored: boolean[]): EncodedExample {
  const whole = tokenizer.encode(pieces.join(''));
  // Try the single tokenization first: it is exact when every boundary falls between tokens.
  const boundaries: number[] = [];
  let offset = '';
  let aligned = true;
  for (const piece of pieces.slice(0, -1)) {
    offset += piece;
    const prefix = tokenizer.encode(offset);
    if (!prefix.every((id, k) => whole[k] === id)) {
      aligned = false;
      break;
    }
    boundaries.push(prefix.length);
  }
  const ids: number[] = [];
  const labels: number[] = [];
  if (aligned) {
    boundaries.push(whole.length);
    let start = 0;
    boundaries.forEach((end, k) => {
      for (let t = start; t < end; t++) {
        ids.push(whole[t] as number);
        labels.push(scored[k] ? (whole[t] as number) : IGNORE_INDEX);
      }
      start = end;
    });
  } else {
    pieces.forEach((piece, k) => {
      for (const id of tokenizer.encode(piece)) {
        ids.push(id);
        labels.push(scored[k] ? id : IGNORE_INDEX);
      }
    });
  }
  return { ids, labels, truncated: false };
}

/**
 * A trained span ends with the end-of-turn token: whitespace the template writes after it (ChatML's newline) is
 * context, not something the model should learn to emit.
 */
function trimTrailingWhitespaceLabels(tokenizer: ModelTokenizer, encoded: EncodedExample): void {
  const eos = tokenizer.eosTokenId;
  if (eos === undefined) return;
  const { ids, labels } = encoded;
  let end = labels.length;
  while (end > 0) {
    while (end > 0 && labels[end - 1] === IGNORE_INDEX) end--;
    let start = end;
    while (start > 0 && labels[start - 1] !== IGNORE_INDEX) start--;
    const lastEos = ids.lastIndexOf(eos, end - 1);
    if (lastEos >= start) {
      const tail = ids.slice(lastEos + 1, end);
      if (tail.length > 0 && tokenizer.decode(tail).trim() === '')
        labels.fill(IGNORE_INDEX, lastEos + 1, end);
    }
    end = start;
  }
}

function encodeChat(tokenizer: ModelTokenizer, example: Extract<Example, { kind: 'chat' }>): EncodedExample {
  const { messages, tools } = spellToolsForTemplate(tokenizer, example);
  let rendered: ReturnType<typeof assistantSpans>;
  try {
    rendered = assistantSpans(tokenizer, messages, tools, example.line);
  } catch (error) {
    if (error instanceof DataFormatError) throw error;
    // The template's own checks (`raise_exception('Conversation roles must alternate…')`) or a missing template.
    throw new DataFormatError(
      example.line,
      `the model's chat template cannot render it: ${(error as Error).message}`,
    );
  }
  const { text, spans } = rendered;
  const pieces: string[] = [];
  const scored: boolean[] = [];
  let cursor = 0;
  for (const [start, end] of spans) {
    pieces.push(text.slice(cursor, start), text.slice(start, end));
    scored.push(false, true);
    cursor = end;
  }
  pieces.push(text.slice(cursor));
  scored.push(false);
  const encoded = tokenizePieces(tokenizer, pieces, scored);
  trimTrailingWhitespaceLabels(tokenizer, encoded);
  return encoded;
}

function encodeCompletion(
  tokenizer: ModelTokenizer,
  example: Extract<Example, { kind: 'completion' }>,
): EncodedExample {
  const prompt = tokenizer.encode(example.prompt, true);
  const completion = tokenizer.encode(example.completion);
  if (tokenizer.eosTokenId !== undefined) completion.push(tokenizer.eosTokenId);
  return {
    ids: [...prompt, ...completion],
    labels: [...prompt.map(() => IGNORE_INDEX), ...completion],
    truncated: false,
  };
}

/**
 * Encodes one example. Longer than `maxSeqLength` tokens: cut at it (as the hosted service truncates), unless
 * that leaves no trained token, which is an error naming the line.
 */
export function encodeExample(
  tokenizer: ModelTokenizer,
  example: Example,
  maxSeqLength: number,
): EncodedExample {
  const encoded =
    example.kind === 'chat' ? encodeChat(tokenizer, example) : encodeCompletion(tokenizer, example);
  if (!encoded.labels.some((label) => label !== IGNORE_INDEX)) {
    throw new DataFormatError(example.line, 'no token to train on after rendering the example');
  }
  if (encoded.ids.length <= maxSeqLength) return encoded;
  const labels = encoded.labels.slice(0, maxSeqLength);
  if (!labels.some((label) => label !== IGNORE_INDEX)) {
    throw new DataFormatError(
      example.line,
      `the example is ${encoded.ids.length} tokens long, over max_seq_length (${maxSeqLength}), and none of the ` +
        'tokens it trains on fall within the first max_seq_length tokens',
    );
  }
  return { ids: encoded.ids.slice(0, maxSeqLength), labels, truncated: true };
}
