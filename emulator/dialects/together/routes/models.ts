/**
 * Together's model routes: the model list (a bare array), the fine-tuning catalogue and its limits, a local price
 * estimate, and the tokenization preview.
 */
import { open } from 'node:fs/promises';
import { DataFormatError, encodeExample, IGNORE_INDEX, ModelTokenizer, parseJsonl } from '../../../data';
import { badRequest } from '../../../http/errors';
import { LORA_TARGETS_ALL } from '../../../worker/hyperparameters';
import { BUILTIN_MODEL, buildMerges, TOGETHER_FINE_TUNING_MODELS } from '../../../worker/models';
import type { TogetherRouteHandler, TogetherServices } from './context';

/** The limits a model is trained under in the emulator (its batch cap is the built-in rule's, 32). */
export function modelLimits(services: TogetherServices, projectId: string, name: string) {
  const model = services.models.resolve(projectId, name);
  if (!model) return undefined;
  const batch = { max_batch_size: 32, max_batch_size_dpo: 16, min_batch_size: 1 };
  return {
    model_name: name,
    max_num_epochs: 50,
    max_learning_rate: 1,
    min_learning_rate: 1e-8,
    max_num_checkpoints: 100,
    max_num_evals: 100,
    max_seq_length_sft: model.localId === BUILTIN_MODEL ? 1024 : 2048,
    max_seq_length_dpo: model.localId === BUILTIN_MODEL ? 1024 : 2048,
    min_max_seq_length: 1,
    merge_output_lora: true,
    supports_full_training: true,
    supports_vision: false,
    supports_tools: true,
    supports_reasoning: false,
    default_gradient_accumulation_steps: 1,
    full_training: batch,
    lora_training: { ...batch, max_rank: 64, target_modules: [...LORA_TARGETS_ALL] },
  };
}

export const togetherListModels: TogetherRouteHandler<'togetherListModels'> = ({ caller, services }) =>
  services.models.list(caller.projectId).map((model) => ({
    id: model.id,
    object: 'model' as const,
    created: model.created,
    type: 'chat' as const,
    display_name: model.id,
    organization: model.owned_by,
  }));

export const togetherSupportedModels: TogetherRouteHandler<'togetherSupportedModels'> = () => ({
  models: [BUILTIN_MODEL, ...TOGETHER_FINE_TUNING_MODELS],
});

export const togetherModelLimits: TogetherRouteHandler<'togetherModelLimits'> = ({
  caller,
  query,
  services,
  reply,
}) => {
  const limits = modelLimits(services, caller.projectId, query.model_name);
  // Together answers this one 404 with a bare `{message}`.
  if (!limits)
    return reply.code(404).send({ message: `Model ${query.model_name} is not available for fine-tuning.` });
  return limits;
};

/** USD per million trained tokens of the local estimate (docs/emulator.md); not Together's price list. */
export const ESTIMATE_USD_PER_MILLION_TOKENS = { lora: 0.5, full: 1.0 } as const;

export const togetherEstimatePrice: TogetherRouteHandler<'togetherEstimatePrice'> = ({
  caller,
  body,
  services,
}) => {
  const file = (id: string, param: string) => {
    const found = services.store.files.get(caller.projectId, id);
    if (!found) throw badRequest(`Invalid ${param}: no such file ${id}.`, param, 'file_not_found');
    return found;
  };
  const train = file(body.training_file, 'training_file');
  const valid = body.validation_file ? file(body.validation_file, 'validation_file') : undefined;
  const epochs = body.n_epochs ?? 1;
  const trainTokens = Math.ceil(train.bytes / 4) * epochs;
  const evalTokens = valid ? Math.ceil(valid.bytes / 4) * (body.n_evals ?? 0) : 0;
  const rate =
    body.training_type?.type === 'Full'
      ? ESTIMATE_USD_PER_MILLION_TOKENS.full
      : ESTIMATE_USD_PER_MILLION_TOKENS.lora;
  return {
    estimation_available: true as const,
    estimated_total_price: Math.round(((trainTokens + evalTokens) / 1e6) * rate * 100) / 100,
    allowed_to_proceed: true,
    user_limit: 0,
    estimated_train_token_count: trainTokens,
    estimated_eval_token_count: evalTokens,
  };
};

/** How much of the file the preview reads: the first rows are all it shows. */
const PREVIEW_BYTES = 4 * 1024 * 1024;

export const togetherPreview: TogetherRouteHandler<'togetherPreview'> = async ({
  caller,
  body,
  services,
}) => {
  const base = services.models.trainingBase(caller.projectId, body.model);
  if (!base)
    throw badRequest(`Model ${body.model} is not available for fine-tuning.`, 'model', 'model_not_available');
  await buildMerges(base.merges, (step) => services.inference.merge(step));
  const path = services.store.files.blobPath(caller.projectId, body.training_file);
  if (!path)
    throw badRequest(
      `Invalid training_file: no such file ${body.training_file}.`,
      'training_file',
      'file_not_found',
    );
  if (body.train_on_inputs === true) {
    throw badRequest(
      'train_on_inputs: true is not supported by the tunekit emulator.',
      'train_on_inputs',
      'unsupported_parameter',
    );
  }
  const handle = await open(path, 'r');
  let text: string;
  try {
    const buffer = Buffer.alloc(PREVIEW_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    text = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
  const topK = body.top_k ?? 5;
  const lines = text
    .split('\n')
    .slice(0, topK)
    .filter((line) => line.trim() !== '');
  const tokenizer = ModelTokenizer.load(base.modelDir);
  const maxSeqLength = modelLimits(services, caller.projectId, body.model)!.max_seq_length_sft;
  let parsed: ReturnType<typeof parseJsonl>;
  const rows = [];
  try {
    parsed = parseJsonl(`${lines.join('\n')}\n`);
    for (const example of parsed.examples) {
      const encoded = encodeExample(tokenizer, example, maxSeqLength);
      const spans: [number, number][] = [];
      encoded.labels.forEach((label, i) => {
        if (label === IGNORE_INDEX) return;
        const last = spans.at(-1);
        if (last && last[1] === i) last[1] = i + 1;
        else spans.push([i, i + 1]);
      });
      rows.push({
        input_ids: encoded.ids,
        labels: encoded.labels,
        tokens: encoded.ids.map((id) => tokenizer.decode([id])),
        num_tokens: encoded.ids.length,
        num_trained_tokens: encoded.labels.filter((l) => l !== IGNORE_INDEX).length,
        trained_spans: spans,
        truncated: encoded.truncated,
      });
    }
  } catch (error) {
    if (error instanceof DataFormatError)
      throw badRequest(`training_file: ${error.message}`, 'training_file', 'invalid_file_format');
    throw error;
  }
  return {
    dataset_format:
      parsed.format === 'prompt_completion' ? ('instruction' as const) : ('conversation' as const),
    max_seq_length: maxSeqLength,
    model: body.model,
    train_on_inputs: body.train_on_inputs ?? 'auto',
    rows,
  };
};
