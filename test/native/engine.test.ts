// The native engine through the addon: the built-in model, training (progress, loss, cancel + checkpoint + resume,
// determinism, a free event loop) and errors that name the file and tensor.
import { copyFileSync, existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  builtinModelDir,
  EngineError,
  encodeTokenFile,
  evaluate,
  initModel,
  inspectSafetensors,
  loadConfig,
  logits,
  startTraining,
  type TokenExample,
  type TrainOptions,
  type TrainProgress,
  train,
  writeTokenFile,
} from '../../native/index';
import { tempDir } from './helpers';

const IM_START = 256;
const IM_END = 257;

/** ChatML examples over the built-in byte-level vocabulary, the prompt masked with -100. */
function chatExamples(n: number): TokenExample[] {
  const bytes = (s: string) => [...Buffer.from(s, 'utf8')];
  const examples: TokenExample[] = [];
  for (let i = 0; i < n; i++) {
    const prompt = [
      IM_START,
      ...bytes(`user\nWhat is ${i} plus ${i}?`),
      IM_END,
      10,
      IM_START,
      ...bytes('assistant\n'),
    ];
    const answer = [...bytes(`It is ${i + i}.`), IM_END];
    examples.push({
      inputIds: [...prompt, ...answer],
      labels: [...prompt.map(() => -100), ...answer],
    });
  }
  return examples;
}

const tmp = tempDir('native-engine');
const trainTokens = join(tmp.path, 'train.tok');
const validTokens = join(tmp.path, 'valid.tok');

function options(name: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  return {
    modelDir: builtinModelDir(),
    outputDir: join(tmp.path, name, 'adapter'),
    trainTokens,
    batchSize: 4,
    nEpochs: 2,
    maxSeqLen: 64,
    learningRate: 2e-3,
    threads: 2,
    seed: 7,
    ...extra,
  };
}

beforeAll(async () => {
  await writeTokenFile(trainTokens, chatExamples(12));
  await writeTokenFile(validTokens, chatExamples(4));
});
afterAll(() => tmp.remove());

describe('token file', () => {
  it('encodes the documented layout', () => {
    const buf = encodeTokenFile([
      { inputIds: [1, 2, 3], labels: [-100, 2, 3] },
      { inputIds: [4], labels: [4] },
    ]);
    expect(buf.subarray(0, 8).toString('latin1')).toBe('TKTOKEN1');
    expect(buf.readUInt32LE(8)).toBe(1);
    expect(buf.readUInt32LE(12)).toBe(2);
    expect([0, 1, 2].map((i) => Number(buf.readBigUInt64LE(16 + 8 * i)))).toEqual([0, 3, 4]);
    const ids = 16 + 24;
    expect([0, 1, 2, 3].map((i) => buf.readInt32LE(ids + 4 * i))).toEqual([1, 2, 3, 4]);
    expect([0, 1, 2, 3].map((i) => buf.readInt32LE(ids + 16 + 4 * i))).toEqual([-100, 2, 3, 4]);
    expect(buf.length).toBe(ids + 32);
  });

  it('rejects mismatched lengths and invalid ids', () => {
    expect(() => encodeTokenFile([{ inputIds: [1, 2], labels: [1] }])).toThrow(/example 0: inputIds has 2/);
    expect(() => encodeTokenFile([{ inputIds: [1.5], labels: [1] }])).toThrow(/inputIds\[0\]/);
    expect(() => encodeTokenFile([{ inputIds: [1], labels: [-5] }])).toThrow(/labels\[0\] = -5/);
  });
});

describe('built-in model', () => {
  it('loads as a Llama folder with a byte-level vocabulary', async () => {
    const config = await loadConfig(builtinModelDir());
    expect(config).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: 258,
      hidden_size: 256,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 4,
      intermediate_size: 680,
      tie_word_embeddings: true,
      eos_token_id: 257,
      pad_token_id: 257,
      bos_token_id: null,
    });
    const info = await inspectSafetensors(join(builtinModelDir(), 'model.safetensors'));
    expect(info.metadata).toEqual({ format: 'pt' });
    expect(info.tensors).toHaveLength(2 + 4 * 9);
    expect(info.tensors.find((t) => t.name === 'model.embed_tokens.weight')?.shape).toEqual([258, 256]);
    expect(info.tensors.some((t) => t.name === 'lm_head.weight')).toBe(false);
    for (const f of [
      'tokenizer.json',
      'tokenizer_config.json',
      'special_tokens_map.json',
      'generation_config.json',
    ]) {
      expect(existsSync(join(builtinModelDir(), f))).toBe(true);
    }
  });

  it('gives finite logits of shape (T, V) and a near-uniform initial loss', async () => {
    const ids = [IM_START, ...Buffer.from('user\nhi')];
    const out = await logits({ modelDir: builtinModelDir(), ids, threads: 2 });
    expect(out.rows).toBe(ids.length);
    expect(out.cols).toBe(258);
    expect(out.logits.length).toBe(ids.length * 258);
    expect(out.logits.every(Number.isFinite)).toBe(true);
    const ev = await evaluate({
      modelDir: builtinModelDir(),
      tokensPath: validTokens,
      maxSeqLen: 64,
      threads: 2,
    });
    expect(ev.nTokens).toBeGreaterThan(0);
    expect(Math.abs(ev.loss - Math.log(258))).toBeLessThan(0.5);
  });
});

describe('training through the addon', () => {
  it('reports every step before the result, and the loss falls', async () => {
    const reports: TrainProgress[] = [];
    const events: string[] = [];
    let ticks = 0;
    const interval = setInterval(() => ticks++, 1);
    const pending = train(options('progress', { validTokens, evalEverySteps: 2 }), (p) => {
      reports.push(p);
      events.push(`step ${p.step}`);
    });
    setImmediate(() => events.push('immediate'));
    const result = await pending;
    events.push('result');
    clearInterval(interval);

    // The event loop ran while the engine trained: the immediate callback came before the result, timers ticked.
    expect(events[0]).toBe('immediate');
    expect(events.at(-1)).toBe('result');
    expect(ticks).toBeGreaterThan(0);

    expect(result.cancelled).toBe(false);
    expect(result.steps).toBe(6);
    expect(result.totalSteps).toBe(6);
    expect(reports.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const p of reports) {
      expect(p.totalSteps).toBe(6);
      expect(Number.isFinite(p.trainLoss) && Number.isFinite(p.gradNorm)).toBe(true);
      expect(p.learningRate).toBeGreaterThan(0);
      expect(p.elapsedS).toBeGreaterThanOrEqual(0);
    }
    expect(reports.at(-1)!.trainLoss).toBeLessThan(reports[0]!.trainLoss);
    expect(reports.at(-1)!.tokensSeen).toBe(result.trainedTokens);
    expect(reports.some((p) => p.hasValid)).toBe(true);
    expect(reports.at(-1)!.isFullValid).toBe(true);
    expect(result.finalTrainLoss).toBe(reports.at(-1)!.trainLoss);
    expect(existsSync(join(result.outputDir, 'adapter_model.safetensors'))).toBe(true);
    expect(existsSync(join(result.outputDir, 'adapter_config.json'))).toBe(true);
    const adapter = await inspectSafetensors(join(result.outputDir, 'adapter_model.safetensors'));
    expect(adapter.tensors.map((t) => t.name)).toContain(
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
    );

    // The trained adapter lowers the loss of the training data.
    const base = await evaluate({
      modelDir: builtinModelDir(),
      tokensPath: trainTokens,
      maxSeqLen: 64,
      threads: 2,
    });
    const tuned = await evaluate({
      modelDir: builtinModelDir(),
      adapterDir: result.outputDir,
      tokensPath: trainTokens,
      maxSeqLen: 64,
      threads: 2,
    });
    expect(tuned.loss).toBeLessThan(base.loss);
  });

  it('gives the same adapter bytes for the same inputs', async () => {
    const a = await train(options('det-a'));
    const b = await train(options('det-b'));
    const bytes = (dir: string) => readFileSync(join(dir, 'adapter_model.safetensors'));
    expect(bytes(a.outputDir).equals(bytes(b.outputDir))).toBe(true);
    const c = await train(options('det-c', { seed: 8 }));
    expect(bytes(a.outputDir).equals(bytes(c.outputDir))).toBe(false);
  });

  it('cancel stops between steps and leaves a checkpoint that resumes to the uninterrupted adapter', async () => {
    const checkpointDir = join(tmp.path, 'cancel', 'checkpoints');
    const opts = options('cancel', { checkpointDir });
    const run = startTraining(opts, (p) => {
      if (p.step === 2) run.cancel();
    });
    const cancelled = await run.result;
    expect(cancelled.cancelled).toBe(true);
    expect(cancelled.steps).toBeGreaterThanOrEqual(2);
    expect(cancelled.steps).toBeLessThan(6);
    expect(cancelled.outputDir).toBe('');
    expect(cancelled.checkpoints.length).toBeGreaterThanOrEqual(1);
    const last = cancelled.checkpoints.at(-1)!;
    expect(last.step).toBe(cancelled.steps);
    expect(existsSync(last.path)).toBe(true);
    expect(existsSync(join(last.adapterDir, 'adapter_model.safetensors'))).toBe(true);
    expect(existsSync(join(checkpointDir, 'latest'))).toBe(true);

    const resumed: TrainProgress[] = [];
    const result = await train({ ...opts, resume: true }, (p) => resumed.push(p));
    expect(resumed[0]!.resumedFromStep).toBe(cancelled.steps);
    expect(resumed[0]!.step).toBe(cancelled.steps + 1);
    expect(result.steps).toBe(6);
    const straight = await train(options('straight'));
    expect(
      readFileSync(join(result.outputDir, 'adapter_model.safetensors')).equals(
        readFileSync(join(straight.outputDir, 'adapter_model.safetensors')),
      ),
    ).toBe(true);
  });

  it('rejects with the error thrown by the progress callback, after cancelling the run', async () => {
    const run = startTraining(
      options('throwing', { checkpointDir: join(tmp.path, 'throwing', 'ck') }),
      () => {
        throw new Error('consumer failed');
      },
    );
    await expect(run.result).rejects.toThrow('consumer failed');
  });
});

describe('errors', () => {
  let modelDir: string;

  beforeAll(async () => {
    modelDir = join(tmp.path, 'broken-model');
    mkdirSync(modelDir, { recursive: true });
    for (const f of ['config.json', 'model.safetensors'])
      copyFileSync(join(builtinModelDir(), f), join(modelDir, f));
  });

  it('rejects bad options with a TypeError naming the key', async () => {
    await expect(train({ ...options('bad'), batchsize: 4 } as unknown as TrainOptions)).rejects.toThrow(
      /unknown key 'batchsize'/,
    );
    await expect(train({ ...options('bad'), batchSize: 0 })).rejects.toThrow(TypeError);
    await expect(
      train({ ...options('bad'), modelDir: undefined } as unknown as TrainOptions),
    ).rejects.toThrow(/options.modelDir is required/);
    await expect(train(options('bad', { lora: { targets: ['nope_proj'] } }))).rejects.toThrow(/nope_proj/);
  });

  it('names the file for a missing model folder and a bad token file', async () => {
    await expect(loadConfig(join(tmp.path, 'absent'))).rejects.toThrow(EngineError);
    await expect(train(options('bad', { modelDir: join(tmp.path, 'absent') }))).rejects.toThrow(
      /absent.*config\.json/,
    );
    const badTokens = join(tmp.path, 'bad.tok');
    writeFileSync(badTokens, 'not a token file at all');
    const err = await train(options('bad', { trainTokens: badTokens })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as Error).message).toContain(badTokens);
  });

  it('names the file and tensor for a misshaped tensor', async () => {
    const dir = join(tmp.path, 'misshaped');
    const config = await loadConfig(builtinModelDir());
    await initModel({ outDir: dir, config: { ...config, intermediate_size: 64 }, seed: 1 });
    const text = readFileSync(join(dir, 'config.json'), 'utf8').replace(
      '"intermediate_size": 64',
      '"intermediate_size": 680',
    );
    writeFileSync(join(dir, 'config.json'), text);
    const err = (await train(options('bad', { modelDir: dir })).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(EngineError);
    expect(err.message).toContain(join(dir, 'model.safetensors'));
    expect(err.message).toMatch(/tensor 'model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight'/);
    expect(err.message).toContain('680');
  });

  it('names the file of a truncated safetensors file', async () => {
    const file = join(modelDir, 'model.safetensors');
    truncateSync(file, 1000);
    await expect(inspectSafetensors(file)).rejects.toThrow(/model\.safetensors: truncated/);
    const err = (await train(options('bad', { modelDir })).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(EngineError);
    expect(err.message).toContain(file);
    await expect(evaluate({ modelDir, tokensPath: trainTokens })).rejects.toThrow(/truncated/);
  });
});

describe('initModel', () => {
  it('writes the same bytes for the same seed', async () => {
    const config = { ...(await loadConfig(builtinModelDir())), num_hidden_layers: 1 };
    const a = join(tmp.path, 'init-a');
    const b = join(tmp.path, 'init-b');
    await initModel({ outDir: a, config, seed: 3, copyTokenizerFrom: builtinModelDir() });
    await initModel({ outDir: b, config, seed: 3 });
    const bytes = (d: string) => readFileSync(join(d, 'model.safetensors'));
    expect(bytes(a).equals(bytes(b))).toBe(true);
    expect(existsSync(join(a, 'tokenizer.json'))).toBe(true);
    expect((await loadConfig(a)).num_hidden_layers).toBe(1);
  });
});
