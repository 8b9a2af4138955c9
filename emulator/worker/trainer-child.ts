/** Starting a trainer child process (emulator/worker/trainer-process.ts) and talking to it. */
import { type ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ChildMessage, ParentMessage } from './protocol';

/** How to start the trainer: the module to fork and the Node flags it needs. */
export interface TrainerEntry {
  modulePath: string;
  execArgv: string[];
}

/**
 * From source (tests, tsx) the entry is trainer-process.ts, run through tsx's loader; from the built package it is
 * dist/trainer.js beside the bundle that holds this code.
 */
export function defaultTrainerEntry(): TrainerEntry {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const source = path.join(here, 'trainer-process.ts');
  if (fs.existsSync(source) && fileURLToPath(import.meta.url).endsWith('.ts')) {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    return { modulePath: source, execArgv: ['--import', pathToFileURL(tsx).href] };
  }
  return { modulePath: path.join(here, 'trainer.js'), execArgv: [] };
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running trainer child: messages in order, then its exit. */
export class TrainerChild {
  readonly process: ChildProcess;
  readonly exited: Promise<ChildExit>;

  constructor(entry: TrainerEntry, onMessage: (message: ChildMessage) => void) {
    this.process = fork(entry.modulePath, [], {
      execArgv: entry.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.process.on('message', (message) => onMessage(message as ChildMessage));
    this.exited = new Promise((resolve) => {
      // 'close' comes after the IPC channel is drained, so every message has been handled by then.
      this.process.once('close', (code, signal) => resolve({ code, signal }));
      this.process.once('error', () => resolve({ code: null, signal: null }));
    });
  }

  send(message: ParentMessage): void {
    if (this.process.connected) this.process.send(message);
  }

  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
  }
}
