/** Together's chat completions: its `logprobs` integer becomes OpenAI's pair; the rest is the shared route. */
import type { ChatCompletionCreateParams } from '../../../contract/chat';
import { createChatCompletion } from '../../../routes/chat';
import type { RouteContext } from '../../../routes/context';
import type { TogetherRouteHandler } from './context';

export const togetherChatCompletion: TogetherRouteHandler<'togetherChatCompletion'> = (context) => {
  const {
    logprobs,
    echo: _echo,
    top_k: _k,
    min_p: _p,
    repetition_penalty: _r,
    context_length_exceeded_behavior: _c,
    safety_model: _s,
    ...rest
  } = context.body;
  const body: ChatCompletionCreateParams = {
    ...rest,
    ...(logprobs ? { logprobs: true, top_logprobs: logprobs } : {}),
  };
  return createChatCompletion({ ...context, body } as unknown as RouteContext<'createChatCompletion'>);
};
