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
 *   rl: dpo → method dpo, rl: kto → method kto (docs/preference.md), with beta (or Axolotl's rl_beta) and
 *   kto_desirable_weight / kto_undesirable_weight → desirable_weight / undesirable_weight.
 *   Keys left out stay `auto`: the server chooses, as documented in docs/emulator.md.
 */
import { z } from 'zod';
import type { FineTuningMethod, TrainingType } from '../src/index';

/** Dataset types of supervised runs. */
export const DATASET_TYPES = ['chat_template', 'alpaca', 'sharegpt'] as const;
/** Axolotl's chat-template dataset types of `rl: dpo` (prompt messages + chosen / rejected answers). */
export const DPO_DATASET_TYPES = ['chat_template.default', 'chat_template.argilla_chat'] as const;
export type DatasetType = (typeof DATASET_TYPES)[number] | (typeof DPO_DATASET_TYPES)[number];

/** Axolotl's `user_defined.default` type of `rl: dpo` and `rl: kto`: field names and Python-style formats. */
const UserDefinedTypeSchema = z.strictObject({
  field_prompt: z.string().min(1).optional(),
  field_system: z.string().min(1).optional(),
  field_chosen: z.string().min(1).optional(),
  field_rejected: z.string().min(1).optional(),
  field_completion: z.string().min(1).optional(),
  field_label: z.string().min(1).optional(),
  prompt_format: z.string().min(1).optional(),
  chosen_format: z.string().min(1).optional(),
  rejected_format: z.string().min(1).optional(),
  completion_format: z.string().min(1).optional(),
});
export type UserDefinedType = z.infer<typeof UserDefinedTypeSchema>;

/** The placeholders each user-defined format may use. */
export const FORMAT_PLACEHOLDERS: Record<string, readonly string[]> = {
  prompt_format: ['prompt', 'system'],
  chosen_format: ['chosen'],
  rejected_format: ['rejected'],
  completion_format: ['completion'],
};

const DatasetSchema = z.strictObject({
  path: z.string().min(1),
  type: z.union([z.enum([...DATASET_TYPES, ...DPO_DATASET_TYPES]), UserDefinedTypeSchema]),
  field_messages: z.string().min(1).optional(),
  field_chosen: z.string().min(1).optional(),
  field_rejected: z.string().min(1).optional(),
  message_property_mappings: z
    .strictObject({ role: z.string().min(1).optional(), content: z.string().min(1).optional() })
    .optional(),
  roles: z.record(z.string().min(1), z.array(z.string().min(1))).optional(),
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
  rl_beta: z.number().gt(0).max(2).optional(),
  kto_desirable_weight: z.number().positive().optional(),
  kto_undesirable_weight: z.number().positive().optional(),
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
  if (path.length === 3 && path[2] === 'type') return Object.keys(UserDefinedTypeSchema.shape);
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
  if (issue.code === 'invalid_union' && issue.path.at(-1) === 'type') {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      // a user-defined type with a bad key or value: report that one
      const inner = UserDefinedTypeSchema.safeParse(value);
      if (!inner.success) {
        const first = inner.error.issues[0] as z.core.$ZodIssue;
        return configErrorOf({ ...first, path: [...issue.path, ...first.path] } as z.core.$ZodIssue, raw);
      }
    }
    return new ConfigError(
      where,
      `expected one of ${[...DATASET_TYPES, ...DPO_DATASET_TYPES].join(', ')} or a mapping (Axolotl's user_defined type), got ${describeValue(value)}`,
    );
  }
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
  checkPreferenceKeys(config);
  const types = new Set(config.datasets.map((d) => d.type === 'alpaca'));
  if (types.size > 1) {
    throw new ConfigError(
      'datasets',
      'alpaca datasets (prompt/completion) cannot be mixed with chat_template or sharegpt ones in one job',
    );
  }
  return config;
}

/** Which dataset types a method reads, for messages. */
function typesFor(rl: RunConfig['rl']): string {
  if (rl === 'dpo') return `${DPO_DATASET_TYPES.join(', ')} or a user_defined mapping`;
  if (rl === 'kto') return 'a user_defined mapping (field_prompt, field_completion, field_label, ...)';
  return DATASET_TYPES.join(', ');
}

/** The rl keys, and each dataset's type and keys, fit the method (supervised, dpo or kto). */
function checkPreferenceKeys(config: RunConfig): void {
  const { rl } = config;
  for (const key of ['beta', 'rl_beta'] as const) {
    if (config[key] !== undefined && rl === undefined) {
      throw new ConfigError(key, "only allowed with 'rl: dpo' or 'rl: kto'");
    }
  }
  if (config.beta !== undefined && config.rl_beta !== undefined) {
    throw new ConfigError('rl_beta', 'set either beta or rl_beta (the same setting), not both');
  }
  for (const key of ['kto_desirable_weight', 'kto_undesirable_weight'] as const) {
    if (config[key] !== undefined && rl !== 'kto') throw new ConfigError(key, "only allowed with 'rl: kto'");
  }
  if (rl !== undefined && config.sample_packing) {
    throw new ConfigError(
      'sample_packing',
      `not supported with 'rl: ${rl}' (preference rows are never packed)`,
    );
  }
  config.datasets.forEach((dataset, i) => {
    const at = (key: string) => `datasets[${i}].${key}`;
    const { type } = dataset;
    const userDefined = typeof type === 'object';
    const fits =
      rl === 'dpo'
        ? userDefined || (DPO_DATASET_TYPES as readonly string[]).includes(type)
        : rl === 'kto'
          ? userDefined
          : !userDefined && (DATASET_TYPES as readonly string[]).includes(type);
    if (!fits) {
      const shown = userDefined ? 'a user_defined mapping' : `'${type}'`;
      throw new ConfigError(
        at('type'),
        `${shown} does not fit ${rl ? `'rl: ${rl}'` : 'supervised fine-tuning (no rl)'}; use ${typesFor(rl)}`,
      );
    }
    const chatTemplateDpo = !userDefined && type.startsWith('chat_template.');
    for (const key of ['field_chosen', 'field_rejected', 'roles'] as const) {
      if (dataset[key] !== undefined && !chatTemplateDpo) {
        throw new ConfigError(at(key), `only allowed with ${DPO_DATASET_TYPES.join(' or ')}`);
      }
    }
    if (userDefined) checkUserDefined(type, rl as 'dpo' | 'kto', at('type'));
  });
}

function checkUserDefined(type: UserDefinedType, rl: 'dpo' | 'kto', where: string): void {
  const foreign =
    rl === 'dpo'
      ? (['field_completion', 'field_label', 'completion_format'] as const)
      : (['field_chosen', 'field_rejected', 'chosen_format', 'rejected_format'] as const);
  for (const key of foreign) {
    if (type[key] !== undefined) throw new ConfigError(`${where}.${key}`, `not used by 'rl: ${rl}'`);
  }
  for (const [key, allowed] of Object.entries(FORMAT_PLACEHOLDERS)) {
    const format = type[key as keyof UserDefinedType];
    if (format === undefined) continue;
    for (const name of placeholders(format)) {
      if (!allowed.includes(name)) {
        throw new ConfigError(
          `${where}.${key}`,
          `unknown placeholder {${name}}; it may use ${allowed.map((a) => `{${a}}`).join(', ')}`,
        );
      }
    }
  }
}

const PLACEHOLDER = /\{\{|\}\}|\{([^{}]*)\}/g;

/** The `{name}` placeholders of a Python-style format (`{{` and `}}` are literal braces). */
function placeholders(format: string): string[] {
  return [...format.matchAll(PLACEHOLDER)].flatMap((m) => (m[1] === undefined ? [] : [m[1]]));
}

/** Fills a Python-style format (`str.format` with names only, as Axolotl's user_defined formats are). */
export function fillFormat(format: string, values: Record<string, string>): string {
  return format.replace(PLACEHOLDER, (match, name: string | undefined) =>
    name === undefined ? (match[0] as string) : (values[name] ?? ''),
  );
}

/** The job body without its files. */
export type JobParams = {
  model: string;
  seed?: number;
  training_type?: TrainingType;
  method: FineTuningMethod;
};

/**
 * The job body for a validated config. `nTrainingExamples` (after the validation split) is needed only to turn
 * warmup_steps into warmup_ratio; that needs the epochs and the batch size to be set too.
 */
export function toJobParams(config: RunConfig, nTrainingExamples: number): JobParams {
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
  const params: JobParams = { model: config.base_model, method: methodOf(config, hyperparameters) };
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

/** supervised (with packing), dpo or kto (with beta and KTO's weights), around the shared hyperparameters. */
function methodOf(config: RunConfig, shared: Record<string, number | string | boolean>): FineTuningMethod {
  if (config.rl === undefined) {
    const hyperparameters = { ...shared };
    if (config.sample_packing !== undefined) hyperparameters.packing = config.sample_packing;
    return { type: 'supervised', supervised: { hyperparameters } };
  }
  const hyperparameters: Record<string, number | string | boolean> = { ...shared };
  const beta = config.beta ?? config.rl_beta;
  if (beta !== undefined) hyperparameters.beta = beta;
  if (config.rl === 'dpo') return { type: 'dpo', dpo: { hyperparameters } };
  if (config.kto_desirable_weight !== undefined)
    hyperparameters.desirable_weight = config.kto_desirable_weight;
  if (config.kto_undesirable_weight !== undefined) {
    hyperparameters.undesirable_weight = config.kto_undesirable_weight;
  }
  return { type: 'kto', kto: { hyperparameters } };
}
