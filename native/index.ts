/**
 * The typed loader of tunekit's native engine (native/build/Release/tunekit.node, built by `npm run build:native`)
 * and small helpers around it: the token file writer and the built-in model's location.
 *
 * Conventions: every engine call returns a Promise and runs off the event loop; option and result keys are the
 * engine's fields (native/engine/train.h) in camelCase. Engine failures reject with {@link EngineError} (its message
 * names the file and tensor/field concerned); bad arguments reject with a TypeError. When the binary was not built,
 * every call throws {@link NativeEngineNotBuiltError}.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** LoRA settings (PEFT semantics). `targets`: `q_proj`…`down_proj`, short `q`…`down`, or `all-linear`. */
export interface LoraOptions {
  r?: number;
  alpha?: number;
  dropout?: number;
  useRslora?: boolean;
  targets?: string[];
}

/** One training run (mirrors tk::TrainOptions). Defaults are the engine's (HF Trainer's). */
export interface TrainOptions {
  /** Hugging Face model folder (config.json + model.safetensors or shards). */
  modelDir: string;
  /** Where the PEFT adapter (LoRA) or the full HF model folder (full fine-tuning) is written. */
  outputDir: string;
  /** `<checkpointDir>/step-<N>/` + `latest`; omit for none. A cancel still writes one when set. */
  checkpointDir?: string;
  /** Token file (see {@link writeTokenFile}). */
  trainTokens: string;
  validTokens?: string;
  full?: boolean;
  lora?: LoraOptions;
  /** Start from this PEFT adapter (its r/alpha/targets replace `lora`) instead of PEFT's init. */
  initAdapterDir?: string;
  batchSize?: number;
  gradAccumSteps?: number;
  nEpochs?: number;
  maxSeqLen?: number;
  packing?: boolean;
  learningRate?: number;
  lrScheduler?: 'linear' | 'cosine' | 'constant';
  warmupRatio?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEps?: number;
  seed?: number | bigint;
  /** 0 = hardware concurrency. */
  threads?: number;
  checkpointEverySteps?: number;
  checkpointEachEpoch?: boolean;
  evalEverySteps?: number;
  /** Continue from a checkpoint in checkpointDir: `resumeFrom`'s first readable one, else the one `latest` names. */
  resume?: boolean;
  /**
   * Checkpoint folder names to resume from, newest first: one whose state.bin fails its size or checksum check is
   * skipped; when none is readable the run starts over (`resumedFromStep` 0). Omit to use `latest`.
   */
  resumeFrom?: string[];
  /**
   * Step-wise training (a reinforcement job samples each step's data with the policy the previous step left): the
   * state.bin an earlier run wrote to `saveState` — trainable parameters, AdamW moments, step and data cursor —
   * to go on from. Step numbers, Adam's bias correction and the schedule continue; the options fingerprint is not
   * checked (the data differ by design). Excludes `resume`.
   */
  continueState?: string;
  /** Where to write the run's state.bin (atomically) when it ends uncancelled, for a later `continueState`. */
  saveState?: string;
  /** Length of the learning-rate schedule (warmup and decay) when larger than this run's steps (step-wise runs). */
  scheduleSteps?: number;
  /** What is optimised; omit for SFT's token-mean CE. */
  objective?: ObjectiveOptions;
}

/**
 * A preference objective (mirrors tk::ObjectiveOptions, native/engine/objectives/preference.h; TRL's names and
 * defaults). The token file holds whole sequences (labels -100 on the prompt): for `dpo` rows 2i / 2i+1 are pair i's
 * chosen / rejected answer; for `kto` one row per example with `desirable` giving its label.
 */
export interface ObjectiveOptions {
  method: 'sft' | 'dpo' | 'kto' | 'grpo';
  /** dpo: any of sigmoid, hinge, ipo, robust, sigmoid_norm, sft (summed with lossWeights); or simpo / orpo alone. */
  lossTypes?: string[];
  lossWeights?: number[];
  beta?: number;
  labelSmoothing?: number;
  simpoGamma?: number;
  cpoAlpha?: number;
  referenceFree?: boolean;
  desirableWeight?: number;
  undesirableWeight?: number;
  /** kto: one flag per example of trainTokens / validTokens (1 = desirable). */
  desirable?: number[];
  validDesirable?: number[];
  /**
   * grpo (native/engine/objectives/grpo.h; TRL GRPOConfig's names and defaults, beta 0 for grpo): the token file
   * holds groups of numGenerations sampled completions of one prompt, `rewards` one reward per row.
   */
  numGenerations?: number;
  grpoLossType?: 'grpo' | 'dr_grpo' | 'dapo' | 'bnpo';
  epsilon?: number;
  maxCompletionLength?: number;
  scaleRewards?: 'group' | 'batch' | 'none';
  rewards?: number[];
  /** grpo: the sampling temperature; log-probs are those of logits / temperature, as TRL computes them (default 1). */
  temperature?: number;
}

/** One optimizer step's report (mirrors tk::Progress). */
export interface TrainProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  trainLoss: number;
  trainMeanTokenAccuracy: number;
  learningRate: number;
  gradNorm: number;
  tokensSeen: number;
  elapsedS: number;
  hasValid: boolean;
  validLoss: number;
  validMeanTokenAccuracy: number;
  isFullValid: boolean;
  fullValidLoss: number;
  fullValidMeanTokenAccuracy: number;
  /** '' unless a checkpoint was written at this step. */
  checkpointPath: string;
  /** -1 unless this is the first report after a resume (0: no `resumeFrom` candidate was readable). */
  resumedFromStep: number;
  /**
   * The objective's metrics with TRL's names (`rewards/chosen`, `rewards/rejected`, `rewards/accuracies`,
   * `rewards/margins`, `logps/chosen`, `logps/rejected`, ...; `valid_`/`full_valid_` prefixed for validation);
   * empty for SFT.
   */
  metrics: Record<string, number>;
}

export interface TrainCheckpoint {
  step: number;
  path: string;
  adapterDir: string;
  trainLoss: number;
  trainMeanTokenAccuracy: number;
  hasValid: boolean;
  validLoss: number;
  validMeanTokenAccuracy: number;
}

/** Mirrors tk::TrainResult. */
export interface TrainResult {
  steps: number;
  totalSteps: number;
  trainedTokens: number;
  finalTrainLoss: number;
  cancelled: boolean;
  /** '' when cancelled (the checkpoint holds the state). */
  outputDir: string;
  checkpoints: TrainCheckpoint[];
}

export interface EvaluateOptions {
  modelDir: string;
  /** PEFT adapter folder; omit for the base model. */
  adapterDir?: string;
  tokensPath: string;
  maxSeqLen?: number;
  threads?: number;
}

export interface EvalResult {
  loss: number;
  meanTokenAccuracy: number;
  nTokens: number;
}

export interface LogitsOptions {
  modelDir: string;
  adapterDir?: string;
  ids: Int32Array | number[];
  threads?: number;
}

/** Row-major (rows = sequence length, cols = vocab size) fp32 logits. */
export interface LogitsResult {
  logits: Float32Array;
  rows: number;
  cols: number;
}

/** A Hugging Face config.json as the engine understands it (normalized; unknown keys dropped). */
export interface ModelConfig {
  architectures: string[];
  model_type: 'llama' | 'qwen2' | 'mistral';
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling: null | {
    rope_type: 'llama3';
    factor: number;
    low_freq_factor: number;
    high_freq_factor: number;
    original_max_position_embeddings: number;
  };
  max_position_embeddings: number;
  tie_word_embeddings: boolean;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  torch_dtype: string;
  [key: string]: unknown;
}

export interface SafetensorsInfo {
  metadata: Record<string, string>;
  tensors: { name: string; dtype: string; shape: number[]; dataOffsets: [number, number] }[];
}

export interface InitModelOptions {
  outDir: string;
  /** config.json contents (at least model_type and the five sizes). */
  config: Partial<ModelConfig> & Record<string, unknown>;
  seed?: number | bigint;
  /** Standard deviation of the matrices (default 0.02); norms are 1, biases 0. */
  initStd?: number;
  /** Copy tokenizer.json & co. from this folder. */
  copyTokenizerFrom?: string;
}

export interface EngineInfo {
  /** The kernel path in use: `avx512`, `avx2` or `portable` (chosen at load time; `TUNEKIT_CPU` forces one). */
  cpu: 'avx512' | 'avx2' | 'portable';
  /** Every path this CPU and build can run, narrowest first. */
  cpuPaths: string[];
  /** One line: the path, whether detected or forced, and the CPU's relevant features. */
  cpuReport: string;
  cblas: boolean;
}

/** A running training; `cancel()` stops it between optimizer steps (a checkpoint is left when checkpointDir is set). */
export interface TrainingRun {
  result: Promise<TrainResult>;
  cancel(): void;
}

/** One tokenized example: `labels[i]` is the target for position i before the shift (-100 = not scored). */
export interface TokenExample {
  inputIds: ArrayLike<number>;
  labels: ArrayLike<number>;
}

/** The native binary is missing: build it with `npm run build:native`. */
export class NativeEngineNotBuiltError extends Error {
  readonly code = 'ERR_TUNEKIT_NATIVE_NOT_BUILT';
  constructor(
    readonly binaryPath: string,
    cause?: unknown,
  ) {
    super(
      `the tunekit native engine is not built: run \`npm rebuild @tunekit/emulator\` where it is installed, or ` +
        `\`npm run build:native\` in a checkout (needs cmake and a C++20 compiler; OpenBLAS optional) — ` +
        `expected ${binaryPath}`,
      { cause },
    );
    this.name = 'NativeEngineNotBuiltError';
  }
}

/** An error from the engine (bad model folder, corrupt safetensors, bad token file, ...). */
export class EngineError extends Error {
  readonly code = 'ERR_TUNEKIT_ENGINE';
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

interface CancelTokenHandle {
  cancel(): void;
  readonly cancelled: boolean;
}

interface NativeBinding {
  CancelToken: new () => CancelTokenHandle;
  train(
    options: TrainOptions,
    onProgress: ((p: TrainProgress) => void) | undefined,
    token: CancelTokenHandle,
  ): Promise<TrainResult>;
  evaluate(options: EvaluateOptions): Promise<EvalResult>;
  logits(options: LogitsOptions): Promise<LogitsResult>;
  loadConfig(modelDir: string): Promise<string>;
  inspectSafetensors(path: string): Promise<string>;
  initModel(options: Omit<InitModelOptions, 'config'> & { config: string }): Promise<void>;
  engineInfo(): EngineInfo;
  exitWithParent(parentPid: number): boolean;
}

/** The packages that hold the engine: the repository (a checkout) and the installed emulator package. */
const ENGINE_PACKAGES = new Set(['tunekit', '@tunekit/emulator']);

/** The package root: the nearest folder above this module whose package.json is one of {@link ENGINE_PACKAGES}. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (
      existsSync(pkg) &&
      ENGINE_PACKAGES.has((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name ?? '')
    )
      return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(dirname(fileURLToPath(import.meta.url)), '..');
    dir = parent;
  }
}

/** Where the binary is expected (override with TUNEKIT_NATIVE_BINARY). */
export function nativeBinaryPath(): string {
  return (
    process.env.TUNEKIT_NATIVE_BINARY ?? join(packageRoot(), 'native', 'build', 'Release', 'tunekit.node')
  );
}

/** The built-in model folder (`tunekit-tiny-chat`, generated by the native build; override with TUNEKIT_BUILTIN_MODEL_DIR). */
export function builtinModelDir(): string {
  return (
    process.env.TUNEKIT_BUILTIN_MODEL_DIR ??
    join(packageRoot(), 'native', 'build', 'models', 'tunekit-tiny-chat')
  );
}

let cached: NativeBinding | undefined;

/** Loads the binary once; throws {@link NativeEngineNotBuiltError} when it is missing or cannot load. */
export function loadNative(): NativeBinding {
  if (cached) return cached;
  const path = nativeBinaryPath();
  if (!existsSync(path)) throw new NativeEngineNotBuiltError(path);
  try {
    cached = createRequire(import.meta.url)(path) as NativeBinding;
  } catch (err) {
    throw new NativeEngineNotBuiltError(path, err);
  }
  return cached;
}

/** True when the binary is built and loads. */
export function isNativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}

function engineErrors<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err instanceof Error && (err as { code?: unknown }).code === 'ERR_TUNEKIT_ENGINE') {
      throw new EngineError(err.message);
    }
    throw err;
  });
}

/**
 * Starts a training run. Progress arrives once per optimizer step, always before `result` settles. If `onProgress`
 * throws, the run is cancelled and `result` rejects with that error.
 */
export function startTraining(options: TrainOptions, onProgress?: (p: TrainProgress) => void): TrainingRun {
  const native = loadNative();
  const token = new native.CancelToken();
  return { result: engineErrors(native.train(options, onProgress, token)), cancel: () => token.cancel() };
}

/** Trains to completion; an aborted `signal` cancels between steps (the result then has `cancelled: true`). */
export function train(
  options: TrainOptions,
  onProgress?: (p: TrainProgress) => void,
  signal?: AbortSignal,
): Promise<TrainResult> {
  const run = startTraining(options, onProgress);
  if (signal) {
    if (signal.aborted) run.cancel();
    else signal.addEventListener('abort', () => run.cancel(), { once: true });
  }
  return run.result;
}

/** Loss-only pass over a token file (base model, or base + PEFT adapter). */
export function evaluate(options: EvaluateOptions): Promise<EvalResult> {
  return engineErrors(loadNative().evaluate(options));
}

/** Forward-only logits of one sequence. */
export function logits(options: LogitsOptions): Promise<LogitsResult> {
  return engineErrors(loadNative().logits(options));
}

/** Reads and validates a model folder's config.json as the engine does. */
export async function loadConfig(modelDir: string): Promise<ModelConfig> {
  return JSON.parse(await engineErrors(loadNative().loadConfig(modelDir))) as ModelConfig;
}

/** Validates a safetensors file (strictly) and lists its tensors. */
export async function inspectSafetensors(path: string): Promise<SafetensorsInfo> {
  return JSON.parse(await engineErrors(loadNative().inspectSafetensors(path))) as SafetensorsInfo;
}

/** Writes a randomly initialised HF model folder (deterministic for a seed, the same bytes on every machine). */
export function initModel(options: InitModelOptions): Promise<void> {
  return engineErrors(loadNative().initModel({ ...options, config: JSON.stringify(options.config) }));
}

/**
 * Which kernels the engine runs on this machine. Throws when `TUNEKIT_CPU` names a path this CPU cannot run (the
 * engine would refuse every call) or the binary is not built.
 */
export function engineInfo(): EngineInfo {
  return loadNative().engineInfo();
}

/**
 * For a child process: the kernel kills it (SIGKILL) when its parent dies, so it writes nothing after that; when
 * the parent is already gone (the parent pid is no longer `parentPid`) it dies now. False where the platform has no
 * such mechanism (Linux only): watch the IPC channel instead.
 */
export function exitWithParent(parentPid: number): boolean {
  return loadNative().exitWithParent(parentPid);
}

// ---- token file --------------------------------------------------------------------------------------------------

let tmpCounter = 0;
const TOKEN_MAGIC = 'TKTOKEN1';
const TOKEN_VERSION = 1;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/**
 * Encodes examples in the engine's token file format (little-endian): magic "TKTOKEN1", u32 version 1,
 * u32 n_examples, u64 offsets[n+1], i32 input_ids[total], i32 labels[total].
 */
export function encodeTokenFile(examples: readonly TokenExample[]): Buffer {
  let total = 0;
  examples.forEach((ex, i) => {
    if (ex.inputIds.length !== ex.labels.length) {
      throw new RangeError(
        `example ${i}: inputIds has ${ex.inputIds.length} tokens but labels has ${ex.labels.length}`,
      );
    }
    total += ex.inputIds.length;
  });
  const n = examples.length;
  const header = 8 + 4 + 4;
  const buf = Buffer.alloc(header + 8 * (n + 1) + 8 * total);
  buf.write(TOKEN_MAGIC, 0, 'latin1');
  buf.writeUInt32LE(TOKEN_VERSION, 8);
  buf.writeUInt32LE(n, 12);
  let offsetAt = header;
  let idAt = header + 8 * (n + 1);
  let labelAt = idAt + 4 * total;
  let cursor = 0;
  buf.writeBigUInt64LE(0n, offsetAt);
  offsetAt += 8;
  examples.forEach((ex, i) => {
    for (let t = 0; t < ex.inputIds.length; t++) {
      const id = ex.inputIds[t]!;
      const label = ex.labels[t]!;
      if (!Number.isInteger(id) || id < 0 || id > INT32_MAX) {
        throw new RangeError(`example ${i}: inputIds[${t}] = ${id} is not a token id`);
      }
      if (
        !Number.isInteger(label) ||
        label < INT32_MIN ||
        label > INT32_MAX ||
        (label < 0 && label !== -100)
      ) {
        throw new RangeError(`example ${i}: labels[${t}] = ${label} is neither a token id nor -100`);
      }
      buf.writeInt32LE(id, idAt);
      buf.writeInt32LE(label, labelAt);
      idAt += 4;
      labelAt += 4;
    }
    cursor += ex.inputIds.length;
    buf.writeBigUInt64LE(BigInt(cursor), offsetAt);
    offsetAt += 8;
  });
  return buf;
}

/** Writes a token file atomically (temporary file in the same folder, fsync, rename). */
export async function writeTokenFile(path: string, examples: readonly TokenExample[]): Promise<void> {
  const bytes = encodeTokenFile(examples);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp.${process.pid}.${tmpCounter++}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}
