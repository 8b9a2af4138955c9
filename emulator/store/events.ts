/** Job events: a monotonic `seq` per job (SSE replay) beside the public `ftevent-…` id. */
import type Database from 'better-sqlite3';
import { newId } from '../contract/common';
import type { FineTuningJobEvent } from '../contract/jobs';
import type { CursorQuery, EventRepo, JobUpdate, NewEvent, Page, StoredEvent } from './index';
import { nowSeconds, prepared } from './paging';

interface EventRow {
  n: number;
  id: string;
  job_id: string;
  seq: number;
  created_at: number;
  level: string;
  message: string;
  type: string;
  data: string | null;
}

function toEvent(row: EventRow): FineTuningJobEvent {
  return {
    id: row.id,
    object: 'fine_tuning.job.event',
    created_at: row.created_at,
    level: row.level as FineTuningJobEvent['level'],
    message: row.message,
    type: row.type as 'message' | 'metrics',
    data: row.data === null ? null : JSON.parse(row.data),
  };
}

export class SqliteEventRepo implements EventRepo {
  constructor(
    private readonly db: Database.Database,
    private readonly notify: (update: JobUpdate) => void,
  ) {}

  append(jobId: string, event: NewEvent): StoredEvent {
    const stored = this.db.transaction(() => this.insert(jobId, event)).immediate();
    this.notify({ kind: 'event', jobId, ...stored });
    return stored;
  }

  /** Inserts an event inside the caller's transaction; the caller notifies subscribers after commit. */
  insert(jobId: string, event: NewEvent): StoredEvent {
    const last = prepared(this.db, 'SELECT MAX(seq) FROM events WHERE job_id = ?').pluck().get(jobId) as
      | number
      | null;
    const row: Omit<EventRow, 'n'> = {
      id: newId('fineTuningJobEvent'),
      job_id: jobId,
      seq: (last ?? 0) + 1,
      created_at: nowSeconds(),
      level: event.level ?? 'info',
      message: event.message,
      type: event.type ?? 'message',
      data: event.data === null ? null : JSON.stringify(event.data ?? {}),
    };
    prepared(
      this.db,
      `INSERT INTO events (id, job_id, seq, created_at, level, message, type, data)
         VALUES (@id, @job_id, @seq, @created_at, @level, @message, @type, @data)`,
    ).run(row);
    return { seq: row.seq, event: toEvent({ n: 0, ...row }) };
  }

  list(projectId: string, jobId: string, query: CursorQuery): Page<FineTuningJobEvent> {
    if (!prepared(this.db, 'SELECT 1 FROM jobs WHERE project_id = ? AND id = ?').get(projectId, jobId))
      return { data: [], has_more: false };
    let cursor = Number.MAX_SAFE_INTEGER;
    if (query.after !== undefined) {
      const seq = this.seqOf(jobId, query.after);
      if (seq === undefined) return { data: [], has_more: false };
      cursor = seq;
    }
    const rows = prepared(
      this.db,
      'SELECT * FROM events WHERE job_id = ? AND seq < ? ORDER BY seq DESC LIMIT (SELECT ?)',
    ).all(jobId, cursor, query.limit + 1) as EventRow[];
    return { data: rows.slice(0, query.limit).map(toEvent), has_more: rows.length > query.limit };
  }

  since(jobId: string, seq: number): StoredEvent[] {
    const rows = prepared(this.db, 'SELECT * FROM events WHERE job_id = ? AND seq > ? ORDER BY seq ASC').all(
      jobId,
      seq,
    ) as EventRow[];
    return rows.map((row) => ({ seq: row.seq, event: toEvent(row) }));
  }

  seqOf(jobId: string, eventId: string): number | undefined {
    return prepared(this.db, 'SELECT seq FROM events WHERE job_id = ? AND id = ?')
      .pluck()
      .get(jobId, eventId) as number | undefined;
  }
}
