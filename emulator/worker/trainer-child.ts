/** Starting a trainer child process (emulator/worker/trainer-process.ts) and talking to it. */
import { type ChildProcess, fork } from 'node:child_process';
import { type ChildEntry, childEntry } from '../child-entry';
import type { ChildMessage, ParentMessage } from './protocol';

/** How to start the trainer child. */
export type TrainerEntry = ChildEntry;

/** emulator/worker/trainer-process.ts from source, dist/trainer.js from the built package. */
export function defaultTrainerEntry(): TrainerEntry {
  return childEntry(import.meta.url, 'trainer');
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
