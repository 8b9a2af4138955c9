/**
 * bench/grpo.ts — `npm run bench:grpo`: the end-to-end step rate of a reinforcement job's GRPO loop (emulator/worker/
 * rft.ts: rollouts with the engine's KV-cache generator, grading, one update) against TRL 1.13's GRPOTrainer on CPU
 * (bench/trl_grpo_bench.py: rollouts with transformers' `generate`), in one invocation, alternating runs.
 *
 * Workload: a random llama of the stories15m shape (dim 288, 6 layers, 6 heads, FFN 768, vocab 32000, untied) with a
 * word-level tokenizer; each step 4 prompts of 32 tokens, 4 completions each of up to 32 tokens (temperature 1,
 * top-p 1), LoRA r 8 alpha 16 on every linear layer, dapo loss, beta 0; 2 threads. Timing: median seconds per step
 * after the warm-up step, then the median over --runs runs. Rollout and update tokens/s are tunekit's, from its
 * per-step timing. Flags: --steps N (default 3) --warmup N (1) --runs N (3) --threads N (2) --no-baseline.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RftSettings, TrainingSettings } from '../emulator/worker/hyperparameters';
import { type RftProgress, runRft } from '../emulator/worker/rft';
import { initModel } from '../native/index';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const W = { vocab: 32000, prompts: 4, generations: 4, promptLen: 32, completionLen: 32, loraR: 8 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function python(): string {
  const venv = join(root, '.py', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

function pyArgs(modelDir: string, threads: number, steps: number, warmup: number): string[] {
  return [
    join(root, 'bench', 'trl_grpo_bench.py'),
    '--model',
    modelDir,
    '--vocab',
    String(W.vocab),
    '--prompts',
    String(W.prompts),
    '--generations',
    String(W.generations),
    '--prompt-len',
    String(W.promptLen),
    '--completion-len',
    String(W.completionLen),
    '--lora-r',
    String(W.loraR),
    '--threads',
    String(threads),
    '--steps',
    String(steps),
    '--warmup',
    String(warmup),
  ];
}

interface Ours {
  sPerStep: number;
  rolloutTokensPerS: number;
  updateTokensPerS: number;
  meanCompletion: number;
}

async function runOurs(
  dir: string,
  modelDir: string,
  threads: number,
  steps: number,
  warmup: number,
): Promise<Ours> {
  const n = W.prompts * (steps + warmup);
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed;
  };
  const prompts = Array.from({ length: n }, (_, i) => ({
    line: i + 1,
    promptIds: Array.from({ length: W.promptLen }, () => 3 + (rand() % (W.vocab - 3))),
    item: {},
  }));
  const work = mkdtempSync(join(dir, 'ours-'));
  const promptsFile = join(work, 'prompts.json');
  writeFileSync(promptsFile, JSON.stringify({ prompts }));
  const rft: RftSettings = {
    numGenerations: W.generations,
    maxCompletionTokens: W.completionLen,
    temperature: 1,
    topP: 1,
    epsilon: 0.2,
    beta: 0,
    lossType: 'dapo',
    scaleRewards: 'group',
    evalInterval: 1000,
    evalSamples: 1,
    computeMultiplier: 1,
    reasoningEffort: 'default',
  };
  const settings: TrainingSettings & { rft: RftSettings } = {
    nEpochs: 1,
    batchSize: W.prompts,
    learningRateMultiplier: 1,
    learningRate: 1e-5,
    lrScheduler: 'linear',
    warmupRatio: 0,
    weightDecay: 0,
    maxGradNorm: 1,
    maxSeqLength: 512,
    packing: false,
    full: false,
    lora: {
      r: W.loraR,
      alpha: 2 * W.loraR,
      dropout: 0,
      useRslora: false,
      targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    },
    nCheckpoints: 0,
    seed: 0,
    rft,
  };
  const reports: RftProgress[] = [];
  await runRft(
    {
      modelDir,
      trainPrompts: promptsFile,
      workDir: join(work, 'rft'),
      checkpointDir: join(work, 'checkpoints'),
      outputDir: join(work, 'out'),
      settings,
      // graded in TypeScript as a job is (the reward itself is beside the point here)
      grader: {
        type: 'string_check',
        name: 'has',
        input: '{{sample.output_text}}',
        reference: 't1',
        operation: 'like',
      },
      threads,
      checkpointEverySteps: 1000,
    },
    {
      services: {},
      onProgress: (p) => {
        reports.push(p);
        console.log(
          `  step ${p.step}: ${p.timing.full_iteration.toFixed(2)} s (sampling ${p.timing.sampling.toFixed(2)}, update ${p.timing.training.toFixed(2)})`,
        );
      },
      stopRequested: () => false,
    },
  );
  const timed = reports.slice(warmup);
  const rows = W.prompts * W.generations;
  const completion = timed.map((p) => p.train.completionTokens * rows);
  return {
    sPerStep: median(timed.map((p) => p.timing.full_iteration)),
    rolloutTokensPerS: median(timed.map((p, i) => completion[i]! / p.timing.sampling)),
    updateTokensPerS: median(timed.map((p, i) => (completion[i]! + rows * W.promptLen) / p.timing.training)),
    meanCompletion: median(timed.map((p) => p.train.completionTokens)),
  };
}

function runTrl(modelDir: string, threads: number, steps: number, warmup: number): number | string {
  const run = spawnSync(python(), pyArgs(modelDir, threads, steps, warmup), {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (run.error) return `cannot run ${python()}: ${run.error.message}`;
  if (run.status !== 0)
    return `trl_grpo_bench.py failed: ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  const line = run.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) return 'trl_grpo_bench.py printed no JSON line';
  return (JSON.parse(line) as { s_per_step: number }).s_per_step;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      runs: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
      'no-baseline': { type: 'boolean', default: false },
    },
  });
  const [steps, warmup, runs, threads] = [values.steps, values.warmup, values.runs, values.threads].map(
    Number,
  ) as [number, number, number, number];
  console.log(
    `workload: random llama dim 288, 6 layers, vocab ${W.vocab}; ${W.prompts} prompts x ${W.generations} ` +
      `completions per step, prompt ${W.promptLen} tokens, completions up to ${W.completionLen}; LoRA r ${W.loraR} ` +
      `all-linear; dapo, beta 0; ${threads} threads; ${steps} timed steps after ${warmup} warm-up; ${runs} runs`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-bench-grpo-'));
  try {
    const modelDir = join(dir, 'model');
    await initModel({
      outDir: modelDir,
      seed: 1,
      config: {
        model_type: 'llama',
        architectures: ['LlamaForCausalLM'],
        vocab_size: W.vocab,
        hidden_size: 288,
        intermediate_size: 768,
        num_hidden_layers: 6,
        num_attention_heads: 6,
        num_key_value_heads: 6,
        max_position_embeddings: 512,
        tie_word_embeddings: false,
        bos_token_id: 1,
        eos_token_id: 2,
        pad_token_id: 0,
      },
    });
    const tok = spawnSync(
      python(),
      [
        join(root, 'bench', 'trl_grpo_bench.py'),
        '--model',
        modelDir,
        '--write-tokenizer',
        modelDir,
        '--vocab',
        String(W.vocab),
      ],
      { encoding: 'utf8' },
    );
    if (tok.status !== 0)
      throw new Error(`writing the tokenizer needs python with transformers: ${tok.stderr}`);
    const ours: Ours[] = [];
    const theirs: number[] = [];
    const problems: string[] = [];
    for (let run = 1; run <= runs; run++) {
      console.log(`run ${run}/${runs}: tunekit ...`);
      ours.push(await runOurs(dir, modelDir, threads, steps, warmup));
      if (values['no-baseline']) continue;
      console.log(`run ${run}/${runs}: TRL GRPOTrainer ...`);
      const t = runTrl(modelDir, threads, steps, warmup);
      if (typeof t === 'string') problems.push(t);
      else theirs.push(t);
    }
    const us = median(ours.map((o) => o.sPerStep));
    console.log('');
    console.log(
      `tunekit  ${us.toFixed(3)} s/step  (${(1 / us).toFixed(2)} steps/s); runs: ${ours.map((o) => o.sPerStep.toFixed(3)).join(', ')}`,
    );
    console.log(
      `         rollout ${median(ours.map((o) => o.rolloutTokensPerS)).toFixed(0)} completion tokens/s, update ` +
        `${median(ours.map((o) => o.updateTokensPerS)).toFixed(0)} tokens/s, mean completion ` +
        `${median(ours.map((o) => o.meanCompletion)).toFixed(1)} tokens`,
    );
    for (const p of problems) console.log(`note: ${p}`);
    if (theirs.length > 0) {
      const trl = median(theirs);
      console.log(
        `TRL      ${trl.toFixed(3)} s/step  (${(1 / trl).toFixed(2)} steps/s); runs: ${theirs.map((t) => t.toFixed(3)).join(', ')}`,
      );
      console.log(`end-to-end step rate: ${(trl / us).toFixed(2)}x TRL's (target >= 3x)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
