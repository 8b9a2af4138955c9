/** Opens the data folder: creates its layout, empties tmp, opens SQLite in WAL mode, migrates, sweeps orphans. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteAdapterRepo, SqliteCheckpointRepo, SqliteModelRepo } from './artifacts';
import { SqliteEventRepo } from './events';
import { SqliteFileRepo } from './files';
import { SqliteIdempotencyRepo } from './idempotency';
import type { DataPaths, JobUpdate, Store } from './index';
import { SqliteJobRepo } from './jobs';
import { migrate } from './schema';

export function dataPaths(root: string): DataPaths {
  const absolute = path.resolve(root);
  const jobs = path.join(absolute, 'jobs');
  return {
    root: absolute,
    database: path.join(absolute, 'tunekit.db'),
    files: path.join(absolute, 'files'),
    tmp: path.join(absolute, 'tmp'),
    jobs,
    adapters: path.join(absolute, 'adapters'),
    jobDir: (jobId: string) => path.join(jobs, jobId),
  };
}

class SqliteStore implements Store {
  readonly files: SqliteFileRepo;
  readonly jobs: SqliteJobRepo;
  readonly events: SqliteEventRepo;
  readonly checkpoints: SqliteCheckpointRepo;
  readonly adapters: SqliteAdapterRepo;
  readonly models: SqliteModelRepo;
  readonly idempotency: SqliteIdempotencyRepo;
  private readonly listeners = new Map<string, Set<(update: JobUpdate) => void>>();
  /** Updates written inside a transaction still open, delivered when it commits. */
  private pending: JobUpdate[] = [];

  constructor(
    readonly paths: DataPaths,
    private readonly db: Database.Database,
  ) {
    const notify = (update: JobUpdate) => this.notify(update);
    this.files = new SqliteFileRepo(db, paths);
    this.events = new SqliteEventRepo(db, notify);
    this.jobs = new SqliteJobRepo(db, this.events, notify);
    this.checkpoints = new SqliteCheckpointRepo(db);
    this.adapters = new SqliteAdapterRepo(db, paths);
    this.models = new SqliteModelRepo(db);
    this.idempotency = new SqliteIdempotencyRepo(db);
  }

  subscribe(jobId: string, listener: (update: JobUpdate) => void): () => void {
    let set = this.listeners.get(jobId);
    if (!set) {
      set = new Set();
      this.listeners.set(jobId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(jobId);
    };
  }

  /**
   * Runs `fn` in one transaction (nested calls join the outer one). Subscribers hear of its events and status
   * changes only once the outermost transaction commits, and not at all if it rolls back.
   */
  transaction<T>(fn: () => T): T {
    const outermost = !this.db.inTransaction;
    try {
      const result = this.db.transaction(fn).immediate();
      if (outermost) this.flush();
      return result;
    } catch (error) {
      if (outermost) this.pending = [];
      throw error;
    }
  }

  deleteJob(projectId: string, jobId: string): boolean {
    const adapterIds = this.transaction(() => {
      if (!this.jobs.get(projectId, jobId)) return undefined;
      const ids = this.db
        .prepare('SELECT id FROM adapters WHERE project_id = ? AND job_id = ?')
        .pluck()
        .all(projectId, jobId) as string[];
      for (const table of ['events', 'checkpoints', 'adapters', 'models']) {
        this.db.prepare(`DELETE FROM ${table} WHERE job_id = ?`).run(jobId);
      }
      this.db.prepare('DELETE FROM jobs WHERE id = ?').run(jobId);
      return ids;
    });
    if (!adapterIds) return false;
    // After the commit: a crash here leaves folders without rows, which the next start sweeps away.
    for (const id of adapterIds) {
      fs.rmSync(path.join(this.paths.adapters, id), { recursive: true, force: true });
      fs.rmSync(path.join(this.paths.root, 'merged', id), { recursive: true, force: true });
    }
    fs.rmSync(this.paths.jobDir(jobId), { recursive: true, force: true });
    return true;
  }

  close(): void {
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }

  private notify(update: JobUpdate): void {
    if (this.db.inTransaction) {
      this.pending.push(update);
      return;
    }
    this.deliver(update);
  }

  private flush(): void {
    const updates = this.pending;
    this.pending = [];
    for (const update of updates) this.deliver(update);
  }

  private deliver(update: JobUpdate): void {
    const set = this.listeners.get(update.jobId);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(update);
      } catch {
        // A subscriber's failure (e.g. a closed socket) must not break the writer; the subscriber cleans up.
      }
    }
  }
}

/**
 * Opens (creating if needed) the data folder at `root`. One process at a time owns a data folder: the database is
 * held with an exclusive lock, and a second opener gets an error instead of emptying the first one's tmp folder.
 */
export function openStore(root: string): Store {
  const paths = dataPaths(root);
  for (const dir of [paths.root, paths.files, paths.jobs, paths.adapters, paths.tmp]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  // timeout 0: a folder locked by another process is refused at once rather than after a wait.
  const db = new Database(paths.database, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    // FULL: a committed transaction survives power loss too, not only a process kill.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // Takes the exclusive lock now (it is held until close) and fails at once if another process holds it.
    db.exec('BEGIN IMMEDIATE; COMMIT');
    migrate(db);
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      throw new Error(
        `The data folder ${paths.root} is in use by another tunekit process; stop it or use another --data-dir.`,
      );
    }
    throw error;
  }
  // Uploads and copies cut off by a crash live only in tmp: nothing refers to them.
  fs.rmSync(paths.tmp, { recursive: true, force: true });
  fs.mkdirSync(paths.tmp);
  const store = new SqliteStore(paths, db);
  store.files.sweepOrphans();
  store.adapters.sweepOrphans();
  store.idempotency.clearPending();
  return store;
}
