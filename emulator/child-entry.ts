/** Where a child process of the emulator (the trainer, the inference process) starts from. */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** How to start a child: the module to fork and the Node flags it needs. */
export interface ChildEntry {
  modulePath: string;
  execArgv: string[];
}

/**
 * The entry of a child whose module sits beside the caller (`callerUrl` = the caller's `import.meta.url`): from
 * source (tests, tsx) it is `<name>-process.ts` run through tsx's loader; from the built package it is
 * `<name>.js` beside the bundle that holds the caller.
 */
export function childEntry(callerUrl: string, name: string): ChildEntry {
  const caller = fileURLToPath(callerUrl);
  const here = path.dirname(caller);
  const source = path.join(here, `${name}-process.ts`);
  if (fs.existsSync(source) && caller.endsWith('.ts')) {
    const tsx = createRequire(callerUrl).resolve('tsx');
    return { modulePath: source, execArgv: ['--import', pathToFileURL(tsx).href] };
  }
  return { modulePath: path.join(here, `${name}.js`), execArgv: [] };
}
