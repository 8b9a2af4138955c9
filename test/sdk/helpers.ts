import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, vi } from 'vitest';
import { type ClientOptions, Tunekit } from '../../src/index';

export const BASE_URL = 'http://tunekit.test/v1';

/** A client pointed at the msw-mocked base URL. */
export function makeClient(options: ClientOptions = {}): Tunekit {
  return new Tunekit({ apiKey: 'tk-test', baseURL: BASE_URL, ...options });
}

/** An msw server for this test file; unhandled requests fail the test. */
export function useMswServer() {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
  afterEach(() => server.resetHandlers());
  afterAll(() => server.close());
  return server;
}

/** A JSON response with the content type and request id the API sends. */
export function json(
  body: unknown,
  init: { status?: number; headers?: Record<string, string> } = {},
): Response {
  return new Response(JSON.stringify(body), {
    status: init.status ?? 200,
    headers: { 'content-type': 'application/json', 'x-request-id': 'req_test', ...init.headers },
  });
}

/** The API's error body. */
export function errorBody(message: string, extra: Record<string, unknown> = {}) {
  return { error: { message, type: 'invalid_request_error', param: null, code: null, ...extra } };
}

/**
 * Settles `promise` while fake timers are installed, advancing the clock 10 ms at a time so that every
 * timer the SDK sets (retry sleeps) fires in order. Returns the settled outcome.
 */
export async function settleWithFakeTimers<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  let done = false;
  const outcome: { value?: T; error?: unknown } = {};
  promise.then(
    (value) => {
      outcome.value = value;
      done = true;
    },
    (error) => {
      outcome.error = error;
      done = true;
    },
  );
  for (let i = 0; i < 100_000 && !done; i++) await vi.advanceTimersByTimeAsync(10);
  if (!done) throw new Error('promise did not settle');
  return outcome;
}

/** Builds a text/event-stream body from raw SSE text pieces; `end: 'error'` breaks the connection. */
export function sseStream(pieces: string[], end: 'close' | 'error' = 'close'): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream(
    {
      start(controller) {
        for (const piece of pieces) controller.enqueue(encoder.encode(piece));
        if (end === 'close') controller.close();
      },
      // Called once the reader has drained every piece: only then does the connection break.
      pull(controller) {
        if (end === 'error') controller.error(new Error('connection reset'));
      },
    },
    { highWaterMark: 0 },
  );
}

export const sseHeaders = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };
