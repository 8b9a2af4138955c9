/**
 * `tunekit run` configs: YAML with Axolotl's keys (the subset tunekit can honour), validated before anything is
 * uploaded, and turned into the body of `POST /v1/fine_tuning/jobs`. Pure functions: no files are read here.
 *
 * Mapping (Axolotl → tunekit job):
 *   base_model → model; adapter lora → training_type lora (lora_r, lora_alpha, lora_dropout, lora_target_modules,
 *   lora_target_linear → all-linear); adapter full or absent → full fine-tuning (as in Axolotl);
 *   num_epochs → n_epochs; micro_batch_size × gradient_accumulation_steps → batch_size (examples per optimizer
 *   step); learning_rate, lr_scheduler, warmup_ratio, weight_decay, max_grad_norm; warmup_steps → warmup_ratio
 *   over the run's steps; sequence_len → max_seq_length; sample_packing → packing; seed.
 *   Keys left out stay `auto`: the server chooses, as documented in docs/emulator.md.
 */
import { z } from 'zod';
import type { TrainingType } from '../src/index';

export const DATASET_TYPES = ['chat_template', 'alpaca', 'sharegpt'] as const;
export type DatasetType = (typeof DATASET_TYPES)[number];

const DatasetSchema = z.strictObject({
  path: z.string().min(1),
  type: z.enum(DATASET_TYPES),
  field_messages: z.string().min(1).optional(),
  message_property_mappings: z
    .strictObject({ role: z.string().min(1).optional(), content: z.string().min(1).optional() })
    .optional(),
});
export type DatasetConfig = z.infer<typeof DatasetSchema>;

const positiveInt = z.number().int().min(1);

export const RunConfigSchema = z.strictObject({
  base_model: z.string().min(1),
  adapter: z.enum(['lora', 'full']).optional(),
  lora_r: positiveInt.max(1024).optional(),
  lora_alpha: z.number().positive().optional(),
  lora_dropout: z.number().min(0).lt(1).optional(),
  lora_target_modules: z.array(z.string().min(1)).min(1).optional(),
  lora_target_linear: z.boolean().optional(),
  datasets: z.array(DatasetSchema).min(1),
  val_set_size: z.number().min(0).optional(),
  num_epochs: positiveInt.max(50).optional(),
  learning_rate: z.number().positive().max(1).optional(),
  micro_batch_size: positiveInt.optional(),
  gradient_accumulation_steps: positiveInt.optional(),
  sequence_len: positiveInt.optional(),
  sample_packing: z.boolean().optional(),
  lr_scheduler: z.enum(['linear', 'cosine']).optional(),
  warmup_ratio: z.number().min(0).max(1).optional(),
  warmup_steps: z.number().int().min(0).optional(),
  weight_decay: z.number().min(0).optional(),
  max_grad_norm: z.number().min(0).optional(),
  seed: z.number().int().min(0).max(2147483647).optional(),
  output_dir: z.string().min(1).optional(),
  rl: z.enum(['dpo', 'kto']).optional(),
  beta: z.number().gt(0).max(2).optional(),
});
export type RunConfig = z.infer<typeof RunConfigSchema>;

/** Axolotl's default output folder. */
export const DEFAULT_OUTPUT_DIR = './model-out';

/** A config that cannot be run: the key (dotted path) at fault and why. Exit code 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly key: string,
    readonly problem: string,
  ) {
    super(key ? `${key}: ${problem}` : problem);
  }
}

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(substitution, (previous[j] as number) + 1, (current[j - 1] as number) + 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The valid key closest to `key`, when it is close enough to be a likely typo. */
export function nearestKey(key: string, valid: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of valid) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${String(value)}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  return value;
}

function dottedPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`))
    .join('');
}

/** The keys a mapping may hold at `path` (top level or a dataset entry). */
function keysAt(path: readonly PropertyKey[]): string[] {
  if (path.length === 0) return Object.keys(RunConfigSchema.shape);
  if (path.length === 2 && path[0] === 'datasets') return Object.keys(DatasetSchema.shape);
  return Object.keys(DatasetSchema.shape.message_property_mappings.unwrap().shape);
}

/** Turns the first zod issue into a ConfigError naming the key, what was expected and (for typos) the nearest key. */
function configErrorOf(issue: z.core.$ZodIssue, raw: unknown): ConfigError {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] as string;
    const where = dottedPath([...issue.path, key]);
    const suggestion = nearestKey(key, keysAt(issue.path));
    return new ConfigError(
      where,
      `unknown key${suggestion ? ` (did you mean '${suggestion}'?)` : ''}; tunekit reads these keys here: ${keysAt(issue.path).join(', ')}`,
    );
  }
  const where = dottedPath(issue.path);
  const value = valueAt(raw, issue.path);
  if (value === undefined) return new ConfigError(where, 'required key is missing');
  if (issue.code === 'invalid_value') {
    return new ConfigError(
      where,
      `expected one of ${issue.values.map((v) => String(v)).join(', ')}, got ${describeValue(value)}`,
    );
  }
  if (issue.code === 'invalid_type') {
    const expected =
      issue.expected === 'array'
        ? 'a list'
        : issue.expected === 'object'
          ? 'a mapping'
          : `a ${issue.expected}`;
    return new ConfigError(where, `expected ${expected}, got ${describeValue(value)}`);
  }
  return new ConfigError(where, `${issue.message} (got ${describeValue(value)})`);
}

/** Validates a parsed YAML document as a run config; throws ConfigError naming the first bad key. */
export function parseRunConfig(raw: unknown): RunConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('', `the config must be a YAML mapping of keys, got ${describeValue(raw)}`);
  }
  const result = RunConfigSchema.safeParse(raw);
  if (!result.success) {
    // Unknown keys first: a typo is the likeliest mistake and explains the other issues.
    const issues = [...result.error.issues].sort(
      (a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'),
    );
    throw configErrorOf(issues[0] as z.core.$ZodIssue, raw);
  }
  const config = result.data;
  if (config.adapter !== 'lora') {
    for (const key of [
      'lora_r',
      'lora_alpha',
      'lora_dropout',
      'lora_target_modules',
      'lora_target_linear',
    ] as const) {
      if (config[key] !== undefined) throw new ConfigError(key, "only allowed with 'adapter: lora'");
    }
  }
  if (config.lora_target_linear && config.lora_target_modules) {
    throw new ConfigError(
      'lora_target_linear',
      'set either lora_target_linear or lora_target_modules, not both',
    );
  }
  if (config.warmup_ratio !== undefined && config.warmup_steps !== undefined) {
    throw new ConfigError('warmup_steps', 'set either warmup_ratio or warmup_steps, not both');
  }
  if (config.beta !== undefined && config.rl === undefined) {
    throw new ConfigError('beta', "only allowed with 'rl: dpo' or 'rl: kto'");
  }
  const types = new Set(config.datasets.map((d) => d.type === 'alpaca'));
  if (types.size > 1) {
    throw new ConfigError(
      'datasets',
      'alpaca datasets (prompt/completion) cannot be mixed with chat_template or sharegpt ones in one job',
    );
  }
  return config;
}

/** The job body without its files. */
export type JobParams = {
  model: string;
  seed?: number;
  training_type?: TrainingType;
  method: { type: 'supervised'; supervised: { hyperparameters: Record<string, number | string | boolean> } };
};

/**
 * The job body for a validated config. `nTrainingExamples` (after the validation split) is needed only to turn
 * warmup_steps into warmup_ratio; that needs the epochs and the batch size to be set too.
 */
export function toJobParams(config: RunConfig, nTrainingExamples: number): JobParams {
  if (config.rl !== undefined) {
    throw new ConfigError(
      'rl',
      `'rl: ${config.rl}' is not supported yet: the server tunekit talks to has no ${config.rl} method (only supervised fine-tuning)`,
    );
  }
  const hyperparameters: Record<string, number | string | boolean> = {};
  const batchSize =
    config.micro_batch_size !== undefined || config.gradient_accumulation_steps !== undefined
      ? (config.micro_batch_size ?? 1) * (config.gradient_accumulation_steps ?? 1)
      : undefined;
  if (batchSize !== undefined) hyperparameters.batch_size = batchSize;
  if (config.num_epochs !== undefined) hyperparameters.n_epochs = config.num_epochs;
  if (config.learning_rate !== undefined) hyperparameters.learning_rate = config.learning_rate;
  if (config.lr_scheduler !== undefined) hyperparameters.lr_scheduler = config.lr_scheduler;
  if (config.warmup_ratio !== undefined) hyperparameters.warmup_ratio = config.warmup_ratio;
  if (config.warmup_steps !== undefined) {
    if (batchSize === undefined || config.num_epochs === undefined || config.sample_packing) {
      throw new ConfigError(
        'warmup_steps',
        'needs num_epochs and micro_batch_size set and no sample_packing (tunekit turns it into warmup_ratio over the run); or use warmup_ratio',
      );
    }
    const totalSteps =
      Math.ceil(nTrainingExamples / Math.min(batchSize, nTrainingExamples)) * config.num_epochs;
    hyperparameters.warmup_ratio = Math.min(1, config.warmup_steps / totalSteps);
  }
  if (config.weight_decay !== undefined) hyperparameters.weight_decay = config.weight_decay;
  if (config.max_grad_norm !== undefined) hyperparameters.max_grad_norm = config.max_grad_norm;
  if (config.sequence_len !== undefined) hyperparameters.max_seq_length = config.sequence_len;
  if (config.sample_packing !== undefined) hyperparameters.packing = config.sample_packing;
  const params: JobParams = {
    model: config.base_model,
    method: { type: 'supervised', supervised: { hyperparameters } },
  };
  if (config.seed !== undefined) params.seed = config.seed;
  if (config.adapter === 'lora') {
    const lora: Extract<TrainingType, { type: 'lora' }> = { type: 'lora' };
    if (config.lora_r !== undefined) lora.r = config.lora_r;
    if (config.lora_alpha !== undefined) lora.alpha = config.lora_alpha;
    if (config.lora_dropout !== undefined) lora.dropout = config.lora_dropout;
    if (config.lora_target_modules !== undefined) lora.target_modules = config.lora_target_modules;
    if (config.lora_target_linear) lora.target_modules = 'all-linear';
    params.training_type = lora;
  } else {
    params.training_type = { type: 'full' };
  }
  return params;
}
