/**
 * SQLite schema, versioned by `PRAGMA user_version`: migration i brings the database from version i to i + 1.
 * Append new migrations; never edit a released one.
 *
 * Every table has an INTEGER PRIMARY KEY `n` that grows with insertion, which gives lists their newest-first order
 * and `after` cursors their position; the public id is a UNIQUE column beside it.
 */
import type Database from 'better-sqlite3';

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE files (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    filename TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    status_details TEXT
  );
  CREATE INDEX files_by_project ON files (project_id, n);

  CREATE TABLE jobs (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    status TEXT NOT NULL,
    metadata TEXT,
    body TEXT NOT NULL,
    runtime TEXT NOT NULL
  );
  CREATE INDEX jobs_by_project ON jobs (project_id, n);
  CREATE INDEX jobs_by_status ON jobs (status, n);

  CREATE TABLE events (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL REFERENCES jobs (id),
    seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT,
    UNIQUE (job_id, seq)
  );

  CREATE TABLE checkpoints (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    job_id TEXT NOT NULL REFERENCES jobs (id),
    step INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    model_name TEXT NOT NULL,
    metrics TEXT NOT NULL,
    adapter_id TEXT
  );
  CREATE INDEX checkpoints_by_job ON checkpoints (job_id, step);

  CREATE TABLE adapters (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    fine_tuned_model TEXT NOT NULL,
    base_model TEXT NOT NULL,
    step INTEGER NOT NULL,
    peft_type TEXT NOT NULL,
    r INTEGER NOT NULL,
    lora_alpha REAL NOT NULL,
    target_modules TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX adapters_by_project ON adapters (project_id, n);

  CREATE TABLE models (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    base_model TEXT NOT NULL,
    adapter_id TEXT,
    weights_dir TEXT,
    checkpoint_step INTEGER,
    created INTEGER NOT NULL,
    owned_by TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    UNIQUE (project_id, id)
  );

  CREATE TABLE idempotency (
    project_id TEXT NOT NULL,
    route TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, route, key)
  );
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Applies the migrations the database lacks, each in its own transaction with its version bump. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `The data folder's database has schema version ${current}, newer than this tunekit (${SCHEMA_VERSION}). ` +
        'Upgrade tunekit or use another --data-dir.',
    );
  }
  for (let version = current; version < SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
