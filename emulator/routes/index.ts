/** Every route handler, by operationId of the contract's route table. */
import { deleteAdapter, downloadAdapter, listAdapters, retrieveAdapter } from './adapters';
import { createChatCompletion } from './chat';
import type { RouteHandlers } from './context';
import { listFineTuningJobEvents } from './events';
import { createFile, deleteFile, downloadFile, listFiles, retrieveFile } from './files';
import { runGrader, validateGrader } from './graders';
import {
  cancelFineTuningJob,
  createFineTuningJob,
  listFineTuningJobCheckpoints,
  listFineTuningJobs,
  pauseFineTuningJob,
  resumeFineTuningJob,
  retrieveFineTuningJob,
} from './jobs';
import { getHealth } from './misc';
import { deleteModel, listModels, retrieveModel } from './models';

export const handlers: RouteHandlers = {
  createFile,
  listFiles,
  retrieveFile,
  deleteFile,
  downloadFile,
  createFineTuningJob,
  listFineTuningJobs,
  retrieveFineTuningJob,
  cancelFineTuningJob,
  pauseFineTuningJob,
  resumeFineTuningJob,
  listFineTuningJobEvents,
  listFineTuningJobCheckpoints,
  runGrader,
  validateGrader,
  listModels,
  retrieveModel,
  deleteModel,
  createChatCompletion,
  listAdapters,
  retrieveAdapter,
  downloadAdapter,
  deleteAdapter,
  getHealth,
};
