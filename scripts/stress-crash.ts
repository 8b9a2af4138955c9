/**
 * `npm run stress:crash [-- ROUNDS [SCENARIO...]]`: runs the crash scenarios of
 * test/emulator/worker/crash-scenarios.ts ROUNDS times each (default 20) against one uninterrupted reference run,
 * varying the kill moment, the checkpoint and the trainer's delay from round to round, and prints a table: rounds,
 * rounds that lost or half-wrote something (with the first violations), and the median seconds per round.
 * Exits 1 when any round lost something. The disk-full scenarios need root (a tmpfs); elsewhere they are listed
 * as skipped.
 */
import {
  canMountTmpfs,
  damagedCheckpoint,
  diskFullAtCheckpoint,
  diskFullAtUpload,
  killDuringExport,
  killDuringUpload,
  Lost,
  MOMENTS,
  type Reference,
  referenceRun,
  splitKill,
} from '../test/emulator/worker/crash-scenarios';

const CHECKPOINTS = [4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26];
const LATER_MS = [0, 50, 400];

const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length] as T;

const SCENARIOS: Record<string, { tmpfs?: boolean; run(ref: Reference, round: number): Promise<void> }> = {
  'split-kill': {
    async run(ref, round) {
      const moment = pick(MOMENTS, round);
      const n = pick(CHECKPOINTS, Math.floor(round / MOMENTS.length) * 5 + round);
      const later = pick(LATER_MS, round);
      await splitKill(ref, moment, n, later);
    },
  },
  'kill-export': {
    async run(ref, round) {
      const when = round % 2 === 0 ? 'engine' : 'register';
      await killDuringExport(ref, when);
    },
  },
  'kill-upload': {
    async run() {
      await killDuringUpload();
    },
  },
  'damaged-checkpoint': {
    async run(ref, round) {
      const damage = round % 2 === 0 ? 'corrupt' : 'truncated';
      const n = pick(CHECKPOINTS.slice(2), round);
      await damagedCheckpoint(ref, damage, n);
    },
  },
  'enospc-upload': {
    tmpfs: true,
    async run() {
      await diskFullAtUpload();
    },
  },
  'enospc-checkpoint': {
    tmpfs: true,
    async run(ref) {
      await diskFullAtCheckpoint(ref);
    },
  },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : (s[(s.length - 1) >> 1] as number);
}

async function main(): Promise<void> {
  const [roundsArg, ...names] = process.argv.slice(2);
  const rounds = roundsArg ? Number(roundsArg) : 20;
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`ROUNDS must be a positive integer, got ${roundsArg}`);
  const chosen = names.length > 0 ? names : Object.keys(SCENARIOS);
  for (const name of chosen)
    if (!SCENARIOS[name]) throw new Error(`no scenario ${name} (${Object.keys(SCENARIOS)})`);
  const tmpfs = canMountTmpfs();
  console.log(`reference run... (${rounds} rounds of ${chosen.join(', ')})`);
  const reference = await referenceRun();
  const rows: string[][] = [];
  let anyLost = false;
  for (const name of chosen) {
    const scenario = SCENARIOS[name]!;
    if (scenario.tmpfs && !tmpfs) {
      rows.push([name, '0', '-', '-', 'skipped: cannot mount a tmpfs (needs root)']);
      continue;
    }
    const seconds: number[] = [];
    const lost: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
      try {
        await scenario.run(reference, round);
        process.stdout.write('.');
      } catch (error) {
        process.stdout.write(error instanceof Lost ? 'L' : 'E');
        lost.push(`round ${round}: ${(error as Error).message}`);
      }
      seconds.push((performance.now() - started) / 1000);
    }
    process.stdout.write(` ${name}\n`);
    anyLost ||= lost.length > 0;
    rows.push([
      name,
      String(rounds),
      String(lost.length),
      median(seconds).toFixed(1),
      lost.slice(0, 3).join(' | '),
    ]);
  }
  const header = ['scenario', 'rounds', 'lost', 'median s', 'first violations'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ');
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('-|-')}`);
  for (const row of rows) console.log(line(row));
  console.log(
    `(${new Date().toISOString()}, ${process.platform}, machine load ${(await loadavg()).join(' ')})`,
  );
  process.exit(anyLost ? 1 : 0);
}

async function loadavg(): Promise<string[]> {
  const os = await import('node:os');
  return os.loadavg().map((x) => x.toFixed(1));
}

await main();
