/**
 * `Idempotency-Key` support: the first request with a key runs and its response is stored; repeats get the stored
 * response. A pending row marks a request in flight, and an in-process promise map lets concurrent duplicates wait
 * for it instead of running again. Pending rows left by a killed process are cleared at open.
 */
import type Database from 'better-sqlite3';
import { EmulatorError } from './errors';
import type { IdempotencyRepo, IdempotencyScope, StoredResponse } from './index';
import { nowSeconds, prepared } from './paging';

interface IdempotencyRow {
  fingerprint: string;
  state: 'pending' | 'done';
  status: number | null;
  body: string | null;
}

export class SqliteIdempotencyRepo implements IdempotencyRepo {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly db: Database.Database) {}

  async execute(
    scope: IdempotencyScope,
    handler: () => Promise<StoredResponse>,
  ): Promise<{ response: StoredResponse; replayed: boolean }> {
    const mapKey = JSON.stringify([scope.projectId, scope.route, scope.key]);
    for (;;) {
      const row = prepared(
        this.db,
        'SELECT fingerprint, state, status, body FROM idempotency WHERE project_id = ? AND route = ? AND key = ?',
      ).get(scope.projectId, scope.route, scope.key) as IdempotencyRow | undefined;
      if (row && row.fingerprint !== scope.fingerprint) {
        throw new EmulatorError(
          400,
          `Keys for idempotent requests can only be used with the same parameters they were first used with. ` +
            `Try using a key other than '${scope.key}' if you meant to execute a different request.`,
          'Idempotency-Key',
          'idempotency_key_reused',
        );
      }
      if (row?.state === 'done') {
        return {
          response: { status: row.status as number, body: JSON.parse(row.body as string) },
          replayed: true,
        };
      }
      const running = this.inFlight.get(mapKey);
      if (running) {
        // A duplicate arrived while the first is running: wait for it, then read what it stored (or run if it failed).
        await running.catch(() => undefined);
        continue;
      }
      return this.runFirst(scope, mapKey, handler);
    }
  }

  private async runFirst(
    scope: IdempotencyScope,
    mapKey: string,
    handler: () => Promise<StoredResponse>,
  ): Promise<{ response: StoredResponse; replayed: boolean }> {
    prepared(
      this.db,
      `INSERT OR REPLACE INTO idempotency (project_id, route, key, fingerprint, state, created_at)
         VALUES (?, ?, ?, ?, 'pending', ?)`,
    ).run(scope.projectId, scope.route, scope.key, scope.fingerprint, nowSeconds());
    const run = (async () => {
      try {
        const response = await handler();
        if (response.status < 500) {
          prepared(
            this.db,
            `UPDATE idempotency SET state = 'done', status = ?, body = ?
               WHERE project_id = ? AND route = ? AND key = ?`,
          ).run(response.status, JSON.stringify(response.body), scope.projectId, scope.route, scope.key);
        } else {
          this.forget(scope);
        }
        return response;
      } catch (error) {
        this.forget(scope);
        throw error;
      }
    })();
    this.inFlight.set(mapKey, run);
    try {
      return { response: await run, replayed: false };
    } finally {
      this.inFlight.delete(mapKey);
    }
  }

  private forget(scope: IdempotencyScope): void {
    prepared(this.db, 'DELETE FROM idempotency WHERE project_id = ? AND route = ? AND key = ?').run(
      scope.projectId,
      scope.route,
      scope.key,
    );
  }

  /** Requests in flight when the last process died never finished: forget them so a retry runs. */
  clearPending(): void {
    prepared(this.db, "DELETE FROM idempotency WHERE state = 'pending'").run();
  }
}
