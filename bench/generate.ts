/**
 * bench/generate.ts — `npm run bench:generate`: generation throughput of tunekit's engine (native/generate.ts)
 * next to llama.cpp (node-llama-cpp's prebuilt CPU binary, a devDependency, on the same weights converted to GGUF
 * F32 by bench/gguf.ts) and PyTorch eager with a KV cache (bench/torch_generate_bench.py, the model of
 * ../shared/bench/llama_torch.py), in one invocation.
 *
 * Workload "stories15m": dim 288, 6 layers, 6 heads (6 kv), FFN 768, vocab 32000, untied lm_head, random weights
 * N(0, 0.02) (tunekit and llama.cpp: the same file; PyTorch: its own random draw of the same shapes), with the
 * builtin model's byte-level tokenizer so llama.cpp can load it (the ids past it are unused tokens; only ids are
 * fed). One random prompt of --prompt tokens; greedy decoding of --new tokens, no eos; batch 1 and 8 (tunekit: n
 * choices from one prefill; llama.cpp: 8 sequences of one context, prefilled in one batch, decoded together;
 * PyTorch: the prompt repeated 8 times); --threads threads each. Prefill tok/s = prompt tokens / time to the first
 * token (batch 1); decode tok/s = batch x (new - 1) / time from the first token to the last. Medians of --repeats
 * runs. Before timing, llama.cpp (f32 KV cache) must give tunekit's greedy tokens for the prompt; the timed
 * llama.cpp runs use its defaults (f16 KV cache, flash attention auto), as people run it.
 *
 * The last lines compare with the targets: prefill >= 1.5x PyTorch and >= 1.0x llama.cpp, decode b1 >=
 * 1.0x llama.cpp, decode b8 >= 2x PyTorch.
 *
 * Flags: --prompt N (default 128) --new N (default 128) --threads N (default 2) --repeats N (default 3)
 *        --no-pytorch --no-llama-cpp
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Generator } from '../native/generate';
import { builtinModelDir, engineInfo, initModel } from '../native/index';
import { convertToGguf } from './gguf';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BATCHES = [1, 8] as const;
const B8 = 8;

interface Figures {
  impl: string;
  prefillTokS: number;
  decodeTokS: Record<string, number>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function pythonBinary(): string {
  const venv = join(root, '.py', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

/** One generation; seconds of the prefill (to the first token) and of the decode (first token to last). */
async function timeOnce(g: Generator, prompt: number[], newTokens: number, n: number) {
  const start = performance.now();
  let first = 0;
  const run = g.generate(
    { promptIds: prompt, maxTokens: newTokens, n, temperature: 0, ignoreEos: true },
    () => {
      if (first === 0) first = performance.now();
    },
  );
  const r = await run.result;
  const end = performance.now();
  for (const c of r.choices) {
    if (c.tokens.length !== newTokens)
      throw new Error(`generated ${c.tokens.length} tokens, expected ${newTokens}`);
  }
  return { prefillS: (first - start) / 1000, decodeS: (end - first) / 1000, tokens: r.choices[0]!.tokens };
}

/** The stories15m-shaped model with random weights, as an HF folder and as GGUF F32. */
async function makeModel(dir: string) {
  const modelDir = join(dir, 'model');
  await initModel({
    outDir: modelDir,
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 288,
      intermediate_size: 768,
      num_hidden_layers: 6,
      num_attention_heads: 6,
      num_key_value_heads: 6,
      vocab_size: 32000,
      max_position_embeddings: 1024,
      rms_norm_eps: 1e-5,
      tie_word_embeddings: false,
    },
    seed: 0,
    copyTokenizerFrom: builtinModelDir(),
  });
  const gguf = join(dir, 'model.f32.gguf');
  await convertToGguf({ modelDir, outFile: gguf, outType: 'f32' });
  return { modelDir, gguf };
}

async function benchTunekit(
  modelDir: string,
  prompt: number[],
  newTokens: number,
  threads: number,
  repeats: number,
) {
  const g = await Generator.open({ modelDir, threads });
  try {
    await timeOnce(g, prompt, 4, 1); // warm-up
    const prefill: number[] = [];
    const decode: Record<string, number> = {};
    let greedy: number[] = [];
    for (const b of BATCHES) {
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const t = await timeOnce(g, prompt, newTokens, b);
        times.push(t.decodeS);
        if (b === 1) {
          prefill.push(t.prefillS);
          greedy = t.tokens;
        }
      }
      decode[String(b)] = (b * (newTokens - 1)) / median(times);
    }
    const figures: Figures = {
      impl: 'tunekit',
      prefillTokS: prompt.length / median(prefill),
      decodeTokS: decode,
    };
    return { figures, greedy };
  } finally {
    g.close();
  }
}

/**
 * llama.cpp through node-llama-cpp on the GGUF file: first the greedy check (f32 KV cache, the engine's math), then
 * the timed runs with llama.cpp's default context settings. Returns a message when it cannot run here.
 */
async function benchLlamaCpp(
  gguf: string,
  prompt: number[],
  newTokens: number,
  threads: number,
  repeats: number,
  expected: number[],
): Promise<Figures | string> {
  let nlc: typeof import('node-llama-cpp');
  try {
    nlc = await import('node-llama-cpp');
  } catch (e) {
    return `llama.cpp: node-llama-cpp is not installed (${(e as Error).message}); run npm install`;
  }
  let llama: Awaited<ReturnType<typeof nlc.getLlama>>;
  try {
    llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: nlc.LlamaLogLevel.error });
  } catch (e) {
    return `llama.cpp: node-llama-cpp has no prebuilt CPU binary for this machine (${(e as Error).message})`;
  }
  type Token = import('node-llama-cpp').Token;
  const model = await llama.loadModel({ modelPath: gguf });
  const span = prompt.length + newTokens;
  try {
    // greedy check: same tokens as tunekit
    {
      const ctx = await model.createContext({
        contextSize: span,
        batchSize: prompt.length,
        threads,
        flashAttention: false,
        experimentalKvCacheKeyType: 'F32',
        experimentalKvCacheValueType: 'F32',
      });
      try {
        const got: number[] = [];
        for await (const t of ctx
          .getSequence()
          .evaluate(prompt as Token[], { temperature: 0, yieldEogToken: true })) {
          got.push(t);
          if (got.length === expected.length) break;
        }
        const diverge = got.findIndex((t, i) => t !== expected[i]);
        if (diverge >= 0) {
          throw new Error(
            `llama.cpp's greedy tokens differ from tunekit's at step ${diverge} (${got[diverge]} vs ${expected[diverge]}): ` +
              'the GGUF conversion or one engine is wrong; not timing',
          );
        }
      } finally {
        await ctx.dispose();
      }
    }
    const ctx = await model.createContext({
      contextSize: B8 * span,
      sequences: B8,
      batchSize: B8 * prompt.length,
      threads,
    });
    try {
      const sequences = Array.from({ length: B8 }, () => ctx.getSequence());
      /** Generates on `b` sequences at once; prefill and decode seconds as for tunekit. */
      const once = async (b: number, tokens: number) => {
        const start = performance.now();
        const firsts: number[] = [];
        const ends = await Promise.all(
          sequences.slice(0, b).map(async (seq) => {
            await seq.clearHistory();
            let n = 0;
            for await (const _ of seq.evaluate(prompt as Token[], { temperature: 0, yieldEogToken: true })) {
              if (n === 0) firsts.push(performance.now());
              if (++n === tokens) break;
            }
            if (n !== tokens) throw new Error(`llama.cpp generated ${n} tokens, expected ${tokens}`);
            return performance.now();
          }),
        );
        const first = Math.max(...firsts);
        return {
          prefillS: (Math.min(...firsts) - start) / 1000,
          decodeS: (Math.max(...ends) - first) / 1000,
        };
      };
      await once(1, 4); // warm-up
      const prefill: number[] = [];
      const decode: Record<string, number> = {};
      for (const b of BATCHES) {
        const times: number[] = [];
        for (let i = 0; i < repeats; i++) {
          const t = await once(b, newTokens);
          times.push(t.decodeS);
          if (b === 1) prefill.push(t.prefillS);
        }
        decode[String(b)] = (b * (newTokens - 1)) / median(times);
      }
      const pkg = join(root, 'node_modules', 'node-llama-cpp', 'package.json');
      const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
      return {
        impl: `llama.cpp (node-llama-cpp ${version})`,
        prefillTokS: prompt.length / median(prefill),
        decodeTokS: decode,
      };
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
    await llama.dispose();
  }
}

function benchPytorch(
  promptLen: number,
  newTokens: number,
  threads: number,
  repeats: number,
): Figures | string {
  const python = pythonBinary();
  const script = join(root, 'bench', 'torch_generate_bench.py');
  const args = [
    script,
    '--shared-bench',
    process.env.TUNEKIT_BENCH_DIR ?? resolve(root, '..', 'shared', 'bench'),
    '--prompt',
    String(promptLen),
    '--new',
    String(newTokens),
    '--threads',
    String(threads),
    '--repeats',
    String(repeats),
    '--batches',
    BATCHES.join(','),
  ];
  const run = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  const hint = 'install the baseline with `python3 -m venv .py && .py/bin/pip install torch`';
  if (run.error) return `pytorch-eager: cannot run ${python} (${run.error.message}); ${hint}`;
  if (run.status !== 0)
    return `pytorch-eager: ${python} failed (exit ${run.status}): ${run.stderr.trim()}; ${hint}`;
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  const j = JSON.parse(last) as {
    prefill_tok_s: number;
    decode_tok_s: Record<string, number>;
    torch: string;
  };
  return {
    impl: `pytorch-eager (torch ${j.torch})`,
    prefillTokS: j.prefill_tok_s,
    decodeTokS: j.decode_tok_s,
  };
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

function target(label: string, ratio: number | undefined, goal: number): string {
  if (ratio === undefined) return `${label}: unavailable (baseline did not run)`;
  return `${label}: ${ratio.toFixed(2)}x (target >= ${goal.toFixed(1)}x: ${ratio >= goal ? 'met' : 'MISSED'})`;
}

async function main() {
  const { values } = parseArgs({
    options: {
      prompt: { type: 'string', default: '128' },
      new: { type: 'string', default: '128' },
      threads: { type: 'string', default: '2' },
      repeats: { type: 'string', default: '3' },
      'no-pytorch': { type: 'boolean', default: false },
      'no-llama-cpp': { type: 'boolean', default: false },
    },
  });
  const promptLen = Number(values.prompt);
  const newTokens = Number(values.new);
  const threads = Number(values.threads);
  const repeats = Number(values.repeats);
  if (promptLen + newTokens > 1024 || newTokens < 2 || promptLen < 1) {
    throw new Error('--prompt + --new must be at most 1024, --new at least 2');
  }
  // the same random prompt for tunekit and llama.cpp (ids below 32000; PyTorch draws its own with a fixed seed)
  let state = 12345;
  const prompt = Array.from({ length: promptLen }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % 32000;
  });
  console.log(
    `workload stories15m (dim 288, 6 layers, vocab 32000, random weights): prompt ${promptLen}, ` +
      `${newTokens} new tokens, greedy, ${threads} threads, median of ${repeats}; tunekit on ${engineInfo().cpuReport}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-bench-generate-'));
  const results: Figures[] = [];
  const notes: string[] = [];
  let llamaCpp: Figures | undefined;
  let torch: Figures | undefined;
  try {
    const { modelDir, gguf } = await makeModel(dir);
    const ours = await benchTunekit(modelDir, prompt, newTokens, threads, repeats);
    results.push(ours.figures);
    if (!values['no-llama-cpp']) {
      console.log(`running llama.cpp on ${gguf} (converted by bench/gguf.ts) ...`);
      const l = await benchLlamaCpp(gguf, prompt, newTokens, threads, repeats, ours.greedy);
      if (typeof l === 'string') notes.push(l);
      else {
        llamaCpp = l;
        results.push(l);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!values['no-pytorch']) {
    console.log(`running pytorch-eager (${pythonBinary()} bench/torch_generate_bench.py) ...`);
    const b = benchPytorch(promptLen, newTokens, threads, repeats);
    if (typeof b === 'string') notes.push(b);
    else {
      torch = b;
      results.push(b);
    }
  }
  const widths = [34, 14, 16, 16];
  console.log(row(['impl', 'prefill tok/s', 'decode tok/s b1', 'decode tok/s b8'], widths));
  for (const r of results) {
    console.log(
      row(
        [
          r.impl,
          r.prefillTokS.toFixed(0),
          (r.decodeTokS['1'] ?? 0).toFixed(1),
          (r.decodeTokS['8'] ?? 0).toFixed(1),
        ],
        widths,
      ),
    );
  }
  for (const n of notes) console.log(n);
  const ours = results[0]!;
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? a / b : undefined);
  console.log(target('prefill vs pytorch', ratio(ours.prefillTokS, torch?.prefillTokS), 1.5));
  console.log(target('prefill vs llama.cpp', ratio(ours.prefillTokS, llamaCpp?.prefillTokS), 1.0));
  console.log(target('decode b1 vs llama.cpp', ratio(ours.decodeTokS['1'], llamaCpp?.decodeTokS['1']), 1.0));
  console.log(target('decode b8 vs llama.cpp', ratio(ours.decodeTokS['8'], llamaCpp?.decodeTokS['8']), 1.0));
  console.log(target('decode b8 vs pytorch', ratio(ours.decodeTokS['8'], torch?.decodeTokS['8']), 2.0));
  if (torch) {
    const ratios = BATCHES.map((b) => (ours.decodeTokS[String(b)] ?? 0) / (torch.decodeTokS[String(b)] ?? 1));
    console.log(`speedup vs pytorch: ${Math.min(...ratios).toFixed(2)}x`);
  } else {
    console.log('speedup vs pytorch: unavailable (baseline did not run)');
  }
}

await main();
