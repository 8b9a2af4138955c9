/**
 * Text generation with the native engine (native/engine/generate.h): a {@link Generator} holds one base model in
 * memory with several PEFT adapters resident (applied unmerged, an LRU bounded by bytes), and generates with a KV
 * cache off the event loop. Tokens stream through `onToken`; a run can be cancelled, and single choices stopped (when
 * the caller sees a stop string). {@link mergeAdapter} writes an adapter folded into the base weights as a plain HF
 * model folder.
 *
 * Sampling follows transformers' `generate`: temperature, then top-k, then top-p, then one draw; temperature 0 is
 * greedy. Logprobs are the log-softmax of the raw logits (before temperature/top-k/top-p), as OpenAI reports them.
 */
import { EngineError, type LogitsResult, loadNative, type ModelConfig } from './index';

export interface GeneratorOptions {
  /** Hugging Face model folder (config.json + safetensors). */
  modelDir: string;
  /** Engine threads; 0 (default) = hardware concurrency. The pool is process-wide. */
  threads?: number;
  /** LRU budget of resident adapters, in bytes of fp32 weights (default 256 MiB). */
  adapterCacheBytes?: number;
}

export interface GenerateRequest {
  /** Prompt token ids (at least one). */
  promptIds: Int32Array | readonly number[];
  /** PEFT adapter folder; omit for the base model. Loaded on first use, then kept resident (LRU). */
  adapterDir?: string;
  /** Choices, decoded as one batch from one shared prefill (default 1). */
  n?: number;
  /** Tokens to generate per choice; a stop token counts (OpenAI's max_tokens). */
  maxTokens: number;
  /** 0 = greedy; default 1 (OpenAI's default). */
  temperature?: number;
  /** (0, 1], default 1. */
  topP?: number;
  /** 0 (default) = off. */
  topK?: number;
  /** Same seed, same request → same tokens. Default: a random seed. */
  seed?: number | bigint;
  /** Extra stop token ids, besides the model's eos ids (unless ignoreEos). */
  stopTokenIds?: readonly number[];
  /** Do not stop at the model's eos ids. */
  ignoreEos?: boolean;
  /** 0..20 alternatives reported with each token (default 0). */
  topLogprobs?: number;
}

export interface TokenLogprob {
  token: number;
  logprob: number;
}

/** One generated token of one choice (stop tokens are not reported). */
export interface GeneratedToken {
  choice: number;
  token: number;
  /** log-softmax of the raw logits at this token. */
  logprob: number;
  /** The `topLogprobs` most likely tokens, most likely first. */
  top: TokenLogprob[];
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface GenerateChoice {
  /** Generated tokens without the stop token that ended the choice. */
  tokens: number[];
  /** One per token. */
  logprobs: number[];
  finishReason: FinishReason;
  /** The stop token id that ended the choice, or -1 (length, cancelled, or stopped by {@link GenerationRun.stopChoice}). */
  stopToken: number;
}

export interface GenerateResult {
  choices: GenerateChoice[];
  promptTokens: number;
  /** Over all choices, counting each generated stop token. */
  completionTokens: number;
}

/** A running generation. */
export interface GenerationRun {
  /** Settles after every `onToken` call. */
  result: Promise<GenerateResult>;
  /** Ends every unfinished choice with finishReason 'cancelled' (checked before each decode step). */
  cancel(): void;
  /** Ends choice `i` with finishReason 'stop' (e.g. the caller saw a stop string in its text). */
  stopChoice(i: number): void;
}

export interface MergeAdapterOptions {
  modelDir: string;
  adapterDir: string;
  /** Written as an HF folder: config.json, model.safetensors (fp32), tokenizer files copied from modelDir. */
  outDir: string;
}

interface NativeRequest {
  promptIds: Int32Array;
  adapterDir?: string;
  n: number;
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: bigint;
  stopTokenIds: Int32Array;
  ignoreEos: boolean;
  topLogprobs: number;
}

interface GenerateBinding {
  generatorOpen(
    options: GeneratorOptions,
  ): Promise<{ handle: object; config: string; eosTokenIds: number[] }>;
  generatorGenerate(
    handle: object,
    request: NativeRequest,
    onToken: ((t: GeneratedToken) => void) | undefined,
  ): { result: Promise<GenerateResult>; control: object };
  generatorCancel(control: object): void;
  generatorStopChoice(control: object, i: number): void;
  generatorLoadAdapter(handle: object, adapterDir: string): Promise<number>;
  generatorUnloadAdapter(handle: object, adapterDir: string): boolean;
  generatorResidentAdapters(handle: object): string[];
  generatorForcedLogits(
    handle: object,
    options: { promptIds: Int32Array; forcedIds: Int32Array; adapterDir?: string },
  ): Promise<LogitsResult>;
  generatorClose(handle: object): void;
  mergeAdapter(options: MergeAdapterOptions): Promise<void>;
}

function binding(): GenerateBinding {
  return loadNative() as unknown as GenerateBinding;
}

function engineErrors<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err instanceof Error && (err as { code?: unknown }).code === 'ERR_TUNEKIT_ENGINE') {
      throw new EngineError(err.message);
    }
    throw err;
  });
}

function randomSeed(): bigint {
  const words = new Uint32Array(2);
  crypto.getRandomValues(words);
  return (BigInt(words[0] ?? 0) << 32n) | BigInt(words[1] ?? 0);
}

/** A base model resident in memory, with its adapters. Call {@link Generator.close} when done. */
export class Generator {
  private handle: object | undefined;
  /** Settles when every generation started so far has finished: runs are started one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    handle: object,
    /** The model's config.json as the engine reads it. */
    readonly config: ModelConfig,
    /** The default stop tokens (eos ids of config.json and generation_config.json). */
    readonly eosTokenIds: readonly number[],
    readonly modelDir: string,
  ) {
    this.handle = handle;
  }

  /** Loads the model (off the event loop). */
  static async open(options: GeneratorOptions): Promise<Generator> {
    const opened = await engineErrors(binding().generatorOpen(options));
    return new Generator(
      opened.handle,
      JSON.parse(opened.config) as ModelConfig,
      opened.eosTokenIds,
      options.modelDir,
    );
  }

  private live(): object {
    if (!this.handle) throw new Error('Generator is closed');
    return this.handle;
  }

  /**
   * Starts a generation. `onToken` is called for each token as it is generated (on the event loop); if it throws,
   * the run is cancelled and `result` rejects with that error.
   */
  generate(request: GenerateRequest, onToken?: (t: GeneratedToken) => void): GenerationRun {
    const native = binding();
    const req: NativeRequest = {
      promptIds: Int32Array.from(request.promptIds),
      n: request.n ?? 1,
      maxTokens: request.maxTokens,
      temperature: request.temperature ?? 1,
      topP: request.topP ?? 1,
      topK: request.topK ?? 0,
      seed: request.seed === undefined ? randomSeed() : BigInt(request.seed),
      stopTokenIds: Int32Array.from(request.stopTokenIds ?? []),
      ignoreEos: request.ignoreEos ?? false,
      topLogprobs: request.topLogprobs ?? 0,
    };
    if (request.adapterDir !== undefined) req.adapterDir = request.adapterDir;
    const handle = this.live();
    // Runs start one after the other (the engine runs one at a time; queueing here keeps waiting runs off libuv's
    // thread pool). A run cancelled while it waits settles at once, and never starts.
    let control: object | undefined;
    let cancelled = false;
    const stopped: number[] = [];
    let settleCancelled: (r: GenerateResult) => void = () => {};
    const cancelledWhileWaiting = new Promise<GenerateResult>((resolve) => {
      settleCancelled = resolve;
    });
    const cancelledResult = (): GenerateResult => ({
      choices: Array.from({ length: req.n }, () => ({
        tokens: [],
        logprobs: [],
        finishReason: 'cancelled' as const,
        stopToken: -1,
      })),
      promptTokens: req.promptIds.length,
      completionTokens: 0,
    });
    const start = (): Promise<GenerateResult> => {
      if (cancelled) return Promise.resolve(cancelledResult());
      const started = native.generatorGenerate(handle, req, onToken);
      control = started.control;
      for (const i of stopped) native.generatorStopChoice(control, i);
      return engineErrors(started.result);
    };
    const run = this.queue.then(start);
    this.queue = run.catch(() => undefined);
    return {
      result: Promise.race([run, cancelledWhileWaiting]),
      cancel: () => {
        cancelled = true;
        if (control) native.generatorCancel(control);
        else settleCancelled(cancelledResult());
      },
      stopChoice: (i: number) => {
        if (control) native.generatorStopChoice(control, i);
        else stopped.push(i);
      },
    };
  }

  /** Makes an adapter resident (most recently used); resolves to its size in bytes. */
  loadAdapter(adapterDir: string): Promise<number> {
    return engineErrors(binding().generatorLoadAdapter(this.live(), adapterDir));
  }

  /** Drops a resident adapter; false when it was not resident. */
  unloadAdapter(adapterDir: string): boolean {
    return binding().generatorUnloadAdapter(this.live(), adapterDir);
  }

  /** Resident adapter folders, most recently used first. */
  residentAdapters(): string[] {
    return binding().generatorResidentAdapters(this.live());
  }

  /**
   * Logits of the prompt's prefill (rows 0..T-1), then of each forced token decoded one at a time with the KV cache
   * (row T+i after forcedIds[i]). For checking the decode path against the full forward.
   */
  forcedLogits(
    promptIds: Int32Array | readonly number[],
    forcedIds: Int32Array | readonly number[],
    adapterDir?: string,
  ): Promise<LogitsResult> {
    const options: { promptIds: Int32Array; forcedIds: Int32Array; adapterDir?: string } = {
      promptIds: Int32Array.from(promptIds),
      forcedIds: Int32Array.from(forcedIds),
    };
    if (adapterDir !== undefined) options.adapterDir = adapterDir;
    return engineErrors(binding().generatorForcedLogits(this.live(), options));
  }

  /** Releases the model (a running generation finishes first). Further calls throw. */
  close(): void {
    if (!this.handle) return;
    binding().generatorClose(this.handle);
    this.handle = undefined;
  }
}

/** Folds an adapter into the base weights (W += scaling·B·A) and writes a plain HF model folder. */
export function mergeAdapter(options: MergeAdapterOptions): Promise<void> {
  return engineErrors(binding().mergeAdapter(options));
}
