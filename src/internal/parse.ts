import { Stream } from '../core/streaming';
import type { APIResponseProps } from './request-options';

/**
 * Turns a response into the value a method resolves with, as openai-node does: JSON only for JSON media
 * types (`application/json`, `*+json`), text otherwise; 204 → null; an empty body → undefined.
 */
export async function defaultParseResponse<T>(props: APIResponseProps): Promise<T> {
  const { response, options, controller } = props;
  if (options.stream) return Stream.fromSSEResponse(response, controller) as T;
  if (options.binaryResponse) return response as T;
  if (response.status === 204) return null as T;
  const mediaType = response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (mediaType?.includes('application/json') || mediaType?.endsWith('+json')) {
    if (response.headers.get('content-length') === '0') return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
  return (await response.text()) as T;
}
