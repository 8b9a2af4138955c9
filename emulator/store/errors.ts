/**
 * An error the emulator answers with an HTTP status and OpenAI's error body
 * `{"error":{"message","type","param","code"}}`. Thrown by the store and the scheduler; the server maps it.
 */
export class EmulatorError extends Error {
  override readonly name = 'EmulatorError';

  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: string = status === 401
      ? 'authentication_error'
      : status >= 500
        ? 'server_error'
        : 'invalid_request_error',
  ) {
    super(message);
  }

  toBody(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A full disk (or quota) as the engine (strerror), Node (errno code) and SQLite word it. */
export function isOutOfSpace(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return true;
  const message = error instanceof Error ? error.message : String(error);
  return /no space left on device|ENOSPC|disk quota exceeded|EDQUOT|SQLITE_FULL|database or disk is full/i.test(
    message,
  );
}

/**
 * The 507 for a write that found the data folder's disk full: `insufficient_storage`, naming the folder (what the
 * user has to clean up). Sent with `x-should-retry: false`: retrying at once would fail the same way.
 */
export function insufficientStorage(dataDir: string, param: string | null = null): EmulatorError {
  return new EmulatorError(
    507,
    `The data folder ${dataDir} is out of disk space; free some space there, then retry.`,
    param,
    'insufficient_storage',
  );
}
