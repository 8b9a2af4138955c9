#!/usr/bin/env node
// The SDK package's `tunekit` command. The command line and the local emulator ship in @tunekit/emulator (they
// need a native build, which the SDK must not); this runs that package's command when it is installed beside the
// SDK or in the current project, and otherwise says in one line what to install.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

function emulatorCli() {
  for (const from of [import.meta.url, pathToFileURL(join(process.cwd(), 'package.json')).href]) {
    try {
      return createRequire(from).resolve('@tunekit/emulator/cli');
    } catch {
      // not installed where this base looks; try the next one
    }
  }
  return null;
}

const cli = emulatorCli();
if (cli === null) {
  console.error(
    'tunekit: the command line and the local emulator are in @tunekit/emulator: run `npm install --save-dev ' +
      '@tunekit/emulator` (needs cmake >= 3.25 and a C++20 compiler), then `npx tunekit emulator`',
  );
  process.exit(1);
}
await import(pathToFileURL(cli).href);
