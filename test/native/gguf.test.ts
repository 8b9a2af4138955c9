// bench/gguf.ts: the GGUF files it writes load in llama.cpp (node-llama-cpp's prebuilt CPU binary) and give the
// engine's greedy tokens and next-token distribution — llama (tied and untied, MHA and GQA, so the q/k row
// permutation is exercised) and qwen2 (GQA, q/k/v biases) — and bad input is a clear error with no file left.
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getLlama, type Llama, LlamaLogLevel, type Token } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertToGguf, f32ToF16Bits, GgufConvertError } from '../../bench/gguf';
import { Generator } from '../../native/generate';
import { builtinModelDir, initModel, logits } from '../../native/index';
import { tempDir } from './helpers';

const tmp = tempDir('gguf');
let llama: Llama;
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
});
afterAll(async () => {
  await llama?.dispose();
  tmp.remove();
});

const PROMPT = [72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 10, 65];
const NEW = 12;

async function randomModel(name: string, config: Record<string, unknown>): Promise<string> {
  const dir = join(tmp.path, name);
  await initModel({
    outDir: dir,
    config: { vocab_size: 300, max_position_embeddings: 128, rms_norm_eps: 1e-5, ...config },
    seed: 7,
    initStd: 0.15, // peaked distributions: greedy argmax is not decided by float noise
    copyTokenizerFrom: builtinModelDir(),
  });
  return dir;
}

/** Greedy tokens and the log-softmax after the prompt, from llama.cpp on the converted file. */
async function llamaCpp(gguf: string) {
  const model = await llama.loadModel({ modelPath: gguf });
  try {
    // f32 KV cache (llama.cpp's default is f16, ~5e-3 off in logprob) and no flash attention: the engine's math
    const ctx = await model.createContext({
      contextSize: 64,
      threads: 1,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    try {
      const seq = ctx.getSequence();
      const input = PROMPT.map((t, i) =>
        i === PROMPT.length - 1
          ? ([
              t as Token,
              { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1 } } },
            ] as const)
          : (t as Token),
      );
      const out = await seq.controlledEvaluate(input as Parameters<typeof seq.controlledEvaluate>[0]);
      const probs = out[PROMPT.length - 1]?.next?.probabilities;
      if (!probs) throw new Error('llama.cpp returned no probabilities');
      await seq.clearHistory();
      const tokens: number[] = [];
      for await (const t of seq.evaluate(PROMPT as Token[], { temperature: 0, yieldEogToken: true })) {
        tokens.push(t);
        if (tokens.length === NEW) break;
      }
      return { tokens, probs };
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

async function tunekit(modelDir: string) {
  const g = await Generator.open({ modelDir, threads: 1 });
  try {
    const r = await g.generate({ promptIds: PROMPT, maxTokens: NEW, temperature: 0, ignoreEos: true }).result;
    const l = await logits({ modelDir, ids: PROMPT, threads: 1 });
    const last = l.logits.subarray((l.rows - 1) * l.cols, l.rows * l.cols);
    const max = Math.max(...last);
    const lse = max + Math.log(last.reduce((s, x) => s + Math.exp(x - max), 0));
    return { tokens: r.choices[0]!.tokens, logprobs: Array.from(last, (x) => x - lse) };
  } finally {
    g.close();
  }
}

/** max |log p_llama.cpp - log p_tunekit| over the tokens llama.cpp gives a probability above 1e-6. */
function logprobGap(probs: Map<Token, number>, logprobs: number[]): number {
  let gap = 0;
  let mass = 0;
  for (const [t, p] of probs) {
    mass += p;
    if (p > 1e-6) gap = Math.max(gap, Math.abs(Math.log(p) - logprobs[t]!));
  }
  expect(mass).toBeCloseTo(1, 4); // the whole distribution came back, not a top-k cut
  return gap;
}

describe('HF folder → GGUF → llama.cpp', () => {
  const cases: [string, () => Promise<string>][] = [
    ['tunekit-tiny-chat (llama, tied, trained)', async () => builtinModelDir()],
    [
      'llama, untied, GQA 4/2',
      () =>
        randomModel('llama-gqa', {
          model_type: 'llama',
          hidden_size: 64,
          intermediate_size: 96,
          num_hidden_layers: 2,
          num_attention_heads: 4,
          num_key_value_heads: 2,
          tie_word_embeddings: false,
        }),
    ],
    [
      'qwen2, tied, GQA 4/2, biases',
      () =>
        randomModel('qwen2-gqa', {
          model_type: 'qwen2',
          hidden_size: 64,
          intermediate_size: 96,
          num_hidden_layers: 2,
          num_attention_heads: 4,
          num_key_value_heads: 2,
          tie_word_embeddings: true,
        }),
    ],
  ];
  for (const [label, make] of cases) {
    it(`${label}: same greedy tokens, logprobs within 2e-5 (f32); f16 within 0.02`, async () => {
      const dir = await make();
      const f32 = join(tmp.path, `${label.split(' ')[0]}-${readdirSync(tmp.path).length}.f32.gguf`);
      const r = await convertToGguf({ modelDir: dir, outFile: f32 });
      expect(r.vocab).toBe('gpt2');
      const ours = await tunekit(dir);
      const theirs = await llamaCpp(f32);
      expect(theirs.tokens).toEqual(ours.tokens);
      expect(logprobGap(theirs.probs, ours.logprobs)).toBeLessThan(2e-5);

      const f16 = f32.replace('.f32.', '.f16.');
      await convertToGguf({ modelDir: dir, outFile: f16, outType: 'f16' });
      const half = await llamaCpp(f16);
      expect(logprobGap(half.probs, ours.logprobs)).toBeLessThan(0.02);
    });
  }

  it('f32 → f16 rounds to nearest even, saturates to inf, keeps NaN and signed zero', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // halfway past the largest finite rounds up to inf
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -26)).toBe(0x0000);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(Number.NaN) & 0x7e00).toBe(0x7e00);
  });

  it('refuses a folder without tokenizer.json, an unknown tensor and a bad outType, leaving no file', async () => {
    const dir = join(tmp.path, 'bad');
    await initModel({
      outDir: dir,
      config: {
        model_type: 'llama',
        hidden_size: 32,
        intermediate_size: 48,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 2,
        vocab_size: 64,
      },
      seed: 1,
    });
    const out = join(tmp.path, 'bad.gguf');
    await expect(convertToGguf({ modelDir: dir, outFile: out })).rejects.toThrow(/no tokenizer\.json/);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'Unigram', vocab: [] } }));
    await expect(convertToGguf({ modelDir: dir, outFile: out })).rejects.toThrow(
      /only byte-level BPE tokenizers are supported \(this one is Unigram/,
    );
    await expect(
      convertToGguf({ modelDir: dir, outFile: out, outType: 'q8' as 'f32' }),
    ).rejects.toBeInstanceOf(GgufConvertError);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp.path).some((f) => f.includes('.partial-'))).toBe(false);
    rmSync(dir, { recursive: true });
  });
});
