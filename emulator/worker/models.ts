/**
 * Which models the emulator knows and where their weights are:
 *   - the built-in model `tunekit-tiny-chat` (a random-init byte-level Llama that ships with the engine build);
 *   - every Hugging Face folder (config.json + tokenizer.json) under `--models-dir`, named by its path there
 *     (`Qwen/Qwen2.5-0.5B-Instruct`, `my-model`);
 *   - hosted names (`gpt-4o-mini-2024-07-18`, `meta-llama/Llama-3.1-8B-Instruct`, ...) mapped to a local stand-in
 *     by `DEFAULT_HOSTED_MODELS` (overridable): a `--models-dir` folder of the hosted name wins, then the table's
 *     stand-in, which is the built-in model unless overridden;
 *   - the calling project's fine-tuned models and checkpoints (from the store). A model fine-tuned from a LoRA
 *     fine-tuned model (`model: "ft:…"`) was trained on its parent's base with the parent's adapter merged in, a
 *     folder cached under `<data>/merged/<adapter id>` (built once, by whoever needs it first: see `merges`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Model } from '../contract/models';
import type { Store } from '../store';

export const BUILTIN_MODEL = 'tunekit-tiny-chat';

/**
 * The names Together's `GET /fine-tunes/models/supported` lists (a selection of its fine-tuning catalogue, the
 * `-Reference` names its CLI examples use among them); all are in `DEFAULT_HOSTED_MODELS`.
 */
export const TOGETHER_FINE_TUNING_MODELS: readonly string[] = [
  'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference',
  'meta-llama/Meta-Llama-3.1-8B-Reference',
  'meta-llama/Meta-Llama-3.1-70B-Instruct-Reference',
  'meta-llama/Llama-3.1-70B-Instruct-Reference',
  'meta-llama/Llama-3.3-70B-Instruct-Reference',
  'meta-llama/Llama-3.2-1B-Instruct',
  'meta-llama/Llama-3.2-3B-Instruct',
  'meta-llama/Meta-Llama-3-8B-Instruct',
  'Qwen/Qwen2.5-7B-Instruct',
  'Qwen/Qwen2.5-14B-Instruct',
  'Qwen/Qwen2.5-72B-Instruct',
  'Qwen/Qwen3-8B',
  'mistralai/Mistral-7B-Instruct-v0.2',
  'mistralai/Mixtral-8x7B-Instruct-v0.1',
  'google/gemma-2-9b-it',
  'deepseek-ai/DeepSeek-R1-Distill-Llama-8B',
];

/** Hosted model names and their local stand-in (a model id of this registry). Documented in docs/emulator.md. */
export const DEFAULT_HOSTED_MODELS: Readonly<Record<string, string>> = {
  'gpt-4o-mini-2024-07-18': BUILTIN_MODEL,
  'gpt-4o-mini': BUILTIN_MODEL,
  'gpt-4o-2024-08-06': BUILTIN_MODEL,
  'gpt-4.1-2025-04-14': BUILTIN_MODEL,
  'gpt-4.1-mini-2025-04-14': BUILTIN_MODEL,
  'gpt-4.1-nano-2025-04-14': BUILTIN_MODEL,
  'o4-mini-2025-04-16': BUILTIN_MODEL,
  'o4-mini': BUILTIN_MODEL,
  'gpt-3.5-turbo': BUILTIN_MODEL,
  'gpt-3.5-turbo-0125': BUILTIN_MODEL,
  'gpt-3.5-turbo-1106': BUILTIN_MODEL,
  'babbage-002': BUILTIN_MODEL,
  'davinci-002': BUILTIN_MODEL,
  'meta-llama/Llama-3.1-8B-Instruct': BUILTIN_MODEL,
  'meta-llama/Llama-3.2-1B-Instruct': BUILTIN_MODEL,
  'meta-llama/Llama-3.2-3B-Instruct': BUILTIN_MODEL,
  'Qwen/Qwen2.5-0.5B-Instruct': BUILTIN_MODEL,
  'Qwen/Qwen2.5-1.5B-Instruct': BUILTIN_MODEL,
  'Qwen/Qwen2.5-7B-Instruct': BUILTIN_MODEL,
  'mistralai/Mistral-7B-Instruct-v0.3': BUILTIN_MODEL,
  'HuggingFaceTB/SmolLM2-135M-Instruct': BUILTIN_MODEL,
  ...Object.fromEntries(TOGETHER_FINE_TUNING_MODELS.map((name) => [name, BUILTIN_MODEL])),
};

export type TrainingMethod = 'supervised' | 'dpo' | 'kto' | 'reinforcement';

/**
 * The methods the service trains each hosted reasoning model with: reinforcement fine-tuning runs on reasoning
 * models only (o4-mini), and they take no other method. Every other hosted name takes supervised and DPO but not
 * reinforcement; local models (built-in, `--models-dir`) take every method.
 */
const REASONING_MODELS = new Set(['o4-mini-2025-04-16', 'o4-mini']);

/** Why a hosted model name cannot be trained with this method, as the service says it; undefined when it can. */
export function hostedMethodRefusal(model: ResolvedModel, method: TrainingMethod): string | undefined {
  if (model.kind !== 'hosted') return undefined;
  const reasoning = REASONING_MODELS.has(model.id);
  if (method === 'reinforcement' && !reasoning) {
    return `Model ${model.id} does not support the 'reinforcement' fine-tuning method: reinforcement fine-tuning runs on reasoning models (o4-mini-2025-04-16).`;
  }
  if (method !== 'reinforcement' && reasoning) {
    return `Model ${model.id} does not support the '${method}' fine-tuning method: it is trained by reinforcement fine-tuning only.`;
  }
  return undefined;
}

/** Reads a JSON object `{ "hosted name": "stand-in model id" }` that replaces or extends the default table. */
export function loadHostedModelTable(file: string): Record<string, string> {
  const table = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw new Error(`${file}: expected a JSON object mapping hosted model names to local model ids`);
  }
  for (const [name, standIn] of Object.entries(table)) {
    if (typeof standIn !== 'string') throw new Error(`${file}: the stand-in for "${name}" must be a string`);
  }
  return table as Record<string, string>;
}

export type ModelKind = 'builtin' | 'local' | 'hosted' | 'fine-tuned';

/** A model name resolved to weights on disk. */
export interface ResolvedModel {
  /** The name as asked for. */
  id: string;
  kind: ModelKind;
  /** HF folder of the base weights (for a full fine-tune, its output folder). */
  modelDir: string;
  /** PEFT adapter to apply on top, for LoRA fine-tuned models and checkpoints. */
  adapterDir: string | null;
  /** The local model id the weights come from (the stand-in of a hosted name; the base of a fine-tuned one). */
  localId: string;
  /** Fine-tuned models only: the job that made it. */
  jobId?: string;
  /** LoRA fine-tuned models only: the adapter's id (the key of its merged-base cache). */
  adapterId?: string;
  /**
   * Cached merged folders that `modelDir` (or `trainingBase`) needs and that are not on disk yet, oldest ancestor
   * first: build them in order with `buildMerges` before loading the weights.
   */
  merges: MergeStep[];
}

/** Folding `adapterDir` into the plain model folder `modelDir` gives the folder `outDir`. */
export interface MergeStep {
  modelDir: string;
  adapterDir: string;
  outDir: string;
}

/** The weights a new training (or a merged download) starts from: one plain HF folder, no adapter. */
export interface TrainingBase {
  modelDir: string;
  localId: string;
  /** Missing cached merges to build first, oldest ancestor first. */
  merges: MergeStep[];
}

export interface ModelRegistryOptions {
  store: Store;
  /** Folder of the built-in model (config.json, model.safetensors, tokenizer files). */
  builtinDir: string;
  modelsDir?: string | undefined;
  /** Hosted name → stand-in model id; defaults to `DEFAULT_HOSTED_MODELS`. */
  hostedModels?: Readonly<Record<string, string>> | undefined;
}

function isModelFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'tokenizer.json'));
}

export class ModelRegistry {
  private readonly hosted: Readonly<Record<string, string>>;
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(private readonly options: ModelRegistryOptions) {
    this.hosted = options.hostedModels ?? DEFAULT_HOSTED_MODELS;
  }

  /** Ids of the HF folders under --models-dir (one or two levels deep: `name` or `org/name`). */
  localModels(): string[] {
    const root = this.options.modelsDir;
    if (!root || !fs.existsSync(root)) return [];
    const found: string[] = [];
    for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = path.join(root, entry.name);
      if (isModelFolder(dir)) {
        found.push(entry.name);
        continue;
      }
      for (const inner of fs.readdirSync(dir, { withFileTypes: true })) {
        if (inner.isDirectory() && isModelFolder(path.join(dir, inner.name)))
          found.push(`${entry.name}/${inner.name}`);
      }
    }
    return found.sort();
  }

  /** Every model the project can use: built-in, local folders, hosted names, then its fine-tuned models. */
  list(projectId: string): Model[] {
    const system = (id: string): Model => ({
      id,
      object: 'model',
      created: this.created,
      owned_by: 'system',
    });
    const ids = new Set<string>([BUILTIN_MODEL, ...this.localModels(), ...Object.keys(this.hosted)]);
    return [...[...ids].map(system), ...this.options.store.models.list(projectId)];
  }

  /** The weights behind a model name for this project, or undefined when the name is unknown. */
  resolve(projectId: string, name: string): ResolvedModel | undefined {
    const base = this.resolveBase(name, new Set());
    if (base) return base;
    const tuned = this.options.store.models.find(projectId, name);
    if (!tuned) return undefined;
    // The parent is a base model, or (a job started from an `ft:` model) a fine-tuned model: its training base.
    const parent = this.trainingBase(projectId, tuned.baseModel);
    if (!parent) return undefined;
    if (tuned.weightsDir) {
      return {
        id: name,
        kind: 'fine-tuned',
        modelDir: tuned.weightsDir,
        adapterDir: null,
        localId: parent.localId,
        jobId: tuned.jobId,
        merges: [],
      };
    }
    const adapterDir = tuned.adapterId
      ? this.options.store.adapters.dir(projectId, tuned.adapterId)
      : undefined;
    if (!adapterDir || !tuned.adapterId) return undefined;
    return {
      id: name,
      kind: 'fine-tuned',
      modelDir: parent.modelDir,
      adapterDir,
      localId: parent.localId,
      jobId: tuned.jobId,
      adapterId: tuned.adapterId,
      merges: parent.merges,
    };
  }

  /**
   * The plain model folder that training on `name` starts from: the model itself for a base model or a full
   * fine-tune; for a LoRA fine-tuned model, its base with its adapter merged in (cached per adapter).
   */
  trainingBase(projectId: string, name: string): TrainingBase | undefined {
    const model = this.resolve(projectId, name);
    if (!model) return undefined;
    if (model.adapterDir === null || model.adapterId === undefined) {
      return { modelDir: model.modelDir, localId: model.localId, merges: model.merges };
    }
    const outDir = path.join(this.options.store.paths.root, 'merged', model.adapterId);
    const merges = fs.existsSync(path.join(outDir, 'config.json'))
      ? []
      : [...model.merges, { modelDir: model.modelDir, adapterDir: model.adapterDir, outDir }];
    return { modelDir: outDir, localId: model.localId, merges };
  }

  private resolveBase(name: string, seen: Set<string>): ResolvedModel | undefined {
    const { modelsDir, builtinDir } = this.options;
    if (modelsDir && !name.includes('..') && !path.isAbsolute(name)) {
      const dir = path.join(modelsDir, name);
      if (isModelFolder(dir))
        return { id: name, kind: 'local', modelDir: dir, adapterDir: null, localId: name, merges: [] };
    }
    if (name === BUILTIN_MODEL) {
      return {
        id: name,
        kind: 'builtin',
        modelDir: builtinDir,
        adapterDir: null,
        localId: BUILTIN_MODEL,
        merges: [],
      };
    }
    const standIn = this.hosted[name];
    if (standIn === undefined || seen.has(name)) return undefined;
    seen.add(name);
    const target = this.resolveBase(standIn, seen);
    return target && { ...target, id: name, kind: 'hosted' };
  }
}

/**
 * Builds the missing merged folders of `merges` in order, each written to a temporary sibling and renamed into
 * place, so a crash never leaves a half-written folder that looks complete. `merge` is the engine's
 * mergeAdapter (in a trainer child) or the inference process's.
 */
export async function buildMerges(
  merges: readonly MergeStep[],
  merge: (step: MergeStep) => Promise<void>,
): Promise<void> {
  for (const step of merges) {
    if (fs.existsSync(path.join(step.outDir, 'config.json'))) continue;
    fs.mkdirSync(path.dirname(step.outDir), { recursive: true });
    const tmp = `${step.outDir}.tmp-${process.pid}-${Date.now()}`;
    try {
      await merge({ ...step, outDir: tmp });
      // Another process may have built it meanwhile: keep the first complete one.
      if (!fs.existsSync(path.join(step.outDir, 'config.json'))) {
        fs.rmSync(step.outDir, { recursive: true, force: true });
        fs.renameSync(tmp, step.outDir);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}
