// Generation with the native engine (native/generate.ts): the KV-cache decode path against the training forward,
// greedy output and logprobs against transformers' `generate` (+ PEFT) on the fixture models, the merged export,
// sampling properties, several resident adapters with an LRU, streaming, cancel/stopChoice, a free event loop, and
// clear errors.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GeneratedToken, type GenerateRequest, Generator, mergeAdapter } from '../../native/generate';
import { builtinModelDir, EngineError, inspectSafetensors, logits } from '../../native/index';
import { maxRelError, tempDir } from './helpers';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
const CASES = ['llama-tiny', 'qwen2-gqa-tied'] as const;

interface HfCase {
  model: (typeof CASES)[number];
  adapter: string | null;
  prompt: number[];
  max_new_tokens: number;
  eos_token_id: number | null;
  tokens: number[];
  logprobs: number[];
  top: [number, number][][];
}
const reference = JSON.parse(readFileSync(join(FIXTURES, 'generate', 'generate.json'), 'utf8')) as {
  cases: HfCase[];
};

const tmp = tempDir('generate');
const generators = new Map<string, Generator>();
afterAll(() => {
  for (const g of generators.values()) g.close();
  tmp.remove();
});

async function generatorFor(modelDir: string, adapterCacheBytes?: number): Promise<Generator> {
  const key = `${modelDir}|${adapterCacheBytes ?? ''}`;
  let g = generators.get(key);
  if (!g) {
    g = await Generator.open({ modelDir, threads: 2, ...(adapterCacheBytes ? { adapterCacheBytes } : {}) });
    generators.set(key, g);
  }
  return g;
}

const modelDir = (c: string) => join(FIXTURES, c, 'model');
const adapterDir = (c: string) => join(FIXTURES, c, 'lora_init');

/** Tokens as HF reports them: the generated ids plus the eos token that ended generation. */
function withStop(c: { tokens: number[]; stopToken: number }): number[] {
  return c.stopToken >= 0 ? [...c.tokens, c.stopToken] : c.tokens;
}

function greedyRequest(c: HfCase, adapter: string | undefined): GenerateRequest {
  const req: GenerateRequest = {
    promptIds: c.prompt,
    maxTokens: c.max_new_tokens,
    temperature: 0,
    topLogprobs: 5,
  };
  if (adapter) req.adapterDir = adapter;
  if (c.eos_token_id !== null) {
    req.ignoreEos = true;
    req.stopTokenIds = [c.eos_token_id];
  }
  return req;
}

/** Runs a greedy case and compares with the HF reference; returns the max |logprob diff| (tokens must match). */
async function checkAgainstHf(g: Generator, c: HfCase, adapter: string | undefined): Promise<number> {
  const streamed: GeneratedToken[] = [];
  const r = await g.generate(greedyRequest(c, adapter), (t) => streamed.push(t)).result;
  const choice = r.choices[0]!;
  expect(withStop(choice)).toEqual(c.tokens);
  expect(choice.finishReason).toBe(c.tokens.length < c.max_new_tokens ? 'stop' : 'length');
  expect(streamed.map((t) => t.token)).toEqual(choice.tokens);
  let worst = 0;
  choice.logprobs.forEach((lp, i) => {
    worst = Math.max(worst, Math.abs(lp - c.logprobs[i]!));
    const top = streamed[i]!.top;
    expect(top.map((t) => t.token)).toEqual(c.top[i]!.map(([tok]) => tok));
    top.forEach((t, j) => {
      worst = Math.max(worst, Math.abs(t.logprob - c.top[i]![j]![1]));
    });
  });
  return worst;
}

describe('decode with the KV cache reproduces the training forward', () => {
  for (const name of CASES) {
    for (const withAdapter of [false, true]) {
      it(`${name}${withAdapter ? ' + lora_init' : ''}: prefill rows == logits(), decode rows == full-sequence rows`, async () => {
        const g = await generatorFor(modelDir(name));
        const prompt = [1, 17, 200, 45, 3, 99, 7];
        const forced = [12, 250, 8, 8, 131, 64, 2, 77];
        const ad = withAdapter ? adapterDir(name) : undefined;
        const f = await g.forcedLogits(prompt, forced, ad);
        const full = await logits({
          modelDir: modelDir(name),
          ...(ad ? { adapterDir: ad } : {}),
          ids: [...prompt, ...forced],
          threads: 2,
        });
        expect([f.rows, f.cols]).toEqual([full.rows, full.cols]);
        const V = f.cols;
        const prefill = prompt.length * V;
        // prefill runs the training forward itself (on the prompt alone, so GEMM blocking differs slightly)
        expect(maxRelError(f.logits.subarray(0, prefill), full.logits.subarray(0, prefill))).toBeLessThan(
          1e-6,
        );
        expect(maxRelError(f.logits.subarray(prefill), full.logits.subarray(prefill))).toBeLessThan(1e-6);
      });
    }
  }
});

describe('greedy output equals transformers generate (+ PEFT)', () => {
  for (const c of reference.cases) {
    const label = `${c.model}${c.adapter ? ' + lora_init' : ''}, prompt of ${c.prompt.length}${
      c.eos_token_id !== null ? `, stop at ${c.eos_token_id}` : ''
    }`;
    it(label, async () => {
      const g = await generatorFor(modelDir(c.model));
      const worst = await checkAgainstHf(g, c, c.adapter ? adapterDir(c.model) : undefined);
      expect(worst).toBeLessThan(1e-4);
    });
  }

  it('n > 1 greedy choices are identical to n = 1', async () => {
    const c = reference.cases.find(
      (x) => x.model === 'qwen2-gqa-tied' && x.adapter && x.eos_token_id === null,
    )!;
    const g = await generatorFor(modelDir(c.model));
    const r = await g.generate({ ...greedyRequest(c, adapterDir(c.model)), n: 3 }).result;
    for (const choice of r.choices) expect(withStop(choice)).toEqual(c.tokens);
    expect(r.completionTokens).toBe(3 * c.tokens.length);
    expect(r.promptTokens).toBe(c.prompt.length);
  });
});

describe('merged export', () => {
  for (const name of CASES) {
    it(`${name}: mergeAdapter writes a plain HF folder whose greedy output equals the unmerged adapter's`, async () => {
      const out = join(tmp.path, `merged-${name}`);
      await mergeAdapter({ modelDir: modelDir(name), adapterDir: adapterDir(name), outDir: out });
      const info = await inspectSafetensors(join(out, 'model.safetensors'));
      const base = await inspectSafetensors(join(modelDir(name), 'model.safetensors'));
      expect(info.tensors.map((t) => t.name)).toEqual(base.tensors.map((t) => t.name));
      expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).model_type).toBe(
        JSON.parse(readFileSync(join(modelDir(name), 'config.json'), 'utf8')).model_type,
      );
      const merged = await Generator.open({ modelDir: out, threads: 2 });
      try {
        for (const c of reference.cases.filter((x) => x.model === name && x.adapter)) {
          expect(await checkAgainstHf(merged, c, undefined)).toBeLessThan(1e-4);
        }
      } finally {
        merged.close();
      }
    });
  }
});

describe('sampling', () => {
  const name = 'llama-tiny';
  const prompt = [1, 17, 200, 45, 3, 99];

  it('the same seed gives the same tokens; another seed different ones', async () => {
    const g = await generatorFor(modelDir(name));
    const req = { promptIds: prompt, maxTokens: 20, n: 2, temperature: 1, seed: 1234 };
    const a = await g.generate(req).result;
    const b = await g.generate(req).result;
    const c = await g.generate({ ...req, seed: 1235 }).result;
    expect(b.choices.map((x) => x.tokens)).toEqual(a.choices.map((x) => x.tokens));
    expect(c.choices.map((x) => x.tokens)).not.toEqual(a.choices.map((x) => x.tokens));
    expect(a.choices[0]!.tokens).not.toEqual(a.choices[1]!.tokens);
  });

  it('top_k = 1 and a tiny top_p equal greedy', async () => {
    const g = await generatorFor(modelDir(name));
    const greedy = await g.generate({ promptIds: prompt, maxTokens: 20, temperature: 0 }).result;
    const topK = await g.generate({ promptIds: prompt, maxTokens: 20, temperature: 1.5, topK: 1, seed: 9 })
      .result;
    const topP = await g.generate({ promptIds: prompt, maxTokens: 20, temperature: 1.5, topP: 1e-6, seed: 9 })
      .result;
    expect(topK.choices[0]!.tokens).toEqual(greedy.choices[0]!.tokens);
    expect(topP.choices[0]!.tokens).toEqual(greedy.choices[0]!.tokens);
  });

  // The first token's distribution: softmax(logits / T) from the full forward, against the frequencies of 3200
  // draws (32 seeds x 100 choices). T is chosen from the logits so that the mass sits on a handful of tokens: the
  // 4th most likely token has e^-2 of the top token's probability.
  let T = 0;
  beforeAll(async () => {
    const full = await logits({ modelDir: modelDir(name), ids: prompt, threads: 2 });
    const row = Array.from(full.logits.subarray((prompt.length - 1) * full.cols)).sort((a, b) => b - a);
    T = (row[0]! - row[3]!) / 2;
  });

  async function firstTokenDraws(extra: Partial<GenerateRequest>) {
    const g = await generatorFor(modelDir(name));
    const counts = new Map<number, number>();
    let total = 0;
    for (let seed = 0; seed < 32; seed++) {
      const r = await g.generate({ promptIds: prompt, maxTokens: 1, n: 100, seed, ignoreEos: true, ...extra })
        .result;
      for (const c of r.choices) {
        counts.set(c.tokens[0]!, (counts.get(c.tokens[0]!) ?? 0) + 1);
        total++;
      }
    }
    const full = await logits({ modelDir: modelDir(name), ids: prompt, threads: 2 });
    const row = Array.from(full.logits.subarray((prompt.length - 1) * full.cols));
    return { counts, total, row };
  }

  function softmax(z: number[], t: number): number[] {
    const m = Math.max(...z);
    const e = z.map((x) => Math.exp((x - m) / t));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  }

  it('temperature: draw frequencies match softmax(logits / T) within 4 standard errors', async () => {
    const { counts, total, row } = await firstTokenDraws({ temperature: T });
    const p = softmax(row, T);
    let covered = 0;
    p.forEach((pi, tok) => {
      const f = (counts.get(tok) ?? 0) / total;
      expect(Math.abs(f - pi)).toBeLessThanOrEqual(4 * Math.sqrt((pi * (1 - pi)) / total) + 2 / total);
      covered += pi > 0.01 ? 1 : 0;
    });
    expect(covered).toBeGreaterThanOrEqual(3); // a real distribution, not a near-argmax
  });

  it('top_k and top_p restrict the draws to the k most likely tokens / the nucleus', async () => {
    const byProb = (p: number[]) => p.map((pi, tok) => [pi, tok] as const).sort((a, b) => b[0] - a[0]);
    const k = await firstTokenDraws({ temperature: T, topK: 2 });
    const top2 = byProb(softmax(k.row, T))
      .slice(0, 2)
      .map(([, tok]) => tok);
    expect([...k.counts.keys()].sort()).toEqual([...top2].sort());
    // renormalized over the two: frequency of the first within 4 standard errors
    const p2 = softmax(
      top2.map((t) => k.row[t]!),
      T,
    )[0]!;
    expect(Math.abs(k.counts.get(top2[0]!)! / k.total - p2)).toBeLessThan(
      4 * Math.sqrt((p2 * (1 - p2)) / k.total),
    );

    const P = 0.6;
    const sorted = byProb(softmax(k.row, T));
    const nucleus = new Set<number>();
    let before = 0;
    for (const [pi, tok] of sorted) {
      if (before >= P) break;
      nucleus.add(tok);
      before += pi;
    }
    const p = await firstTokenDraws({ temperature: T, topP: P });
    for (const tok of p.counts.keys()) expect(nucleus.has(tok)).toBe(true);
    expect(p.counts.size).toBe(nucleus.size);
  });
});

describe('adapters', () => {
  const name = 'qwen2-gqa-tied';
  let second: string;
  beforeAll(() => {
    // A second, different adapter: the same tensors with lora_alpha doubled (scaling x2).
    second = join(tmp.path, 'lora_alpha16');
    cpSync(adapterDir(name), second, { recursive: true });
    const cfgPath = join(second, 'adapter_config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { lora_alpha: number };
    cfg.lora_alpha *= 2;
    writeFileSync(cfgPath, JSON.stringify(cfg));
  });

  it('two resident adapters, requests alternating, give the single-adapter outputs', async () => {
    const prompt = [1, 250, 12, 12, 12, 64];
    const req = (adapter: string): GenerateRequest => ({
      promptIds: prompt,
      adapterDir: adapter,
      maxTokens: 16,
      temperature: 0.8,
      seed: 77,
      n: 2,
    });
    const alone = async (adapter: string) => {
      const g = await Generator.open({ modelDir: modelDir(name), threads: 2 });
      try {
        return (await g.generate(req(adapter)).result).choices.map((c) => c.tokens);
      } finally {
        g.close();
      }
    };
    const a = await alone(adapterDir(name));
    const b = await alone(second);
    expect(a).not.toEqual(b);
    const g = await generatorFor(modelDir(name));
    for (let i = 0; i < 3; i++) {
      const [ra, rb] = await Promise.all([
        g.generate(req(adapterDir(name))).result,
        g.generate(req(second)).result,
      ]);
      expect(ra.choices.map((c) => c.tokens)).toEqual(a);
      expect(rb.choices.map((c) => c.tokens)).toEqual(b);
    }
    expect(g.residentAdapters()).toHaveLength(2);
  });

  it('the LRU evicts the least recently used adapter beyond the byte budget', async () => {
    const g0 = await generatorFor(modelDir(name));
    const bytes = await g0.loadAdapter(adapterDir(name));
    expect(bytes).toBeGreaterThan(0);
    const g = await generatorFor(modelDir(name), Math.floor(bytes * 2.5));
    const third = join(tmp.path, 'lora_copy3');
    cpSync(adapterDir(name), third, { recursive: true });
    await g.loadAdapter(adapterDir(name));
    await g.loadAdapter(second);
    expect(g.residentAdapters()).toHaveLength(2);
    await g.loadAdapter(adapterDir(name)); // most recently used again
    await g.loadAdapter(third); // over budget: `second` is the least recently used
    const resident = g.residentAdapters();
    expect(resident).toHaveLength(2);
    expect(resident[0]).toContain('lora_copy3');
    expect(resident[1]).toContain(join(name, 'lora_init'));
    expect(g.unloadAdapter(third)).toBe(true);
    expect(g.unloadAdapter(third)).toBe(false);
    expect(g.residentAdapters()).toHaveLength(1);
    // a generation with an evicted adapter loads it again
    const r = await g.generate({ promptIds: [1, 2, 3], adapterDir: second, maxTokens: 2, temperature: 0 })
      .result;
    expect(r.choices[0]!.tokens).toHaveLength(2);
    expect(g.residentAdapters()[0]).toContain('lora_alpha16');
  });
});

describe('streaming, cancel, stop, event loop', () => {
  it('cancel mid-generation resolves with finishReason cancelled', async () => {
    const g = await generatorFor(builtinModelDir());
    const seen: number[] = [];
    const run = g.generate(
      { promptIds: [256, 117, 115, 101, 114], maxTokens: 900, temperature: 0.7, seed: 3, ignoreEos: true },
      (t) => {
        seen.push(t.token);
        if (seen.length === 3) run.cancel();
      },
    );
    const r = await run.result;
    expect(r.choices[0]!.finishReason).toBe('cancelled');
    expect(r.choices[0]!.tokens.length).toBeGreaterThanOrEqual(3);
    expect(r.choices[0]!.tokens.length).toBeLessThan(900);
    expect(seen).toEqual(r.choices[0]!.tokens);
  });

  it('runs queue one at a time; one cancelled while it waits settles at once and never starts', async () => {
    const g = await generatorFor(builtinModelDir());
    const order: string[] = [];
    const first = g.generate({ promptIds: [256, 117], maxTokens: 300, temperature: 0, ignoreEos: true });
    const waiting = g.generate(
      { promptIds: [256, 117], maxTokens: 300, temperature: 0, ignoreEos: true },
      () => order.push('token of the cancelled run'),
    );
    const third = g.generate({ promptIds: [256, 117], maxTokens: 5, temperature: 0, ignoreEos: true });
    waiting.cancel();
    const w = await waiting.result;
    order.push('cancelled run settled');
    const [f, t] = await Promise.all([first.result, third.result]);
    order.push('first run settled');
    expect(order).toEqual(['cancelled run settled', 'first run settled']);
    expect(w.choices[0]).toEqual({ tokens: [], logprobs: [], finishReason: 'cancelled', stopToken: -1 });
    expect(w.completionTokens).toBe(0);
    expect(f.choices[0]!.tokens).toHaveLength(300);
    expect(t.choices[0]!.tokens).toEqual(f.choices[0]!.tokens.slice(0, 5));
  });

  it('stopChoice ends one choice with stop while the others continue', async () => {
    const g = await generatorFor(modelDir('llama-tiny'));
    const run = g.generate({
      promptIds: [1, 5, 9],
      maxTokens: 30,
      n: 3,
      temperature: 1,
      seed: 5,
      ignoreEos: true,
    });
    // Asked before the run starts, so it is in force before the first decode step whatever the timing of
    // token delivery (a stop asked from onToken may arrive after a tiny model has already finished).
    run.stopChoice(1);
    const r = await run.result;
    expect(r.choices.map((c) => c.finishReason)).toEqual(['length', 'stop', 'length']);
    expect(r.choices[1]!.tokens.length).toBeLessThan(30);
    expect(r.choices[0]!.tokens).toHaveLength(30);
    expect(r.choices[2]!.tokens).toHaveLength(30);
  });

  it('an onToken callback that throws cancels the run and rejects with its error', async () => {
    const g = await generatorFor(modelDir('llama-tiny'));
    const run = g.generate({ promptIds: [1, 5, 9], maxTokens: 50, temperature: 0 }, () => {
      throw new Error('client went away');
    });
    await expect(run.result).rejects.toThrow('client went away');
  });

  it('the event loop keeps running during generation', async () => {
    const g = await generatorFor(builtinModelDir());
    const events: string[] = [];
    let ticks = 0;
    const interval = setInterval(() => ticks++, 1);
    const run = g.generate({
      promptIds: [256, 117, 115, 101, 114],
      maxTokens: 400,
      temperature: 0,
      ignoreEos: true,
    });
    setImmediate(() => events.push('immediate'));
    const r = await run.result;
    events.push('result');
    clearInterval(interval);
    expect(events).toEqual(['immediate', 'result']);
    expect(ticks).toBeGreaterThan(0);
    expect(r.choices[0]!.tokens).toHaveLength(400);
  });
});

describe('errors', () => {
  it('bad requests reject with clear errors', async () => {
    const g = await generatorFor(modelDir('llama-tiny'));
    await expect(g.generate({ promptIds: [1, 999], maxTokens: 4 }).result).rejects.toThrow(
      /token id 999 out of range for vocab_size 256/,
    );
    await expect(g.generate({ promptIds: [1, 2], maxTokens: 200 }).result).rejects.toThrow(
      /exceeds the model's context of 128 tokens/,
    );
    await expect(g.generate({ promptIds: [], maxTokens: 4 }).result).rejects.toThrow(TypeError);
    await expect(g.generate({ promptIds: [1], maxTokens: 4, topP: 0 }).result).rejects.toThrow(/topP/);
    const missing = join(tmp.path, 'no-such-adapter');
    const err = await g
      .generate({ promptIds: [1], maxTokens: 4, adapterDir: missing })
      .result.catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(String(err.message)).toContain('no-such-adapter');
  });

  it('an adapter for another model is rejected naming the tensor', async () => {
    const g = await generatorFor(modelDir('llama-tiny'));
    const err = await g.loadAdapter(adapterDir('qwen2-gqa-tied')).catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(String(err.message)).toMatch(/lora/);
  });

  it('a closed generator throws', async () => {
    const g = await Generator.open({ modelDir: modelDir('llama-tiny'), threads: 2 });
    g.close();
    expect(() => g.generate({ promptIds: [1], maxTokens: 1 })).toThrow(/closed/);
  });
});
