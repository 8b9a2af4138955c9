/** Health, and chat completions (not served until the engine can generate: issue 5). */
import { badRequest } from '../http/errors';
import type { RouteHandler } from './context';

export const getHealth: RouteHandler<'getHealth'> = ({ services }) => ({
  status: 'ok',
  version: services.version,
});

export const createChatCompletion: RouteHandler<'createChatCompletion'> = ({ body }) => {
  throw badRequest(
    `Chat completions are not available in the tunekit emulator yet: the engine cannot generate text, so model '${body.model}' cannot be served. Fine-tune and download adapters instead.`,
    null,
    'unsupported_endpoint',
  );
};
