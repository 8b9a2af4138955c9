/** Training data: JSONL formats, chat templates, tokenization with assistant-only labels, the engine's token file. */

export {
  DatasetError,
  type DatasetRole,
  desirableFile,
  MIN_TRAINING_EXAMPLES,
  type PreparedDataset,
  prepareDataset,
} from './dataset';
export { type EncodedExample, encodeExample, IGNORE_INDEX } from './encode';
export {
  type ChatMessage,
  checkJsonl,
  type DataFormat,
  DataFormatError,
  type Example,
  parseJsonl,
} from './formats';
export { ModelTokenizer, type RenderOptions, TokenizerLoadError } from './model-tokenizer';
