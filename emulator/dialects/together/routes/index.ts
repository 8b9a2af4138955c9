/** Every Together route handler, by operationId of its route table. */
import { togetherChatCompletion } from './chat';
import type { TogetherRouteHandlers } from './context';
import { togetherDownload } from './download';
import {
  togetherAbortMultipart,
  togetherCompleteMultipart,
  togetherDeleteFile,
  togetherFileContent,
  togetherInitiateMultipart,
  togetherListFiles,
  togetherPreprocessFile,
  togetherPutUpload,
  togetherRequestUpload,
  togetherRetrieveFile,
  togetherUploadFile,
} from './files';
import {
  togetherCancelFineTune,
  togetherCreateFineTune,
  togetherDeleteFineTune,
  togetherListCheckpoints,
  togetherListEvents,
  togetherListFineTunes,
  togetherListMetrics,
  togetherRetrieveFineTune,
} from './fine-tunes';
import {
  togetherEstimatePrice,
  togetherListModels,
  togetherModelLimits,
  togetherPreview,
  togetherSupportedModels,
} from './models';

export const togetherHandlers: TogetherRouteHandlers = {
  togetherRequestUpload,
  togetherPutUpload,
  togetherUploadFile,
  togetherInitiateMultipart,
  togetherCompleteMultipart,
  togetherAbortMultipart,
  togetherListFiles,
  togetherRetrieveFile,
  togetherDeleteFile,
  togetherFileContent,
  togetherPreprocessFile,
  togetherCreateFineTune,
  togetherListFineTunes,
  togetherSupportedModels,
  togetherModelLimits,
  togetherEstimatePrice,
  togetherPreview,
  togetherRetrieveFineTune,
  togetherCancelFineTune,
  togetherDeleteFineTune,
  togetherListEvents,
  togetherListCheckpoints,
  togetherListMetrics,
  togetherDownload,
  togetherListModels,
  togetherChatCompletion,
};
