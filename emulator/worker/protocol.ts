/** Messages between the scheduler (server process) and a trainer child process, over the fork IPC channel. */
import type { TrainOptions, TrainProgress, TrainResult } from '../../native/index';
import type { PreparedDataset } from '../data';
import type { MergeStep } from './models';

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
  /** The job's method: dpo and kto files hold preference rows. */
  method: 'supervised' | 'dpo' | 'kto';
  training: { inputFile: string; outputFile: string };
  validation?: { inputFile: string; outputFile: string } | undefined;
}

export type ParentMessage =
  | PrepareRequest
  | { type: 'train'; options: EngineTrainOptions }
  | { type: 'stop' };

export type ChildMessage =
  | { type: 'prepared'; training: PreparedDataset; validation?: PreparedDataset | undefined }
  | { type: 'dataset_error'; code: string; message: string; param: 'training_file' | 'validation_file' }
  | { type: 'progress'; progress: EngineProgress }
  | { type: 'trained'; result: EngineTrainResult }
  | { type: 'error'; message: string };
