import { CursorPage, type CursorPageParams, type PagePromise } from '../../../core/pagination';
import { APIResource } from '../../../core/resource';
import { path } from '../../../internal/path';
import type { RequestOptions } from '../../../internal/request-options';
import { TogetherCheckpointsPage } from '../../../providers/together';

export class Checkpoints extends APIResource {
  /**
   * Lists a job's checkpoints, newest (highest step) first.
   * @example
   * for await (const ckpt of client.fineTuning.jobs.checkpoints.list('ftjob-abc')) console.log(ckpt.step_number);
   */
  list(
    fineTuningJobId: string,
    query: CheckpointListParams = {},
    options?: RequestOptions,
  ): PagePromise<FineTuningJobCheckpointsPage, FineTuningJobCheckpoint> {
    if (this._client.provider === 'together') {
      return this._client.getAPIList(
        path`/fine-tunes/${fineTuningJobId}/checkpoints`,
        TogetherCheckpointsPage,
        {
          ...options,
        },
      );
    }
    return this._client.getAPIList(
      path`/fine_tuning/jobs/${fineTuningJobId}/checkpoints`,
      CursorPage<FineTuningJobCheckpoint>,
      { query, ...options },
    );
  }
}

export type FineTuningJobCheckpointsPage = CursorPage<FineTuningJobCheckpoint>;

/** A saved checkpoint of a job, usable as a model (`object: "fine_tuning.job.checkpoint"`). */
export interface FineTuningJobCheckpoint {
  /** `ftckpt_…` */
  id: string;
  object: 'fine_tuning.job.checkpoint';
  created_at: number;
  /** Model id of the checkpoint: `ft:…:ckpt-step-N`, or the job's `fine_tuned_model` for the final one. */
  fine_tuned_model_checkpoint: string;
  fine_tuning_job_id: string;
  step_number: number;
  metrics: FineTuningJobCheckpointMetrics;
}

export interface FineTuningJobCheckpointMetrics {
  step?: number;
  train_loss?: number;
  train_mean_token_accuracy?: number;
  valid_loss?: number;
  valid_mean_token_accuracy?: number;
  full_valid_loss?: number;
  full_valid_mean_token_accuracy?: number;
}

export type CheckpointListParams = CursorPageParams;
