/**
 * Together's chat request: OpenAI's, except `logprobs` is an integer (top log-probs per token, 0–20) and a few
 * sampling knobs of its own. Those the engine does not implement are accepted only at their neutral value, so a
 * request never silently samples differently from what it asked for.
 */
import { z } from 'zod';
import { ChatCompletionCreateParamsSchema } from '../../../contract/chat';

const neutral = <const V extends number>(value: V, what: string) =>
  z
    .literal(value)
    .nullable()
    .optional()
    .describe(
      `${what}: only ${value} (no effect) is supported by the tunekit emulator; other values are a 400.`,
    );

export const TogetherChatRequestSchema = ChatCompletionCreateParamsSchema.omit({
  logprobs: true,
  top_logprobs: true,
})
  .extend({
    logprobs: z
      .number()
      .int()
      .min(0)
      .max(20)
      .nullable()
      .optional()
      .describe('Top log-probabilities to return per generated token (0 = none).'),
    echo: z.literal(false).optional().describe('Echoing the prompt is not supported (only false).'),
    top_k: neutral(0, 'Top-k sampling'),
    min_p: neutral(0, 'Min-p sampling'),
    repetition_penalty: neutral(1, 'Repetition penalty'),
    context_length_exceeded_behavior: z.enum(['error']).optional(),
    safety_model: z.null().optional(),
  })
  .meta({ id: 'TogetherChatRequest', description: 'Body of Together’s `POST /chat/completions`.' });
export type TogetherChatRequest = z.infer<typeof TogetherChatRequestSchema>;
