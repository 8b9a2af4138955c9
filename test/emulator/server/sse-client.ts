/** Reads a live event stream for tests: collects `id`/`data` messages and comments until the server ends it. */
import { createParser } from 'eventsource-parser';
import { checkResponse, checkStreamedEvent } from './openapi-validator';

export interface StreamMessage {
  id: string | undefined;
  data: string;
}

export interface OpenStream {
  messages: StreamMessage[];
  comments: string[];
  /** Resolves when at least `n` messages arrived. */
  waitForMessages(n: number): Promise<void>;
  waitForComment(): Promise<void>;
  /** Resolves when the server closes the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openStream(url: string, headers: Record<string, string>): Promise<OpenStream> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  checkResponse(
    'GET',
    new URL(url).pathname,
    response.status,
    response.headers.get('content-type'),
    undefined,
  );
  if (!response.body) throw new Error('no body');
  const messages: StreamMessage[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const waiter of [...waiters]) waiter();
  };
  const parser = createParser({
    onEvent(event) {
      if (event.data !== '[DONE]') checkStreamedEvent(JSON.parse(event.data));
      messages.push({ id: event.id, data: event.data });
      wake();
    },
    onComment(comment) {
      comments.push(comment.trim());
      wake();
    },
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const ended = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    } finally {
      wake();
    }
  })();
  const until = (condition: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (condition()) {
          waiters.delete(check);
          resolve();
        }
      };
      waiters.add(check);
      check();
      ended.finally(check);
    });
  return {
    messages,
    comments,
    waitForMessages: (n) => until(() => messages.length >= n),
    waitForComment: () => until(() => comments.length > 0),
    ended,
    close: () => controller.abort(),
  };
}
