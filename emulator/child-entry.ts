/** Where a child process of the emulator (the trainer, the inference process) starts from, and how it ends. */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { exitWithParent } from '../native/index';

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

/**
 * Called first thing in a child process: it dies (SIGKILL) with the server that forked it. The kernel's parent-death
 * signal does it where there is one (Linux): it fires in the parent's exit path, so the child writes nothing after its
 * parent is gone, not even from an engine thread in the middle of a checkpoint. The IPC channel closing does it
 * everywhere, once the child's main thread notices. SIGINT is ignored: the server stops its children itself.
 */
export function tieToParent(): void {
  const parent = process.ppid;
  try {
    exitWithParent(parent);
  } catch {
    // The addon did not load (not built): the child's first engine call reports that; the channel still guards.
  }
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  // Ctrl-C in a terminal reaches the whole process group; the server decides when its children stop.
  process.on('SIGINT', () => {});
  if (process.send && !process.connected) process.kill(process.pid, 'SIGKILL');
}
