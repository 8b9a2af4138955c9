import type { APIPromise } from '../../core/api-promise';
import { UnsupportedFeatureError } from '../../core/errors';
import { APIResource } from '../../core/resource';
import type { Stream } from '../../core/streaming';
import type { RequestOptions } from '../../internal/request-options';

export class Completions extends APIResource {
  /**
   * Generates a chat completion. With `stream: true` it resolves to a Stream of chunks (iterate it with
   * `for await`; `stream.controller.abort()` stops it).
   * @example
   * const completion = await client.chat.completions.create({ model: 'ft:tiny-llama:org::abc12345', messages: [{ role: 'user', content: 'Hi' }] });
   * const stream = await client.chat.completions.create({ model: 'tiny-llama', messages, stream: true });
   * for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? '');
   */
  create(body: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): APIPromise<ChatCompletion>;
  create(
    body: ChatCompletionCreateParamsStreaming,
    options?: RequestOptions,
  ): APIPromise<Stream<ChatCompletionChunk>>;
  create(
    body: ChatCompletionCreateParamsBase,
    options?: RequestOptions,
  ): APIPromise<Stream<ChatCompletionChunk> | ChatCompletion>;
  create(
    body: ChatCompletionCreateParams,
    options?: RequestOptions,
  ): APIPromise<ChatCompletion> | APIPromise<Stream<ChatCompletionChunk>> {
    if (this._client.provider === 'together' && (body.logprobs || body.top_logprobs != null)) {
      // Together's logprobs are an integer count with a different response shape.
      throw new UnsupportedFeatureError('together', 'chat.completions.create logprobs');
    }
    return this._client.post('/chat/completions', { body, ...options, stream: body.stream ?? false }) as
      | APIPromise<ChatCompletion>
      | APIPromise<Stream<ChatCompletionChunk>>;
  }
}

/** Text, or text parts. */
export type ChatTextContent = string | ChatTextPart[];

export interface ChatTextPart {
  type: 'text';
  text: string;
}

export interface ChatImagePart {
  type: 'image_url';
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' | 'original' };
}

export interface ChatInputAudioPart {
  type: 'input_audio';
  /** Base64 audio. */
  input_audio: { data: string; format: 'wav' | 'mp3' };
}

export interface ChatFilePart {
  type: 'file';
  file: { file_data?: string; file_id?: string; filename?: string };
}

export interface ChatRefusalPart {
  type: 'refusal';
  refusal: string;
}

/** A function call the model made. */
export interface ChatCompletionMessageToolCall {
  id: string;
  type: 'function';
  /** `arguments` is JSON-encoded. */
  function: { name: string; arguments: string };
}

/** One message of the conversation sent to the model. */
export type ChatCompletionMessageParam =
  | { role: 'system'; content: ChatTextContent; name?: string }
  | { role: 'developer'; content: ChatTextContent; name?: string }
  | {
      role: 'user';
      content: string | Array<ChatTextPart | ChatImagePart | ChatInputAudioPart | ChatFilePart>;
      name?: string;
    }
  | {
      role: 'assistant';
      content?: string | Array<ChatTextPart | ChatRefusalPart> | null;
      name?: string;
      refusal?: string | null;
      tool_calls?: ChatCompletionMessageToolCall[];
      audio?: { id: string } | null;
      /** Deprecated: use tool_calls. */
      function_call?: { name: string; arguments: string } | null;
    }
  | { role: 'tool'; content: ChatTextContent; tool_call_id: string };

/** A function the model may call. */
export interface ChatCompletionTool {
  type: 'function';
  function: {
    name: string;
    description?: string;
    /** JSON Schema of the arguments. */
    parameters?: Record<string, unknown>;
    strict?: boolean | null;
  };
}

export type ChatResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      json_schema: {
        name: string;
        description?: string;
        schema?: Record<string, unknown>;
        strict?: boolean | null;
      };
    };

export interface ChatCompletionCreateParamsBase {
  /** A base model id or a fine-tuned `ft:…` model. */
  model: string;
  messages: ChatCompletionMessageParam[];
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  /** Return the log probability of each output token. */
  logprobs?: boolean | null;
  /** With `logprobs`: this many most likely tokens per position, 0..20. */
  top_logprobs?: number | null;
  /** Deprecated alias of max_completion_tokens. */
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  /** Choices to generate. */
  n?: number | null;
  /** The same seed gives the same output. */
  seed?: number | null;
  /** Up to 4 sequences at which generation stops. */
  stop?: string | string[] | null;
  stream?: boolean | null;
  /** With `include_usage`, a last chunk carries `usage`. */
  stream_options?: { include_usage?: boolean } | null;
  /** 0..2; 0 is greedy. */
  temperature?: number | null;
  /** (0, 1] */
  top_p?: number | null;
  response_format?: ChatResponseFormat;
  tools?: ChatCompletionTool[];
  tool_choice?: 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };
  parallel_tool_calls?: boolean;
  user?: string;
  metadata?: Record<string, string> | null;
  store?: boolean | null;
  /** Accepted for compatibility; a local server has a single tier. */
  service_tier?: ServiceTier | null;
  /** Accepted for compatibility; no effect locally. */
  prompt_cache_key?: string | null;
  /** Accepted for compatibility; no effect locally. */
  safety_identifier?: string | null;
}

export type ServiceTier = 'auto' | 'default' | 'flex' | 'scale' | 'priority' | 'fast';

export interface ChatCompletionCreateParamsNonStreaming extends ChatCompletionCreateParamsBase {
  stream?: false | null;
}

export interface ChatCompletionCreateParamsStreaming extends ChatCompletionCreateParamsBase {
  stream: true;
}

export type ChatCompletionCreateParams =
  | ChatCompletionCreateParamsNonStreaming
  | ChatCompletionCreateParamsStreaming;

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface ChatCompletionTokenLogprob {
  token: string;
  logprob: number;
  /** UTF-8 bytes of the token. */
  bytes: number[] | null;
  top_logprobs: Array<{ token: string; logprob: number; bytes: number[] | null }>;
}

export interface ChatChoiceLogprobs {
  content: ChatCompletionTokenLogprob[] | null;
  refusal: ChatCompletionTokenLogprob[] | null;
}

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}

/** The message the model generated. */
export interface ChatCompletionMessage {
  role: 'assistant';
  content: string | null;
  refusal: string | null;
  tool_calls?: ChatCompletionMessageToolCall[];
}

/** A chat completion (`object: "chat.completion"`). */
export interface ChatCompletion {
  /** `chatcmpl-…` */
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: ChatCompletionMessage;
    finish_reason: ChatFinishReason;
    logprobs: ChatChoiceLogprobs | null;
  }>;
  usage?: CompletionUsage;
  system_fingerprint?: string;
  service_tier?: ServiceTier | null;
}

/** One streamed piece of a completion (`object: "chat.completion.chunk"`). */
export interface ChatCompletionChunk {
  /** The same on every chunk of one completion. */
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: {
      role?: 'assistant';
      content?: string | null;
      refusal?: string | null;
      tool_calls?: Array<{
        index: number;
        id?: string;
        type?: 'function';
        function?: { name?: string; arguments?: string };
      }>;
    };
    finish_reason: ChatFinishReason | null;
    logprobs?: ChatChoiceLogprobs | null;
  }>;
  /** Only on the last chunk, with `stream_options.include_usage`. */
  usage?: CompletionUsage | null;
  system_fingerprint?: string;
  service_tier?: ServiceTier | null;
}
