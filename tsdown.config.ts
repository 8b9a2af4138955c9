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
    // The trainer and the inference process run in child processes the server forks (dist/trainer.js and
    // dist/inference.js beside dist/cli.js).
    entry: {
      cli: 'cli/main.ts',
      trainer: 'emulator/worker/trainer-process.ts',
      inference: 'emulator/serving/inference-process.ts',
    },
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    fixedExtension: false,
    dts: false,
    clean: false,
  },
  {
    // @tunekit/emulator's library entries, with declarations: startEmulator (dist/emulator.js) and the msw
    // handlers (dist/msw.js; msw is the user's, a peer dependency, never bundled).
    entry: { emulator: 'emulator/index.ts', msw: 'emulator/msw.ts' },
    external: ['msw'],
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    fixedExtension: false,
    dts: true,
    clean: false,
  },
]);
