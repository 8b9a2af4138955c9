/**
 * bench/train.ts — `npm run bench:train`: LoRA training throughput of tunekit's engine against the two CPU
 * baselines of ../shared/bench (transformers + PEFT, and plain PyTorch eager), in one invocation.
 *
 * Workload "stories15m": dim 288, 6 layers, 6 heads (6 kv), FFN 768, vocab 32000, untied lm_head, random weights
 * N(0, 0.02); one fixed batch of 8 x 256 random tokens (labels = inputs) every step, as the baselines do; LoRA r 8,
 * alpha 16 on q,k,v,o; AdamW lr 2e-4, no weight decay, no clipping; 2 threads. Timing: median ms/step over the steps
 * after the warm-up. GFLOP/s uses the FLOP model of torch_lora_bench.py (LoRA step: 4*N_base + 6*N_lora +
 * 12*L*T*d per token), reported as a share of this machine's peaks measured in the same run by
 * native/build/tunekit_peak (native/tools/peak.cpp): the register FMA peak of each instruction set the CPU has, and
 * sustained sgemm on each engine kernel path — never a constant from another machine. Each implementation runs
 * --runs times, alternating, and the table gives medians (the host is shared: single runs move by tens of %).
 * Peak RSS is the max RSS of the process that trains (a child process here; the baselines report their own
 * ru_maxrss).
 *
 * --method dpo: preference training instead, against TRL 1.13's own DPOTrainer (bench/trl_dpo_bench.py, transformers
 * + PEFT) on the same model and LoRA: 4 random pairs per step, each a 128-token prompt with a 128-token chosen and
 * a 128-token rejected answer (8 sequences x 256 tokens per step, as the SFT workload), the sigmoid loss with beta
 * 0.1, reference log-probs precomputed once before training on both sides (TRL's precompute_ref_log_probs; the
 * engine always does), the same optimizer. TRL runs twice per round, with gradient checkpointing off (its fastest)
 * and on (its default, its leanest); the speedup is against the faster TRL, the RSS ratio against the leaner.
 * tokens/s counts every token of both sequences of each pair (prompt included), the same count on both sides.
 *
 * Flags: --method sft|dpo (default sft) --steps N (timed steps, default 8) --warmup N (default 2) --threads N
 * (default 2) --runs N (default 3) --no-baselines. TUNEKIT_CPU=portable|avx2|avx512 forces the engine's kernel path.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  engineInfo,
  initModel,
  type ObjectiveOptions,
  type TokenExample,
  train,
  writeTokenFile,
} from '../native/index';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const workload = {
  dim: 288,
  layers: 6,
  heads: 6,
  kvHeads: 6,
  ffn: 768,
  vocab: 32000,
  batch: 8,
  seq: 256,
  loraR: 8,
  loraAlpha: 16,
  targets: ['q', 'k', 'v', 'o'],
};

/** --method dpo: pairs per step and the token counts of each pair's prompt and answers (bench/trl_dpo_bench.py). */
const dpoWorkload = { pairs: 4, promptLen: 128, completionLen: 128 };
const DPO_OBJECTIVE: ObjectiveOptions = { method: 'dpo', beta: 0.1, lossTypes: ['sigmoid'] };

interface Measurement {
  impl: string;
  tokensPerS: number;
  msPerStep: number;
  /** CPU time (user + system, all threads) per step: less sensitive than wall time to a loaded host */
  cpuMsPerStep?: number;
  gflops: number;
  peakRssMiB: number;
  note?: string;
}

/** FLOP per trained token, torch_lora_bench.py's model (embedding lookup excluded). */
function flopPerToken(): number {
  const { dim: D, layers: L, heads: H, kvHeads: KV, ffn: F, vocab: V, seq: T, loraR: r } = workload;
  const hd = D / H;
  const shapes: Record<string, [number, number]> = {
    q: [D, H * hd],
    k: [D, KV * hd],
    v: [D, KV * hd],
    o: [H * hd, D],
    gate: [D, F],
    up: [D, F],
    down: [F, D],
  };
  const nBase = L * Object.values(shapes).reduce((s, [i, o]) => s + i * o, 0) + V * D;
  const nLora = L * workload.targets.reduce((s, t) => s + r * (shapes[t]![0] + shapes[t]![1]), 0);
  return 4 * nBase + 6 * nLora + 12 * L * T * H * hd;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

// ---- the child: trains and reports per-step times and its own peak RSS -----------------------------------------

interface ChildRequest {
  modelDir: string;
  tokens: string;
  outDir: string;
  threads: number;
  steps: number;
  /** dpo: the objective; batchSize is then in pairs */
  objective?: ObjectiveOptions;
  batchSize: number;
}

async function child(request: ChildRequest): Promise<void> {
  const elapsed: number[] = [];
  const cpuUs = [process.cpuUsage()];
  const losses: number[] = [];
  const rssBeforeKiB = process.resourceUsage().maxRSS;
  const result = await train(
    {
      modelDir: request.modelDir,
      outputDir: request.outDir,
      trainTokens: request.tokens,
      batchSize: request.batchSize,
      nEpochs: request.steps, // one batch per epoch: the same batch every step, as the baselines do
      maxSeqLen: workload.seq,
      learningRate: 2e-4,
      lrScheduler: 'constant',
      weightDecay: 0,
      maxGradNorm: 0,
      lora: { r: workload.loraR, alpha: workload.loraAlpha, targets: workload.targets },
      threads: request.threads,
      seed: 0,
      ...(request.objective && { objective: request.objective }),
    },
    (p) => {
      elapsed.push(p.elapsedS);
      cpuUs.push(process.cpuUsage());
      losses.push(p.trainLoss);
    },
  );
  const stepMs = elapsed.map((t, i) => (t - (i === 0 ? 0 : elapsed[i - 1]!)) * 1000);
  const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  const stepCpuMs = cpuUs.slice(1).map((u, i) => cpuMs(u) - cpuMs(cpuUs[i]!));
  const maxRssKiB = process.resourceUsage().maxRSS;
  process.stdout.write(
    `${JSON.stringify({ stepMs, stepCpuMs, losses, steps: result.steps, maxRssKiB, rssBeforeKiB })}\n`,
  );
}

// ---- the parent ----------------------------------------------------------------------------------------------------

function randomExamples(n: number, seed: number): TokenExample[] {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0; // LCG: only token ids need to look random
    return s;
  };
  return Array.from({ length: n }, () => {
    const ids = Array.from({ length: workload.seq }, () => next() % workload.vocab);
    return { inputIds: ids, labels: ids };
  });
}

/** Pairs of random token rows: chosen then rejected, each prompt + answer, labels -100 on the prompt. */
function randomPairs(seed: number): TokenExample[] {
  const [one] = randomExamples(1, seed);
  const ids = one!.inputIds; // a stream of random ids to cut rows from
  const { pairs, promptLen, completionLen } = dpoWorkload;
  let at = 0;
  const take = (n: number) => Array.from({ length: n }, () => ids[at++ % ids.length]!);
  const rows: TokenExample[] = [];
  for (let i = 0; i < pairs; i += 1) {
    const prompt = take(promptLen);
    for (let side = 0; side < 2; side += 1) {
      const answer = take(completionLen);
      rows.push({ inputIds: [...prompt, ...answer], labels: [...prompt.map(() => -100), ...answer] });
    }
  }
  return rows;
}

async function runTunekit(
  method: Method,
  steps: number,
  warmup: number,
  threads: number,
  tmp: string,
): Promise<Measurement> {
  const modelDir = join(tmp, 'model');
  await initModel({
    outDir: modelDir,
    config: {
      model_type: 'llama',
      vocab_size: workload.vocab,
      hidden_size: workload.dim,
      intermediate_size: workload.ffn,
      num_hidden_layers: workload.layers,
      num_attention_heads: workload.heads,
      num_key_value_heads: workload.kvHeads,
      max_position_embeddings: Math.max(512, workload.seq),
      rms_norm_eps: 1e-5,
      tie_word_embeddings: false,
    },
    seed: 0,
  });
  const tokens = join(tmp, 'train.tok');
  const dpo = method === 'dpo';
  await writeTokenFile(tokens, dpo ? randomPairs(1) : randomExamples(workload.batch, 1));
  const request: ChildRequest = {
    modelDir,
    tokens,
    outDir: join(tmp, 'adapter'),
    threads,
    steps: steps + warmup,
    batchSize: dpo ? dpoWorkload.pairs : workload.batch,
    ...(dpo && { objective: DPO_OBJECTIVE }),
  };
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', JSON.stringify(request)],
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (run.status !== 0) throw new Error(`tunekit child failed (${run.status}): ${run.stderr}`);
  const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
    stepMs: number[];
    stepCpuMs: number[];
    losses: number[];
    maxRssKiB: number;
    rssBeforeKiB: number;
  };
  const ms = median(out.stepMs.slice(warmup));
  const tokensPerS = tokensPerStep(method) / (ms / 1000);
  const first = out.losses[0]!;
  const last = out.losses.at(-1)!;
  return {
    impl: 'tunekit',
    tokensPerS,
    msPerStep: ms,
    cpuMsPerStep: median(out.stepCpuMs.slice(warmup)),
    gflops: (flopPerToken() * tokensPerS) / 1e9,
    peakRssMiB: out.maxRssKiB / 1024,
    note: `loss ${first.toFixed(3)} -> ${last.toFixed(3)}; RSS before training ${(out.rssBeforeKiB / 1024).toFixed(0)} MiB (Node + tsx)`,
  };
}

type Method = 'sft' | 'dpo';

/** Tokens through the model per optimizer step (dpo: both sequences of every pair, prompts included). */
function tokensPerStep(method: Method): number {
  const { pairs, promptLen, completionLen } = dpoWorkload;
  return method === 'dpo' ? 2 * pairs * (promptLen + completionLen) : workload.batch * workload.seq;
}

function pythonBinary(): string {
  const venv = join(root, '.py', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

function installHint(bench: string): string {
  return (
    `install the baselines' Python stack (see ${join(bench, 'README.md')}): ` +
    '`python3 -m venv .py && .py/bin/pip install torch transformers peft`'
  );
}

/** A baseline script's command line (after the interpreter): the workload, its LoRA, the steps. */
interface Baseline {
  impl: string;
  script: string;
  args: string[];
}

function baselines(
  method: Method,
  bench: string,
  steps: number,
  warmup: number,
  threads: number,
): Baseline[] {
  const lora = ['--lora-r', String(workload.loraR), '--targets', workload.targets.join(','), '--json'];
  const common = ['--threads', String(threads), ...lora];
  if (method === 'dpo') {
    const { pairs, promptLen, completionLen } = dpoWorkload;
    const dpo = [
      ...common,
      ...['--pairs', String(pairs), '--prompt-len', String(promptLen)],
      ...['--completion-len', String(completionLen), '--steps', String(steps), '--warmup', String(warmup)],
    ];
    const script = join(root, 'bench', 'trl_dpo_bench.py');
    return [
      { impl: 'trl-dpo', script, args: dpo },
      { impl: 'trl-dpo-gc', script, args: [...dpo, '--gradient-checkpointing'] },
    ];
  }
  const sft = [
    '--config',
    'stories15m',
    '--batch',
    String(workload.batch),
    '--seq',
    String(workload.seq),
    ...common,
  ];
  return [
    {
      impl: 'hf-transformers+peft',
      script: join(bench, 'hf_peft_bench.py'),
      args: [...sft, '--steps', String(steps), '--warmup', String(warmup)],
    },
    {
      impl: 'pytorch-eager',
      script: join(bench, 'torch_lora_bench.py'),
      args: [...sft, '--steps', String(steps + warmup)],
    },
  ];
}

function runBaseline(python: string, bench: string, { impl, script, args }: Baseline): Measurement | string {
  const run = spawnSync(python, [script, ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    env: { ...process.env, TQDM_DISABLE: '1' },
  });
  if (run.error) return `${impl}: cannot run ${python} (${run.error.message}); ${installHint(bench)}`;
  if (run.status !== 0) {
    const missing = /ModuleNotFoundError: No module named '([^']+)'/.exec(run.stderr)?.[1];
    if (missing) return `${impl}: Python module '${missing}' is missing; ${installHint(bench)}`;
    return `${impl}: ${script} failed (${run.status}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  }
  const json = run.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!json) return `${impl}: ${script} printed no JSON line`;
  const r = JSON.parse(json) as {
    tokens_per_s: number;
    ms_per_step: number;
    cpu_ms_per_step?: number;
    gflops?: number;
    peak_rss_mb?: number;
    peak_rss_mib?: number;
    torch?: string;
    trl?: string;
  };
  return {
    impl,
    tokensPerS: r.tokens_per_s,
    msPerStep: r.ms_per_step,
    ...(r.cpu_ms_per_step !== undefined && { cpuMsPerStep: r.cpu_ms_per_step }),
    gflops: r.gflops ?? (flopPerToken() * r.tokens_per_s) / 1e9,
    peakRssMiB: r.peak_rss_mib ?? r.peak_rss_mb ?? Number.NaN,
    note: `torch ${r.torch ?? '?'}${r.trl ? `, trl ${r.trl}` : ''}`,
  };
}

interface Peaks {
  cpu: string;
  fma_peak_gflops: Record<string, number>;
  sgemm_gflops: Record<string, number>;
}

/** This machine's FMA and sgemm peaks, measured now by native/tools/peak.cpp. */
function measurePeaks(threads: number): Peaks {
  const binary = join(root, 'native', 'build', 'tunekit_peak');
  const run = spawnSync(binary, ['--threads', String(threads), '--seconds', '1'], { encoding: 'utf8' });
  if (run.status !== 0)
    throw new Error(`${binary} failed (${run.status}): ${run.stderr || run.error?.message}`);
  return JSON.parse(run.stdout.trim()) as Peaks;
}

/** Per key, the median over runs. */
function medianPeaks(all: Peaks[]): Peaks {
  const med = (pick: (p: Peaks) => Record<string, number>) =>
    Object.fromEntries(Object.keys(pick(all[0]!)).map((k) => [k, median(all.map((p) => pick(p)[k]!))]));
  return {
    cpu: all[0]!.cpu,
    fma_peak_gflops: med((p) => p.fma_peak_gflops),
    sgemm_gflops: med((p) => p.sgemm_gflops),
  };
}

/** The medians of several runs of one implementation (RSS: the maximum). */
function medianMeasurement(runs: Measurement[]): Measurement {
  const ms = median(runs.map((r) => r.msPerStep));
  const m = runs.find((r) => r.msPerStep === ms) ?? runs[0]!;
  const cpu = runs.every((r) => r.cpuMsPerStep !== undefined)
    ? median(runs.map((r) => r.cpuMsPerStep!))
    : undefined;
  return {
    ...m,
    msPerStep: ms,
    cpuMsPerStep: cpu,
    tokensPerS: median(runs.map((r) => r.tokensPerS)),
    gflops: median(runs.map((r) => r.gflops)),
    peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
    note:
      `${m.note ?? ''}; ${runs.length} runs: ${runs.map((r) => r.tokensPerS.toFixed(0)).join(', ')} tokens/s` +
      (cpu === undefined ? '' : `; CPU ${cpu.toFixed(0)} ms/step`),
  };
}

function printTable(rows: Measurement[], peak: number): void {
  const header = ['impl', 'tokens/s', 'ms/step', 'GFLOP/s', '% of peak', 'peak RSS MiB', 'notes'];
  const cells = rows.map((m) => [
    m.impl,
    m.tokensPerS.toFixed(0),
    m.msPerStep.toFixed(1),
    m.gflops.toFixed(1),
    `${((100 * m.gflops) / peak).toFixed(1)}%`,
    m.peakRssMiB.toFixed(0),
    m.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c.map((x, i) => (i === 0 || i === 6 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      steps: { type: 'string', default: '8' },
      warmup: { type: 'string', default: '2' },
      threads: { type: 'string', default: '2' },
      runs: { type: 'string', default: '3' },
      method: { type: 'string', default: 'sft' },
      'no-baselines': { type: 'boolean', default: false },
    },
  });
  if (values.child) return child(JSON.parse(values.child) as ChildRequest);
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  const threads = Number(values.threads);
  const nRuns = Number(values.runs);
  if (values.method !== 'sft' && values.method !== 'dpo') throw new Error('--method must be sft or dpo');
  const method: Method = values.method;
  if (
    ![steps, warmup, threads, nRuns].every((n) => Number.isInteger(n) && n >= 0) ||
    steps < 1 ||
    threads < 1
  ) {
    throw new Error('--steps, --warmup, --threads and --runs must be integers (steps, threads >= 1)');
  }
  const engine = engineInfo();

  const fpt = flopPerToken();
  const { pairs, promptLen, completionLen } = dpoWorkload;
  const shape =
    method === 'dpo'
      ? `DPO (sigmoid, beta 0.1, reference log-probs precomputed): ${pairs} pairs/step of a ${promptLen}-token ` +
        `prompt + ${completionLen}-token chosen and rejected answers (${tokensPerStep(method)} tokens/step)`
      : `B=${workload.batch} T=${workload.seq}`;
  console.log(
    `workload stories15m: dim ${workload.dim}, ${workload.layers} layers, ${workload.heads} heads, vocab ${workload.vocab} ` +
      `(untied), ${shape}, LoRA r=${workload.loraR} alpha=${workload.loraAlpha} on ` +
      `${workload.targets.join(',')}, ${threads} threads, ${steps} timed steps after ${warmup} warm-up, ` +
      `${nRuns} alternating runs per implementation`,
  );
  console.log(`FLOP/token ${(fpt / 1e6).toFixed(1)} M (torch_lora_bench.py model)`);
  console.log(`engine kernels: ${engine.cpuReport}`);

  const bench = process.env.TUNEKIT_BENCH_DIR ?? resolve(root, '..', 'shared', 'bench');
  const python = pythonBinary();
  const problems: string[] = [];
  // the SFT baselines live in the shared bench folder, the DPO one in this repository
  const needsBench = method === 'sft';
  if (!values['no-baselines'] && needsBench && !existsSync(bench))
    problems.push(`baselines: ${bench} not found (set TUNEKIT_BENCH_DIR)`);
  const runBaselines = !values['no-baselines'] && (!needsBench || existsSync(bench));

  const ours: Measurement[] = [];
  const peaks: Peaks[] = [];
  const theirs = new Map<string, Measurement[]>();
  const tmp = mkdtempSync(join(tmpdir(), 'tunekit-bench-'));
  try {
    for (let run = 1; run <= nRuns; run += 1) {
      console.log(`run ${run}/${nRuns}: peaks ...`);
      peaks.push(measurePeaks(threads));
      console.log(`run ${run}/${nRuns}: tunekit ...`);
      ours.push(await runTunekit(method, steps, warmup, threads, tmp));
      if (!runBaselines) continue;
      for (const baseline of baselines(method, bench, steps, warmup, threads)) {
        console.log(`run ${run}/${nRuns}: ${baseline.impl} (${python} ${baseline.script}) ...`);
        const r = runBaseline(python, bench, baseline);
        if (typeof r === 'string') {
          if (run === 1) problems.push(r);
        } else theirs.set(baseline.impl, [...(theirs.get(baseline.impl) ?? []), r]);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const peak = medianPeaks(peaks);
  const path = engine.cpu;
  const isaPeak = peak.fma_peak_gflops[path] ?? Number.NaN;
  const widestIsa = Object.keys(peak.fma_peak_gflops).at(-1);
  const us = medianMeasurement(ours);
  const medians = [...theirs.values()].map(medianMeasurement);
  console.log('');
  console.log(
    `peaks (median of ${peaks.length}, measured in this run, ${threads} threads): register FMA ` +
      `${Object.entries(peak.fma_peak_gflops)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')} GFLOP/s; sustained sgemm 2048^3 on the engine's kernels ` +
      `${Object.entries(peak.sgemm_gflops)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')} GFLOP/s`,
  );
  console.log(`"% of peak" below: of the ${path} register FMA peak (${isaPeak.toFixed(1)} GFLOP/s)`);
  printTable([us, ...medians], isaPeak);
  for (const p of problems) console.log(`note: ${p}`);
  console.log(
    `tunekit (${path}): ${((100 * us.gflops) / isaPeak).toFixed(1)}% of the ${path} FMA peak` +
      (widestIsa && widestIsa !== path
        ? `, ${((100 * us.gflops) / peak.fma_peak_gflops[widestIsa]!).toFixed(1)}% of the ${widestIsa} FMA peak`
        : '') +
      `, ${((100 * us.gflops) / (peak.sgemm_gflops[path] ?? Number.NaN)).toFixed(1)}% of ${path} sustained sgemm`,
  );
  const against = method === 'dpo' ? 'trl' : 'pytorch';
  if (medians.length === 0) {
    console.log(
      `speedup vs ${against}: unavailable (no baseline ran${values['no-baselines'] ? ': --no-baselines' : ''})`,
    );
    return;
  }
  const fastest = medians.reduce((a, b) => (b.tokensPerS > a.tokensPerS ? b : a));
  if (method === 'dpo') {
    // throughput against TRL's faster configuration, memory against its leaner one
    const leanest = medians.reduce((a, b) => (b.peakRssMiB < a.peakRssMiB ? b : a));
    console.log(
      `tunekit DPO: ${(us.tokensPerS / fastest.tokensPerS).toFixed(2)}x the tokens/s and steps/s of ${fastest.impl} ` +
        `(target >= 1.6x), peak RSS ${(us.peakRssMiB / leanest.peakRssMiB).toFixed(2)}x ${leanest.impl}'s ` +
        '(target <= 0.5x); medians',
    );
    if (us.cpuMsPerStep !== undefined && fastest.cpuMsPerStep !== undefined)
      console.log(
        `CPU time per step (all threads; steadier than wall time on a loaded host): tunekit ` +
          `${us.cpuMsPerStep.toFixed(0)} ms, ${fastest.impl} ${fastest.cpuMsPerStep.toFixed(0)} ms: ` +
          `${(fastest.cpuMsPerStep / us.cpuMsPerStep).toFixed(2)}x the tokens per CPU-second`,
      );
    return;
  }
  console.log(
    `tunekit peak RSS is ${((100 * us.peakRssMiB) / fastest.peakRssMiB).toFixed(0)}% of ${fastest.impl}'s; ` +
      `faster baseline: ${fastest.impl}`,
  );
  console.log(`speedup vs pytorch: ${(us.tokensPerS / fastest.tokensPerS).toFixed(2)}x (medians)`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
