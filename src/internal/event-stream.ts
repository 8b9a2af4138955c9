import type { Tunekit } from '../client';
import { APIConnectionError, APIError, APIUserAbortError, TunekitError } from '../core/errors';
import { iterSSEMessages } from '../core/streaming';
import { backoffDelayMs } from './backoff';
import type { RequestOptions } from './request-options';
import { sleep } from './sleep';

export interface ReconnectingStreamOptions extends RequestOptions {
  /** Resume after this event id (sent as `Last-Event-ID` on the first request). */
  lastEventId?: string;
  /** Reconnections allowed in a row without receiving an event. Default 5. */
  maxReconnects?: number;
}

/**
 * Follows a server-sent event stream of JSON items across dropped connections: after a drop (an error, or
 * the body ending before `data: [DONE]`) it waits (the server's `retry:` value, else backoff) and reconnects
 * with `Last-Event-ID` set to the last `id:` seen. It ends at `data: [DONE]`.
 */
export async function* reconnectingEventStream<Item>(
  client: Tunekit,
  path: string,
  { lastEventId, maxReconnects = 5, signal, headers, ...options }: ReconnectingStreamOptions,
): AsyncGenerator<Item> {
  let lastId = lastEventId;
  let retryMs: number | undefined;
  let failures = 0;
  for (;;) {
    const controller = new AbortController();
    const linked = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
    let dropped: unknown;
    try {
      const response = await client
        .get(path, {
          ...options,
          signal: linked,
          headers: {
            ...(headers instanceof Headers ? Object.fromEntries(headers) : headers),
            accept: 'text/event-stream',
            ...(lastId ? { 'last-event-id': lastId } : {}),
          },
          binaryResponse: true,
        })
        .asResponse();
      const type = response.headers.get('content-type') ?? '';
      if (!type.includes('text/event-stream')) {
        void response.body?.cancel().catch(() => {});
        throw new TunekitError(`Expected a text/event-stream response from ${path}, got "${type}"`);
      }
      const onRetry = (ms: number) => {
        retryMs = ms;
      };
      for await (const sse of iterSSEMessages(response, { onRetry, signal: linked })) {
        if (sse.id) lastId = sse.id;
        if (sse.data.startsWith('[DONE]')) return;
        if (sse.event === 'error')
          throw new APIError(undefined, JSON.parse(sse.data), undefined, response.headers);
        failures = 0;
        yield JSON.parse(sse.data) as Item;
      }
      if (signal?.aborted) throw new APIUserAbortError();
    } catch (err) {
      if (signal?.aborted) throw new APIUserAbortError();
      // An HTTP error answer (4xx, or 5xx after the client's own retries) or a malformed stream is final.
      if (err instanceof TunekitError && !(err instanceof APIConnectionError)) throw err;
      dropped = err;
    } finally {
      controller.abort();
    }
    failures++;
    if (failures > maxReconnects) {
      throw new APIConnectionError({
        message: `Event stream ${path} dropped ${failures} times in a row; giving up`,
        cause: dropped instanceof Error ? dropped : undefined,
      });
    }
    await sleep(retryMs ?? backoffDelayMs(failures - 1), signal);
  }
}
