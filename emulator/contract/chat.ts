/** Chat completions, OpenAI's request and response shapes (non-streamed and streamed chunks). */
import { z } from 'zod';
import { idSchema, MetadataSchema, UnixSecondsSchema } from './common';

export const ChatTextPartSchema = z
  .strictObject({ type: z.literal('text'), text: z.string() })
  .meta({ id: 'ChatTextPart', description: 'A text content part.' });

export const ChatImagePartSchema = z
  .strictObject({
    type: z.literal('image_url'),
    image_url: z.strictObject({
      url: z.string().min(1),
      detail: z.enum(['auto', 'low', 'high', 'original']).optional(),
    }),
  })
  .meta({ id: 'ChatImagePart', description: 'An image content part (user messages only).' });

export const ChatInputAudioPartSchema = z
  .strictObject({
    type: z.literal('input_audio'),
    input_audio: z.strictObject({
      data: z.string().describe('Base64 audio.'),
      format: z.enum(['wav', 'mp3']),
    }),
  })
  .meta({ id: 'ChatInputAudioPart', description: 'An audio content part (user messages only).' });

export const ChatFilePartSchema = z
  .strictObject({
    type: z.literal('file'),
    file: z.strictObject({
      file_data: z.string().optional().describe('Base64 file content.'),
      file_id: z.string().optional(),
      filename: z.string().optional(),
    }),
  })
  .meta({ id: 'ChatFilePart', description: 'A file content part (user messages only).' });

export const ChatRefusalPartSchema = z
  .strictObject({ type: z.literal('refusal'), refusal: z.string() })
  .meta({ id: 'ChatRefusalPart', description: 'A refusal content part (assistant messages only).' });

/** OpenAI's service tiers; the local server has one tier and answers `default`. */
const SERVICE_TIERS = ['auto', 'default', 'flex', 'scale', 'priority', 'fast'] as const;

const textContent = z.union([z.string(), z.array(ChatTextPartSchema)]);

export const ChatToolCallSchema = z
  .object({
    id: z.string(),
    type: z.literal('function'),
    function: z.object({ name: z.string(), arguments: z.string().describe('JSON-encoded arguments.') }),
  })
  .meta({ id: 'ChatToolCall', description: 'A function call the model made.' });

const systemMessage = z.strictObject({
  role: z.literal('system'),
  content: textContent,
  name: z.string().optional(),
});
const developerMessage = z.strictObject({
  role: z.literal('developer'),
  content: textContent,
  name: z.string().optional(),
});
const userMessage = z.strictObject({
  role: z.literal('user'),
  content: z.union([
    z.string(),
    z.array(
      z.discriminatedUnion('type', [
        ChatTextPartSchema,
        ChatImagePartSchema,
        ChatInputAudioPartSchema,
        ChatFilePartSchema,
      ]),
    ),
  ]),
  name: z.string().optional(),
});
const assistantMessage = z.strictObject({
  role: z.literal('assistant'),
  content: z
    .union([z.string(), z.array(z.discriminatedUnion('type', [ChatTextPartSchema, ChatRefusalPartSchema]))])
    .nullable()
    .optional(),
  name: z.string().optional(),
  refusal: z.string().nullable().optional(),
  tool_calls: z.array(ChatToolCallSchema).optional(),
  audio: z
    .strictObject({ id: z.string() })
    .nullable()
    .optional()
    .describe('A previous audio response, by id.'),
  function_call: z
    .strictObject({ name: z.string(), arguments: z.string() })
    .nullable()
    .optional()
    .describe('Deprecated: use tool_calls.'),
});
const toolMessage = z.strictObject({
  role: z.literal('tool'),
  content: textContent,
  tool_call_id: z.string(),
});

export const ChatMessageParamSchema = z
  .discriminatedUnion('role', [systemMessage, developerMessage, userMessage, assistantMessage, toolMessage])
  .meta({ id: 'ChatMessageParam', description: 'One message of the conversation sent to the model.' });
export type ChatMessageParam = z.infer<typeof ChatMessageParamSchema>;

export const ChatToolSchema = z
  .strictObject({
    type: z.literal('function'),
    function: z.strictObject({
      name: z.string().min(1).max(64),
      description: z.string().optional(),
      parameters: z.record(z.string(), z.unknown()).optional().describe('JSON Schema of the arguments.'),
      strict: z.boolean().nullable().optional(),
    }),
  })
  .meta({ id: 'ChatTool', description: 'A function the model may call.' });

export const ChatResponseFormatSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('text') }),
    z.strictObject({ type: z.literal('json_object') }),
    z.strictObject({
      type: z.literal('json_schema'),
      json_schema: z.strictObject({
        name: z.string().min(1).max(64),
        description: z.string().optional(),
        schema: z.record(z.string(), z.unknown()).optional(),
        strict: z.boolean().nullable().optional(),
      }),
    }),
  ])
  .meta({ id: 'ChatResponseFormat', description: 'Output format constraint.' });

export const ChatCompletionCreateParamsSchema = z
  .strictObject({
    model: z.string().min(1).describe('A base model id or a fine-tuned `ft:…` model.'),
    messages: z.array(ChatMessageParamSchema).min(1),
    frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
    presence_penalty: z.number().min(-2).max(2).nullable().optional(),
    logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullable().optional(),
    logprobs: z.boolean().nullable().optional().describe('Return the log probability of each output token.'),
    top_logprobs: z
      .number()
      .int()
      .min(0)
      .max(20)
      .nullable()
      .optional()
      .describe('With `logprobs`, also return this many most likely tokens per position (0 to 20).'),
    max_tokens: z
      .number()
      .int()
      .min(1)
      .nullable()
      .optional()
      .describe('Deprecated alias of max_completion_tokens.'),
    max_completion_tokens: z.number().int().min(1).nullable().optional(),
    n: z.number().int().min(1).max(128).nullable().optional().describe('Choices to generate. Default 1.'),
    seed: z
      .number()
      .int()
      .nullable()
      .optional()
      .describe('Sampling seed: the same seed gives the same output.'),
    stop: z
      .union([z.string(), z.array(z.string()).min(1).max(4)])
      .nullable()
      .optional()
      .describe('Up to 4 sequences at which generation stops (not included in the output).'),
    stream: z
      .boolean()
      .nullable()
      .optional()
      .describe('Send chunks as server-sent events, ending with `[DONE]`.'),
    stream_options: z
      .strictObject({ include_usage: z.boolean().optional() })
      .nullable()
      .optional()
      .describe('With `include_usage`, a last chunk carries `usage` and no choices.'),
    temperature: z.number().min(0).max(2).nullable().optional().describe('0 to 2. Default 1; 0 is greedy.'),
    top_p: z
      .number()
      .gt(0)
      .max(1)
      .nullable()
      .optional()
      .describe('Nucleus sampling mass, (0, 1]. Default 1.'),
    response_format: ChatResponseFormatSchema.optional(),
    tools: z.array(ChatToolSchema).optional(),
    tool_choice: z
      .union([
        z.enum(['none', 'auto', 'required']),
        z.strictObject({ type: z.literal('function'), function: z.strictObject({ name: z.string() }) }),
      ])
      .optional(),
    parallel_tool_calls: z.boolean().optional(),
    user: z.string().optional(),
    metadata: MetadataSchema.nullable().optional(),
    store: z.boolean().nullable().optional(),
    service_tier: z
      .enum(SERVICE_TIERS)
      .nullable()
      .optional()
      .describe('Accepted for compatibility; a local server has a single tier.'),
    prompt_cache_key: z.string().nullable().optional().describe('Accepted for compatibility; has no effect.'),
    safety_identifier: z
      .string()
      .nullable()
      .optional()
      .describe('Accepted for compatibility; has no effect.'),
  })
  .meta({ id: 'ChatCompletionCreateParams', description: 'Body of `POST /v1/chat/completions`.' });
export type ChatCompletionCreateParams = z.infer<typeof ChatCompletionCreateParamsSchema>;

export const ChatTopLogprobSchema = z
  .object({ token: z.string(), logprob: z.number(), bytes: z.array(z.number().int()).nullable() })
  .meta({ id: 'ChatTopLogprob', description: 'A candidate token and its log probability.' });

export const ChatTokenLogprobSchema = z
  .object({
    token: z.string(),
    logprob: z.number(),
    bytes: z.array(z.number().int()).nullable().describe('UTF-8 bytes of the token.'),
    top_logprobs: z.array(ChatTopLogprobSchema),
  })
  .meta({ id: 'ChatTokenLogprob', description: 'Log probability of one output token.' });

export const ChatChoiceLogprobsSchema = z
  .object({
    content: z.array(ChatTokenLogprobSchema).nullable(),
    refusal: z.array(ChatTokenLogprobSchema).nullable(),
  })
  .meta({
    id: 'ChatChoiceLogprobs',
    description: 'Log probabilities of a choice, when `logprobs` was asked.',
  });

export const ChatFinishReasonSchema = z
  .enum(['stop', 'length', 'tool_calls', 'content_filter', 'function_call'])
  .meta({ id: 'ChatFinishReason', description: 'Why generation stopped.' });

export const CompletionUsageSchema = z
  .object({
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
    total_tokens: z.number().int().nonnegative(),
    prompt_tokens_details: z.object({ cached_tokens: z.number().int().optional() }).optional(),
    completion_tokens_details: z.object({ reasoning_tokens: z.number().int().optional() }).optional(),
  })
  .meta({ id: 'CompletionUsage', description: 'Token counts of a request.' });

export const ChatCompletionMessageSchema = z
  .object({
    role: z.literal('assistant'),
    content: z.string().nullable(),
    refusal: z.string().nullable(),
    tool_calls: z.array(ChatToolCallSchema).optional(),
  })
  .meta({ id: 'ChatCompletionMessage', description: 'The message the model generated.' });

export const ChatCompletionSchema = z
  .object({
    id: idSchema('chatCompletion'),
    object: z.literal('chat.completion'),
    created: UnixSecondsSchema,
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int().nonnegative(),
        message: ChatCompletionMessageSchema,
        finish_reason: ChatFinishReasonSchema,
        logprobs: ChatChoiceLogprobsSchema.nullable(),
      }),
    ),
    usage: CompletionUsageSchema.optional(),
    system_fingerprint: z.string().optional(),
    service_tier: z.enum(SERVICE_TIERS).nullable().optional(),
  })
  .meta({ id: 'ChatCompletion', description: 'A chat completion (`chat.completion`).' });
export type ChatCompletion = z.infer<typeof ChatCompletionSchema>;

export const ChatCompletionChunkSchema = z
  .object({
    id: idSchema('chatCompletion').describe('The same id on every chunk of one completion.'),
    object: z.literal('chat.completion.chunk'),
    created: UnixSecondsSchema,
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int().nonnegative(),
        delta: z.object({
          role: z.literal('assistant').optional(),
          content: z.string().nullable().optional(),
          refusal: z.string().nullable().optional(),
          tool_calls: z
            .array(
              z.object({
                index: z.number().int().nonnegative(),
                id: z.string().optional(),
                type: z.literal('function').optional(),
                function: z
                  .object({ name: z.string().optional(), arguments: z.string().optional() })
                  .optional(),
              }),
            )
            .optional(),
        }),
        finish_reason: ChatFinishReasonSchema.nullable(),
        logprobs: ChatChoiceLogprobsSchema.nullable().optional(),
      }),
    ),
    usage: CompletionUsageSchema.nullable()
      .optional()
      .describe('Only on the last chunk, with include_usage.'),
    system_fingerprint: z.string().optional(),
    service_tier: z.enum(SERVICE_TIERS).nullable().optional(),
  })
  .meta({
    id: 'ChatCompletionChunk',
    description: 'One server-sent event of a streamed completion (`chat.completion.chunk`).',
  });
export type ChatCompletionChunk = z.infer<typeof ChatCompletionChunkSchema>;

/** The SSE `data:` line that ends a streamed chat completion. */
export const CHAT_STREAM_DONE = '[DONE]';
