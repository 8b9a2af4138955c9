import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { APIError, isAbortError, TunekitError } from './errors';

export type { EventSourceMessage };

/**
 * Yields the server-sent events of a response body as eventsource-parser reads them.
 * `onRetry` receives the server's `retry:` field (milliseconds). Aborting `signal` ends the iteration even when
 * the body is not wired to the request's signal (a custom fetch, a mocked response).
 */
export async function* iterSSEMessages(
  response: Response,
  { onRetry, signal }: { onRetry?: (ms: number) => void; signal?: AbortSignal } = {},
): AsyncGenerator<EventSourceMessage> {
  if (!response.body) throw new TunekitError('Attempted to iterate over a response with no body');
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event), onRetry: (ms) => onRetry?.(ms) });
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  if (signal?.aborted) cancel();
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      while (pending.length > 0) yield pending.shift()!;
    }
    parser.feed(decoder.decode());
    while (pending.length > 0) yield pending.shift()!;
  } finally {
    signal?.removeEventListener('abort', cancel);
    reader.releaseLock();
  }
}

/**
 * A stream of JSON items sent as `data:` lines, ending at `data: [DONE]`. Iterate it once with `for await`;
 * `controller.abort()` stops it (the loop then ends quietly). An `error` event, or a data payload with an
 * `error` key, is thrown as an APIError.
 */
export class Stream<Item> implements AsyncIterable<Item> {
  constructor(
    private readonly iterator: () => AsyncIterator<Item>,
    /** Aborting this controller cancels the underlying HTTP request. */
    readonly controller: AbortController,
  ) {}

  static fromSSEResponse<Item>(response: Response, controller: AbortController): Stream<Item> {
    let consumed = false;
    async function* iterator(): AsyncGenerator<Item> {
      if (consumed) throw new TunekitError('Cannot iterate over a consumed stream.');
      consumed = true;
      let done = false;
      try {
        for await (const sse of iterSSEMessages(response, { signal: controller.signal })) {
          if (sse.data.startsWith('[DONE]')) {
            done = true;
            break;
          }
          const data = parseJSON(sse.data);
          const error = (data as { error?: object } | null)?.error;
          if (sse.event === 'error' || error) {
            throw new APIError(undefined, error ?? (data as object), undefined, response.headers);
          }
          yield data as Item;
        }
        done = true;
      } catch (err) {
        if (isAbortError(err) || controller.signal.aborted) return;
        throw err;
      } finally {
        if (!done) controller.abort();
        else void response.body?.cancel().catch(() => {});
      }
    }
    return new Stream(iterator, controller);
  }

  [Symbol.asyncIterator](): AsyncIterator<Item> {
    return this.iterator();
  }
}

function parseJSON(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    throw new TunekitError(`Could not parse server-sent event data as JSON: ${data}`);
  }
}
