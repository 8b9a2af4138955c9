import { defineConfig } from 'tsdown';

export default defineConfig([
  {
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    platform: 'node',
    target: 'node20',
    // package.json points at index.js / index.cjs / index.d.ts, not tsdown's default .mjs names.
    fixedExtension: false,
    clean: true,
  },
  {
    // The trainer runs in a child process the scheduler forks (dist/trainer.js beside dist/cli.js).
    entry: { cli: 'emulator/cli.ts', trainer: 'emulator/worker/trainer-process.ts' },
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    fixedExtension: false,
    dts: false,
    clean: false,
  },
]);
