/**
 * bench/generate.ts — `npm run bench:generate`: generation throughput of tunekit's engine (native/generate.ts)
 * next to PyTorch eager with a KV cache (bench/torch_generate_bench.py, the model of ../shared/bench/llama_torch.py),
 * in one invocation.
 *
 * Workload "stories15m": dim 288, 6 layers, 6 heads (6 kv), FFN 768, vocab 32000, untied lm_head, random weights
 * N(0, 0.02); one random prompt of --prompt tokens; greedy decoding of --new tokens, no eos; batch 1 and 8 (tunekit:
 * n choices from one prefill; PyTorch: the prompt repeated 8 times); --threads threads each. Prefill tok/s = prompt
 * tokens / time to the first token (batch 1); decode tok/s = batch x (new - 1) / time from the first token to the
 * last. Best of --repeats runs. The last line is `speedup vs pytorch: X.XXx` (decode, the lower of the two batch
 * ratios).
 *
 * Flags: --prompt N (default 128) --new N (default 128) --threads N (default 2) --repeats N (default 3)
 *        --no-baseline
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Generator } from '../native/generate';
import { initModel } from '../native/index';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BATCHES = [1, 8] as const;

interface Figures {
  impl: string;
  prefillTokS: number;
  decodeTokS: Record<string, number>;
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
  return { prefillS: (first - start) / 1000, decodeS: (end - first) / 1000 };
}

async function benchTunekit(prompt: number[], newTokens: number, threads: number, repeats: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-bench-generate-'));
  try {
    await initModel({
      outDir: dir,
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
    });
    const g = await Generator.open({ modelDir: dir, threads });
    try {
      await timeOnce(g, prompt, 4, 1); // warm-up
      let prefill = Number.POSITIVE_INFINITY;
      const decode: Record<string, number> = {};
      for (const b of BATCHES) {
        let best = Number.POSITIVE_INFINITY;
        for (let i = 0; i < repeats; i++) {
          const t = await timeOnce(g, prompt, newTokens, b);
          best = Math.min(best, t.decodeS);
          if (b === 1) prefill = Math.min(prefill, t.prefillS);
        }
        decode[String(b)] = (b * (newTokens - 1)) / best;
      }
      return { impl: 'tunekit', prefillTokS: prompt.length / prefill, decodeTokS: decode } satisfies Figures;
    } finally {
      g.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
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
    resolve(root, '..', 'shared', 'bench'),
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

async function main() {
  const { values } = parseArgs({
    options: {
      prompt: { type: 'string', default: '128' },
      new: { type: 'string', default: '128' },
      threads: { type: 'string', default: '2' },
      repeats: { type: 'string', default: '3' },
      'no-baseline': { type: 'boolean', default: false },
    },
  });
  const promptLen = Number(values.prompt);
  const newTokens = Number(values.new);
  const threads = Number(values.threads);
  const repeats = Number(values.repeats);
  if (promptLen + newTokens > 1024 || newTokens < 2 || promptLen < 1) {
    throw new Error('--prompt + --new must be at most 1024, --new at least 2');
  }
  // the same random prompt for both (values below 32000; the baseline draws its own with a fixed seed)
  let state = 12345;
  const prompt = Array.from({ length: promptLen }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % 32000;
  });
  console.log(
    `workload stories15m (dim 288, 6 layers, vocab 32000, random weights): prompt ${promptLen}, ` +
      `${newTokens} new tokens, greedy, ${threads} threads, best of ${repeats}`,
  );
  const results: Figures[] = [await benchTunekit(prompt, newTokens, threads, repeats)];
  let baselineNote = '';
  if (!values['no-baseline']) {
    console.log(`running pytorch-eager (${pythonBinary()} bench/torch_generate_bench.py) ...`);
    const b = benchPytorch(promptLen, newTokens, threads, repeats);
    if (typeof b === 'string') baselineNote = b;
    else results.push(b);
  }
  const widths = [28, 14, 16, 16];
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
  if (baselineNote) console.log(baselineNote);
  const [ours, torch] = results;
  if (ours && torch) {
    const ratios = BATCHES.map((b) => (ours.decodeTokS[String(b)] ?? 0) / (torch.decodeTokS[String(b)] ?? 1));
    console.log(
      `decode ratio: batch 1 ${ratios[0]!.toFixed(2)}x, batch 8 ${ratios[1]!.toFixed(2)}x; ` +
        `prefill ratio ${(ours.prefillTokS / torch.prefillTokS).toFixed(2)}x`,
    );
    console.log(`speedup vs pytorch: ${Math.min(...ratios).toFixed(2)}x`);
  } else {
    console.log('speedup vs pytorch: unavailable (baseline did not run)');
  }
}

await main();
