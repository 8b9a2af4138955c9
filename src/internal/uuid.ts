import { randomUUID } from 'node:crypto';

/** A fresh Idempotency-Key, generated once per call and reused across that call's retries. */
export function idempotencyKey(): string {
  return `tunekit-node-retry-${randomUUID()}`;
}
