const INITIAL_RETRY_DELAY_S = 0.5;
const MAX_RETRY_DELAY_S = 8;
const MAX_SERVER_DELAY_MS = 60_000;

/**
 * Exponential backoff as openai-node computes it: min(0.5 * 2^n, 8) seconds, less up to 25% jitter,
 * where n is the number of retries already made.
 */
export function backoffDelayMs(retriesMade: number): number {
  const seconds = Math.min(INITIAL_RETRY_DELAY_S * 2 ** retriesMade, MAX_RETRY_DELAY_S);
  const jitter = 1 - Math.random() * 0.25;
  return seconds * jitter * 1000;
}

/**
 * The delay a server asks for: `retry-after-ms` (milliseconds), else `retry-after` (seconds or an HTTP date).
 * Only honoured within 0..60 s; otherwise undefined so the caller falls back to backoff.
 */
export function serverRequestedDelayMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  let ms: number | undefined;
  const retryAfterMs = headers.get('retry-after-ms');
  if (retryAfterMs) {
    const value = Number.parseFloat(retryAfterMs);
    if (!Number.isNaN(value)) ms = value;
  }
  const retryAfter = headers.get('retry-after');
  if (ms === undefined && retryAfter) {
    const seconds = Number.parseFloat(retryAfter);
    ms = Number.isNaN(seconds) ? Date.parse(retryAfter) - Date.now() : seconds * 1000;
  }
  if (ms !== undefined && !Number.isNaN(ms) && ms >= 0 && ms <= MAX_SERVER_DELAY_MS) return ms;
  return undefined;
}
