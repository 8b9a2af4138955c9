/**
 * A `POST /v1/chat/completions` body (already checked against the contract's schema) turned into what the
 * inference process generates, or a 400 naming the first parameter the emulator cannot honour. Parameters
 * that only tune the hosted service (user, metadata, service_tier, prompt_cache_key…) are accepted and have no
 * effect here; anything that would change the answer and is not implemented is refused rather than ignored.
 */
import { createHash } from 'node:crypto';
import type { ChatCompletionCreateParams, ChatMessageParam } from '../contract/chat';
import type { ChatMessage } from '../data';
import { badRequest } from '../http/errors';
import type { EmulatorError } from '../store/errors';
import type { ChatJob } from './protocol';

function unsupported(param: string, what: string): EmulatorError {
  return badRequest(
    `${what} is not supported by the tunekit emulator (parameter '${param}').`,
    param,
    'unsupported_parameter',
  );
}

/** Checks the sampling and output parameters; throws the 400 of the first one that cannot be honoured. */
function checkParameters(body: ChatCompletionCreateParams): void {
  if (body.tools && body.tools.length > 0) {
    throw unsupported('tools', "Calling tools ('tools')");
  }
  if (body.tool_choice !== undefined && body.tool_choice !== 'none') {
    throw badRequest(
      "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
      'tool_choice',
      'invalid_value',
    );
  }
  if (body.response_format && body.response_format.type !== 'text') {
    throw unsupported(
      'response_format',
      `Structured output (response_format '${body.response_format.type}')`,
    );
  }
  if (body.frequency_penalty) throw unsupported('frequency_penalty', 'A non-zero frequency_penalty');
  if (body.presence_penalty) throw unsupported('presence_penalty', 'A non-zero presence_penalty');
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0)
    throw unsupported('logit_bias', 'logit_bias');
  if (body.store) throw unsupported('store', "Storing completions ('store': true)");
  if (body.top_logprobs !== undefined && body.top_logprobs !== null && !body.logprobs) {
    throw badRequest(
      "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.",
      'top_logprobs',
      'invalid_value',
    );
  }
  if (body.stream_options && !body.stream) {
    throw badRequest(
      "Invalid value for 'stream_options': 'stream_options' is only allowed when 'stream' is enabled.",
      'stream_options',
      'invalid_value',
    );
  }
  if (
    body.max_tokens !== undefined &&
    body.max_tokens !== null &&
    body.max_completion_tokens !== undefined &&
    body.max_completion_tokens !== null
  ) {
    throw badRequest(
      "Give 'max_completion_tokens' or its deprecated alias 'max_tokens', not both.",
      'max_tokens',
      'invalid_value',
    );
  }
}

/** The text of a message's content; a 400 naming a part that is not text (images, audio, files). */
function contentText(message: ChatMessageParam, index: number): string | null {
  const content = message.content;
  if (content === undefined || content === null || typeof content === 'string') return content ?? null;
  const texts: string[] = [];
  content.forEach((part, k) => {
    if (part.type === 'text') texts.push(part.text);
    else if (part.type === 'refusal') texts.push(part.refusal);
    else {
      const kind = { image_url: 'Image', input_audio: 'Audio', file: 'File' }[part.type];
      throw unsupported(`messages[${index}].content[${k}]`, `${kind} input ('${part.type}' content parts)`);
    }
  });
  return texts.join('');
}

/** Messages as the chat template sees them (what training renders for the same conversation). */
export function templateMessages(messages: ChatMessageParam[]): ChatMessage[] {
  return messages.map((message, i) => {
    if (message.role === 'assistant' && message.audio) {
      throw unsupported(`messages[${i}].audio`, 'Audio output in the conversation');
    }
    const converted: ChatMessage = { role: message.role, content: contentText(message, i) };
    if ('name' in message && message.name !== undefined) converted.name = message.name;
    if (message.role === 'assistant') {
      if (message.tool_calls) converted.tool_calls = message.tool_calls;
      if (message.function_call) converted.function_call = message.function_call;
    }
    if (message.role === 'tool') converted.tool_call_id = message.tool_call_id;
    return converted;
  });
}

/** The generation job of a request, for the model's weights on disk. */
export function chatJob(
  body: ChatCompletionCreateParams,
  weights: { modelDir: string; adapterDir: string | null },
): ChatJob {
  checkParameters(body);
  const stop = body.stop === undefined || body.stop === null ? [] : [body.stop].flat();
  return {
    modelDir: weights.modelDir,
    adapterDir: weights.adapterDir,
    messages: templateMessages(body.messages),
    n: body.n ?? 1,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? null,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    seed: body.seed ?? null,
    stop: stop.filter((s) => s !== ''),
    logprobs: body.logprobs ?? false,
    topLogprobs: body.top_logprobs ?? 0,
  };
}

/** OpenAI's `system_fingerprint`: changes when the server version or the weights behind the model change. */
export function systemFingerprint(version: string, job: Pick<ChatJob, 'modelDir' | 'adapterDir'>): string {
  const hash = createHash('sha256').update(`${version}\0${job.modelDir}\0${job.adapterDir ?? ''}`);
  return `fp_${hash.digest('hex').slice(0, 10)}`;
}
