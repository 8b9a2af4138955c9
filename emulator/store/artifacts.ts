/** What a job leaves behind: checkpoints, adapters (PEFT folders in <data>/adapters/<id>) and fine-tuned models. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type Database from 'better-sqlite3';
import type { Adapter } from '../contract/adapters';
import { newId } from '../contract/common';
import type { FineTuningJobCheckpoint } from '../contract/jobs';
import type { Model } from '../contract/models';
import { copyDirAtomic } from './blobs';
import type {
  AdapterRepo,
  CheckpointRepo,
  CursorQuery,
  DataPaths,
  FineTunedModelRecord,
  ModelRepo,
  NewAdapter,
  NewCheckpoint,
  NewFineTunedModel,
  PageWithIds,
} from './index';
import { nowSeconds, pageWithIds, prepared } from './paging';

interface CheckpointRow {
  n: number;
  id: string;
  job_id: string;
  step: number;
  created_at: number;
  model_name: string;
  metrics: string;
  adapter_id: string | null;
}

function toCheckpoint(row: CheckpointRow): FineTuningJobCheckpoint {
  return {
    id: row.id,
    object: 'fine_tuning.job.checkpoint',
    created_at: row.created_at,
    fine_tuned_model_checkpoint: row.model_name,
    fine_tuning_job_id: row.job_id,
    step_number: row.step,
    metrics: JSON.parse(row.metrics),
  };
}

export class SqliteCheckpointRepo implements CheckpointRepo {
  constructor(private readonly db: Database.Database) {}

  insert(checkpoint: NewCheckpoint): FineTuningJobCheckpoint {
    const row: Omit<CheckpointRow, 'n'> = {
      id: newId('fineTuningJobCheckpoint'),
      job_id: checkpoint.jobId,
      step: checkpoint.step,
      created_at: nowSeconds(),
      model_name: checkpoint.modelName,
      metrics: JSON.stringify(checkpoint.metrics),
      adapter_id: checkpoint.adapterId,
    };
    prepared(
      this.db,
      `INSERT INTO checkpoints (id, job_id, step, created_at, model_name, metrics, adapter_id)
         VALUES (@id, @job_id, @step, @created_at, @model_name, @metrics, @adapter_id)`,
    ).run(row);
    return toCheckpoint({ n: 0, ...row });
  }

  list(projectId: string, jobId: string, query: CursorQuery): PageWithIds<FineTuningJobCheckpoint> {
    if (!prepared(this.db, 'SELECT 1 FROM jobs WHERE project_id = ? AND id = ?').get(projectId, jobId)) {
      return pageWithIds([], false);
    }
    // Newest first = highest step first; `n` breaks ties between equal steps.
    let rows: CheckpointRow[];
    if (query.after === undefined) {
      rows = prepared(
        this.db,
        'SELECT * FROM checkpoints WHERE job_id = ? ORDER BY step DESC, n DESC LIMIT (SELECT ?)',
      ).all(jobId, query.limit + 1) as CheckpointRow[];
    } else {
      const cursor = prepared(this.db, 'SELECT step, n FROM checkpoints WHERE job_id = ? AND id = ?').get(
        jobId,
        query.after,
      ) as { step: number; n: number } | undefined;
      if (!cursor) return pageWithIds([], false);
      rows = prepared(
        this.db,
        `SELECT * FROM checkpoints WHERE job_id = ? AND (step < ? OR (step = ? AND n < ?))
           ORDER BY step DESC, n DESC LIMIT (SELECT ?)`,
      ).all(jobId, cursor.step, cursor.step, cursor.n, query.limit + 1) as CheckpointRow[];
    }
    return pageWithIds(rows.slice(0, query.limit).map(toCheckpoint), rows.length > query.limit);
  }

  remove(projectId: string, jobId: string, step: number): { adapterId: string | null } | undefined {
    return this.db.transaction(() => {
      const row = prepared(this.db, 'SELECT adapter_id FROM checkpoints WHERE job_id = ? AND step = ?').get(
        jobId,
        step,
      ) as { adapter_id: string | null } | undefined;
      if (!row) return undefined;
      prepared(this.db, 'DELETE FROM checkpoints WHERE job_id = ? AND step = ?').run(jobId, step);
      prepared(
        this.db,
        'UPDATE models SET deleted = 1 WHERE project_id = ? AND job_id = ? AND checkpoint_step = ?',
      ).run(projectId, jobId, step);
      return { adapterId: row.adapter_id };
    })();
  }
}

interface AdapterRow {
  n: number;
  id: string;
  project_id: string;
  job_id: string;
  fine_tuned_model: string;
  base_model: string;
  step: number;
  peft_type: string;
  r: number;
  lora_alpha: number;
  target_modules: string;
  bytes: number;
  created_at: number;
}

function toAdapter(row: AdapterRow): Adapter {
  return {
    id: row.id,
    object: 'adapter',
    fine_tuning_job_id: row.job_id,
    fine_tuned_model: row.fine_tuned_model,
    base_model: row.base_model,
    step: row.step,
    peft_type: row.peft_type as Adapter['peft_type'],
    r: row.r,
    lora_alpha: row.lora_alpha,
    target_modules: JSON.parse(row.target_modules),
    bytes: row.bytes,
    created_at: row.created_at,
  };
}

/** The fields of adapter_config.json the adapter object repeats, checked so a bad folder is refused early. */
function readPeftConfig(dir: string): { peftType: string; r: number; alpha: number; targets: string[] } {
  const file = path.join(dir, 'adapter_config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const { peft_type: peftType, r, lora_alpha: alpha, target_modules: targets } = config;
  if (peftType !== 'LORA' || typeof r !== 'number' || typeof alpha !== 'number') {
    throw new Error(`${file}: expected a LORA adapter config with numeric r and lora_alpha`);
  }
  const list = typeof targets === 'string' ? [targets] : Array.isArray(targets) ? targets.map(String) : [];
  return { peftType, r, alpha, targets: [...list].sort() };
}

export class SqliteAdapterRepo implements AdapterRepo {
  constructor(
    private readonly db: Database.Database,
    private readonly paths: DataPaths,
  ) {}

  insert(projectId: string, adapter: NewAdapter): Adapter {
    const config = readPeftConfig(adapter.sourceDir);
    const id = newId('adapter');
    const target = path.join(this.paths.adapters, id);
    copyDirAtomic(adapter.sourceDir, target, this.paths.tmp);
    const row: Omit<AdapterRow, 'n'> = {
      id,
      project_id: projectId,
      job_id: adapter.jobId,
      fine_tuned_model: adapter.fineTunedModel,
      base_model: adapter.baseModel,
      step: adapter.step,
      peft_type: config.peftType,
      r: config.r,
      lora_alpha: config.alpha,
      target_modules: JSON.stringify(config.targets),
      bytes: fs.statSync(path.join(target, 'adapter_model.safetensors')).size,
      created_at: nowSeconds(),
    };
    prepared(
      this.db,
      `INSERT INTO adapters (id, project_id, job_id, fine_tuned_model, base_model, step, peft_type, r, lora_alpha,
           target_modules, bytes, created_at)
         VALUES (@id, @project_id, @job_id, @fine_tuned_model, @base_model, @step, @peft_type, @r, @lora_alpha,
           @target_modules, @bytes, @created_at)`,
    ).run(row);
    return toAdapter({ n: 0, ...row });
  }

  get(projectId: string, adapterId: string): Adapter | undefined {
    const row = this.row(projectId, adapterId);
    return row && toAdapter(row);
  }

  list(
    projectId: string,
    query: CursorQuery & { fineTuningJobId?: string | undefined },
  ): PageWithIds<Adapter> {
    const conditions = ['project_id = @projectId'];
    const params: Record<string, unknown> = { projectId, limit: query.limit + 1 };
    if (query.fineTuningJobId !== undefined) {
      conditions.push('job_id = @jobId');
      params.jobId = query.fineTuningJobId;
    }
    if (query.after !== undefined) {
      const cursor = this.row(projectId, query.after);
      if (!cursor) return pageWithIds([], false);
      conditions.push('n < @cursor');
      params.cursor = cursor.n;
    }
    const rows = prepared(
      this.db,
      `SELECT * FROM adapters WHERE ${conditions.join(' AND ')} ORDER BY n DESC LIMIT (SELECT @limit)`,
    ).all(params) as AdapterRow[];
    return pageWithIds(rows.slice(0, query.limit).map(toAdapter), rows.length > query.limit);
  }

  delete(projectId: string, adapterId: string): boolean {
    const result = prepared(this.db, 'DELETE FROM adapters WHERE project_id = ? AND id = ?').run(
      projectId,
      adapterId,
    );
    if (result.changes === 0) return false;
    fs.rmSync(path.join(this.paths.adapters, adapterId), { recursive: true, force: true });
    return true;
  }

  dir(projectId: string, adapterId: string): string | undefined {
    return this.row(projectId, adapterId) ? path.join(this.paths.adapters, adapterId) : undefined;
  }

  /** Adapter folders without a row (a crash between the copy and the insert, or during delete). */
  sweepOrphans(): void {
    const known = prepared(this.db, 'SELECT 1 FROM adapters WHERE id = ?').pluck();
    for (const name of fs.readdirSync(this.paths.adapters)) {
      if (!known.get(name)) fs.rmSync(path.join(this.paths.adapters, name), { recursive: true, force: true });
    }
  }

  private row(projectId: string, adapterId: string): AdapterRow | undefined {
    return prepared(this.db, 'SELECT * FROM adapters WHERE project_id = ? AND id = ?').get(
      projectId,
      adapterId,
    ) as AdapterRow | undefined;
  }
}

interface ModelRow {
  n: number;
  id: string;
  project_id: string;
  job_id: string;
  base_model: string;
  adapter_id: string | null;
  weights_dir: string | null;
  checkpoint_step: number | null;
  created: number;
  owned_by: string;
  deleted: number;
}

function toModelRecord(row: ModelRow): FineTunedModelRecord {
  return {
    id: row.id,
    jobId: row.job_id,
    baseModel: row.base_model,
    adapterId: row.adapter_id,
    weightsDir: row.weights_dir,
    checkpointStep: row.checkpoint_step,
    created: row.created,
    ownedBy: row.owned_by,
  };
}

export class SqliteModelRepo implements ModelRepo {
  constructor(private readonly db: Database.Database) {}

  register(projectId: string, model: NewFineTunedModel): FineTunedModelRecord {
    const row: Omit<ModelRow, 'n'> = {
      id: model.id,
      project_id: projectId,
      job_id: model.jobId,
      base_model: model.baseModel,
      adapter_id: model.adapterId,
      weights_dir: model.weightsDir,
      checkpoint_step: model.checkpointStep,
      created: nowSeconds(),
      owned_by: model.ownedBy,
      deleted: 0,
    };
    prepared(
      this.db,
      `INSERT INTO models (id, project_id, job_id, base_model, adapter_id, weights_dir, checkpoint_step, created,
           owned_by, deleted)
         VALUES (@id, @project_id, @job_id, @base_model, @adapter_id, @weights_dir, @checkpoint_step, @created,
           @owned_by, @deleted)`,
    ).run(row);
    return toModelRecord({ n: 0, ...row });
  }

  list(projectId: string): Model[] {
    const rows = prepared(
      this.db,
      'SELECT * FROM models WHERE project_id = ? AND checkpoint_step IS NULL AND deleted = 0 ORDER BY n DESC',
    ).all(projectId) as ModelRow[];
    return rows.map((row) => ({ id: row.id, object: 'model', created: row.created, owned_by: row.owned_by }));
  }

  find(projectId: string, modelId: string): FineTunedModelRecord | undefined {
    const row = prepared(this.db, 'SELECT * FROM models WHERE project_id = ? AND id = ? AND deleted = 0').get(
      projectId,
      modelId,
    ) as ModelRow | undefined;
    return row && toModelRecord(row);
  }

  delete(projectId: string, modelId: string): boolean {
    return this.db
      .transaction(() => {
        const row = prepared(
          this.db,
          'SELECT job_id FROM models WHERE project_id = ? AND id = ? AND checkpoint_step IS NULL AND deleted = 0',
        ).get(projectId, modelId) as { job_id: string } | undefined;
        if (!row) return false;
        prepared(this.db, 'UPDATE models SET deleted = 1 WHERE project_id = ? AND job_id = ?').run(
          projectId,
          row.job_id,
        );
        return true;
      })
      .immediate();
  }
}
