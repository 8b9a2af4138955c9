/** Messages between the scheduler (server process) and a trainer child process, over the fork IPC channel. */
import type { TrainOptions, TrainProgress, TrainResult } from '../../native/index';
import type { PreparedDataset } from '../data';
import type { JudgeAnswer, JudgeRequest } from '../graders';
import type { MergeStep } from './models';
import type { RftProgress, RftRunOptions } from './rft';

/** The engine's training options, progress reports and result (native/index.ts). */
export type EngineTrainOptions = TrainOptions;
export type EngineProgress = TrainProgress;
export type EngineTrainResult = TrainResult;

export interface PrepareRequest {
  type: 'prepare';
  /** Cached merged folders to build first (a job started from a LoRA `ft:` model trains on the merged model). */
  merges: MergeStep[];
  modelDir: string;
  maxSeqLength: number;
  /** The job's method: dpo and kto files hold preference rows, reinforcement files prompts with reference fields. */
  method: 'supervised' | 'dpo' | 'kto' | 'reinforcement';
  training: { inputFile: string; outputFile: string };
  validation?: { inputFile: string; outputFile: string } | undefined;
}

export type ParentMessage =
  | PrepareRequest
  | { type: 'train'; options: EngineTrainOptions }
  /** A reinforcement job's rollout loop (worker/rft.ts); its model graders ask the parent's judge. */
  | { type: 'rft'; options: RftRunOptions }
  | { type: 'judge_answer'; id: number; answer?: JudgeAnswer; error?: string }
  | { type: 'stop' };

export type ChildMessage =
  | { type: 'prepared'; training: PreparedDataset; validation?: PreparedDataset | undefined }
  | { type: 'dataset_error'; code: string; message: string; param: 'training_file' | 'validation_file' }
  | { type: 'progress'; progress: EngineProgress }
  | { type: 'rft_progress'; progress: RftProgress }
  | { type: 'judge'; id: number; request: JudgeRequest }
  | { type: 'trained'; result: EngineTrainResult }
  | { type: 'error'; message: string };
