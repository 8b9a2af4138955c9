/**
 * Crash consistency under injected faults (issue 16; docs/emulator.md, "Crash consistency"): each scenario of
 * crash-scenarios.ts once. `npm run stress:crash` runs them many times and prints a table.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  canMountTmpfs,
  damagedCheckpoint,
  diskFullAtCheckpoint,
  diskFullAtUpload,
  exitsWithin,
  killDuringExport,
  killDuringUpload,
  type Reference,
  referenceRun,
  splitKill,
} from './crash-scenarios';

let reference: Reference;
const tmpfs = canMountTmpfs();

beforeAll(async () => {
  reference = await referenceRun();
}, 180_000);

describe('a child process dies with its server', () => {
  it('is killed by the kernel when its parent dies, even while its main thread is busy (PR_SET_PDEATHSIG)', async () => {
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const child = path.join(import.meta.dirname, 'busy-child.ts');
    // The parent starts the busy child without an IPC channel and prints its pid: only the kernel can end it.
    const script =
      `const c = require('node:child_process').spawn(process.execPath, ['--import', ${JSON.stringify(tsx)}, ` +
      `${JSON.stringify(child)}], { stdio: ['ignore', 'pipe', 'inherit'] });` +
      `c.stdout.on('data', (d) => process.stdout.write(d));`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => {
      let text = '';
      parent.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('\n')) resolve(text);
      });
    });
    const [armed, pid] = line.trim().split(' ');
    expect(armed).toBe('armed');
    parent.kill('SIGKILL');
    expect(await exitsWithin(Number(pid), 5000)).toBe(true);
  });
});

describe('split kill (server first, trainer later) around a checkpoint', () => {
  it.each([
    ['writing', 10, 0],
    ['written', 14, 50],
    ['recorded', 20, 400],
    ['between', 8, 0],
  ] as const)(
    'at %s of checkpoint %i (trainer killed %i ms later): nothing lost, identical adapters',
    async (moment, n, later) => {
      await splitKill(reference, moment, n, later);
    },
    240_000,
  );
});

describe('kills during the adapter export and uploads', () => {
  it.each(['engine', 'register'] as const)(
    'kill -9 while the %s writes the final adapter',
    async (when) => {
      await killDuringExport(reference, when);
    },
    240_000,
  );

  it('kill -9 during an upload leaves no file, no blob and nothing in tmp/', async () => {
    await killDuringUpload();
  }, 240_000);
});

describe('damaged checkpoints at restart', () => {
  it.each(['corrupt', 'truncated'] as const)(
    'a %s newest checkpoint is skipped for the previous one',
    async (damage) => {
      await damagedCheckpoint(reference, damage, 12);
    },
    240_000,
  );
});

describe.skipIf(!tmpfs)('disk full (a small tmpfs; needs root)', () => {
  it('an upload gets 507 insufficient_storage naming the data folder, and the server keeps serving', async () => {
    await diskFullAtUpload();
  }, 120_000);

  it('a checkpoint write fails the job with insufficient_storage; after freeing space it trains identically', async () => {
    await diskFullAtCheckpoint(reference);
  }, 240_000);
});
