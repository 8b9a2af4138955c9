/** Fine-tuning jobs and their events. A job's wire object is stored whole (JSON) beside its indexed columns. */
import { randomInt } from 'node:crypto';
import type Database from 'better-sqlite3';
import { newId } from '../contract/common';
import type { FineTuningJob, FineTuningMethod, JobCreateParams } from '../contract/jobs';
import type { SqliteEventRepo } from './events';
import type {
  JobCreateInput,
  JobListQuery,
  JobRecord,
  JobRepo,
  JobRuntime,
  JobTransition,
  JobUpdate,
  NewEvent,
  Page,
  StoredEvent,
} from './index';
import { nowSeconds, prepared } from './paging';

interface JobRow {
  n: number;
  id: string;
  project_id: string;
  status: string;
  metadata: string | null;
  body: string;
  runtime: string;
}

function toRecord(row: JobRow): JobRecord {
  return { projectId: row.project_id, job: JSON.parse(row.body), runtime: JSON.parse(row.runtime) };
}

/**
 * The method a job runs, with every hyperparameter the user left out set to "auto". The deprecated top-level
 * `hyperparameters` fill a supervised method when `method` is absent.
 */
export function normalizeMethod(params: JobCreateParams): FineTuningMethod {
  const method = params.method ?? { type: 'supervised' as const };
  const autoThree = { batch_size: 'auto', learning_rate_multiplier: 'auto', n_epochs: 'auto' } as const;
  switch (method.type) {
    case 'supervised':
      return {
        type: 'supervised',
        supervised: {
          hyperparameters: {
            ...autoThree,
            ...params.hyperparameters,
            ...method.supervised?.hyperparameters,
          },
        },
      };
    case 'dpo':
      return {
        type: 'dpo',
        dpo: { hyperparameters: { ...autoThree, beta: 'auto', ...method.dpo?.hyperparameters } },
      };
    case 'kto':
      return {
        type: 'kto',
        kto: { hyperparameters: { ...autoThree, beta: 'auto', ...method.kto?.hyperparameters } },
      };
    case 'reinforcement':
      return method;
  }
}

/** The top-level `hyperparameters` of a job: the OpenAI three, copied from a supervised method (null otherwise). */
export function topLevelHyperparameters(method: FineTuningMethod): FineTuningJob['hyperparameters'] {
  const h = method.type === 'supervised' ? method.supervised?.hyperparameters : undefined;
  if (!h) return null;
  return {
    batch_size: h.batch_size,
    learning_rate_multiplier: h.learning_rate_multiplier,
    n_epochs: h.n_epochs,
  };
}

export class SqliteJobRepo implements JobRepo {
  constructor(
    private readonly db: Database.Database,
    private readonly events: SqliteEventRepo,
    private readonly notify: (update: JobUpdate) => void,
  ) {}

  create(projectId: string, input: JobCreateInput): FineTuningJob {
    const { params } = input;
    const method = normalizeMethod(params);
    const job: FineTuningJob = {
      id: newId('fineTuningJob'),
      object: 'fine_tuning.job',
      created_at: nowSeconds(),
      error: null,
      fine_tuned_model: null,
      finished_at: null,
      hyperparameters: topLevelHyperparameters(method),
      model: params.model,
      organization_id: input.organizationId,
      result_files: [],
      seed: params.seed ?? randomInt(0, 2147483647),
      status: 'validating_files',
      trained_tokens: null,
      training_file: params.training_file,
      validation_file: params.validation_file ?? null,
      estimated_finish: null,
      integrations: params.integrations ?? [],
      metadata: params.metadata ?? null,
      method,
      user_provided_suffix: params.suffix ?? null,
      training_type: params.training_type ?? null,
      ...(params.n_checkpoints === undefined ? {} : { n_checkpoints: params.n_checkpoints }),
    };
    const runtime: JobRuntime = { attempts: 0 };
    const validating = job.validation_file
      ? `Validating training file: ${job.training_file} and validation file: ${job.validation_file}`
      : `Validating training file: ${job.training_file}`;
    const events: StoredEvent[] = [];
    this.db.transaction(() => {
      prepared(
        this.db,
        'INSERT INTO jobs (id, project_id, status, metadata, body, runtime) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(
        job.id,
        projectId,
        job.status,
        job.metadata ? JSON.stringify(job.metadata) : null,
        JSON.stringify(job),
        JSON.stringify(runtime),
      );
      events.push(this.events.insert(job.id, { message: `Created fine-tuning job: ${job.id}` }));
      events.push(this.events.insert(job.id, { message: validating }));
    })();
    for (const stored of events) this.notify({ kind: 'event', jobId: job.id, ...stored });
    return job;
  }

  get(projectId: string, jobId: string): FineTuningJob | undefined {
    const body = this.getJson(projectId, jobId);
    return body === undefined ? undefined : JSON.parse(body);
  }

  getJson(projectId: string, jobId: string): string | undefined {
    return prepared(this.db, 'SELECT body FROM jobs WHERE project_id = ? AND id = ?')
      .pluck()
      .get(projectId, jobId) as string | undefined;
  }

  list(projectId: string, query: JobListQuery): Page<FineTuningJob> {
    const page = this.listJson(projectId, query);
    return { data: page.data.map((body) => JSON.parse(body) as FineTuningJob), has_more: page.has_more };
  }

  listJson(projectId: string, query: JobListQuery): Page<string> {
    const conditions = ['project_id = @projectId'];
    const params: Record<string, unknown> = { projectId, limit: query.limit + 1 };
    if (query.after !== undefined) {
      const cursor = prepared(this.db, 'SELECT n FROM jobs WHERE project_id = ? AND id = ?')
        .pluck()
        .get(projectId, query.after);
      if (cursor === undefined) return { data: [], has_more: false };
      conditions.push('n < @cursor');
      params.cursor = cursor;
    }
    if (query.metadata === null) {
      conditions.push('metadata IS NULL');
    } else if (query.metadata !== undefined) {
      Object.entries(query.metadata).forEach(([key, value], i) => {
        conditions.push(
          `EXISTS (SELECT 1 FROM json_each(jobs.metadata) WHERE key = @k${i} AND value = @v${i})`,
        );
        params[`k${i}`] = key;
        params[`v${i}`] = value;
      });
    }
    const rows = prepared(
      this.db,
      `SELECT body FROM jobs WHERE ${conditions.join(' AND ')} ORDER BY n DESC LIMIT (SELECT @limit)`,
    )
      .pluck()
      .all(params) as string[];
    return {
      data: rows.slice(0, query.limit),
      has_more: rows.length > query.limit,
    };
  }

  record(jobId: string): JobRecord | undefined {
    const row = prepared(this.db, 'SELECT * FROM jobs WHERE id = ?').get(jobId) as JobRow | undefined;
    return row && toRecord(row);
  }

  withStatus(statuses: readonly string[]): JobRecord[] {
    if (statuses.length === 0) return [];
    const marks = statuses.map(() => '?').join(', ');
    const rows = prepared(this.db, `SELECT * FROM jobs WHERE status IN (${marks}) ORDER BY n ASC`).all(
      ...statuses,
    ) as JobRow[];
    return rows.map(toRecord);
  }

  transition(jobId: string, change: JobTransition): JobRecord | undefined {
    const events: StoredEvent[] = [];
    const record = this.db
      .transaction((): JobRecord | undefined => {
        const current = this.record(jobId);
        if (!current || !change.from.includes(current.job.status)) return undefined;
        const next = this.write(current, { ...change.patch, status: change.to }, change.runtime);
        for (const event of change.events ?? []) events.push(this.events.insert(jobId, event));
        return next;
      })
      .immediate();
    if (record) {
      for (const stored of events) this.notify({ kind: 'event', jobId, ...stored });
      this.notify({ kind: 'status', jobId, job: record.job });
    }
    return record;
  }

  update(
    jobId: string,
    change: { patch?: Partial<FineTuningJob>; runtime?: Partial<JobRuntime>; events?: NewEvent[] },
  ): JobRecord {
    const events: StoredEvent[] = [];
    const record = this.db
      .transaction((): JobRecord => {
        const current = this.record(jobId);
        if (!current) throw new Error(`No job ${jobId}`);
        const next = this.write(current, change.patch ?? {}, change.runtime);
        for (const event of change.events ?? []) events.push(this.events.insert(jobId, event));
        return next;
      })
      .immediate();
    for (const stored of events) this.notify({ kind: 'event', jobId, ...stored });
    return record;
  }

  private write(current: JobRecord, patch: Partial<FineTuningJob>, runtime?: Partial<JobRuntime>): JobRecord {
    const job = { ...current.job, ...patch };
    const nextRuntime = { ...current.runtime, ...runtime };
    prepared(this.db, 'UPDATE jobs SET status = ?, body = ?, runtime = ? WHERE id = ?').run(
      job.status,
      JSON.stringify(job),
      JSON.stringify(nextRuntime),
      job.id,
    );
    return { projectId: current.projectId, job, runtime: nextRuntime };
  }
}
