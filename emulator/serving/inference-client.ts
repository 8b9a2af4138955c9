/**
 * The server side of the inference child process (emulator/serving/inference-process.ts): started on the first
 * request, it holds the models and generates; this client sends it requests and routes its answers back. When the
 * child dies, every request in flight fails with a 500 in OpenAI's shape (type `server_error`) and the next
 * request starts a fresh child. The native addon is only ever loaded in the child.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { type ChildEntry, childEntry } from '../child-entry';
import { EmulatorError } from '../store/errors';
import type { ChatJob, ChatOutcome, ChildMessage, ChoiceDelta, MergeJob, ParentMessage } from './protocol';

/** How to start the inference child. */
export type InferenceEntry = ChildEntry;

/** emulator/serving/inference-process.ts from source, dist/inference.js from the built package. */
export function defaultInferenceEntry(): InferenceEntry {
  return childEntry(import.meta.url, 'inference');
}

export interface ChatResult extends ChatOutcome {
  /** The request was cancelled (its signal aborted) before it finished. */
  cancelled: boolean;
}

interface Pending {
  onDeltas?: (deltas: ChoiceDelta[]) => void;
  resolve(value: ChatResult | undefined): void;
  reject(error: Error): void;
  cancelled: boolean;
}

export class InferenceClient {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly entry: InferenceEntry = defaultInferenceEntry()) {}

  /** The child's pid while one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Generates a chat completion. Deltas arrive in order through `onDeltas`; the promise settles with the token
   * counts. An aborted `signal` stops generation at the next token (the result then says `cancelled`).
   */
  chat(job: ChatJob, onDeltas: (deltas: ChoiceDelta[]) => void, signal?: AbortSignal): Promise<ChatResult> {
    return this.request({ type: 'chat', job }, onDeltas, signal) as Promise<ChatResult>;
  }

  /** Writes the base model with the adapter merged into its weights (an HF folder) to `job.outDir`. */
  async merge(job: MergeJob): Promise<void> {
    await this.request({ type: 'merge', job });
  }

  /** Stops the child; requests in flight fail. */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }

  private request(
    message: { type: 'chat'; job: ChatJob } | { type: 'merge'; job: MergeJob },
    onDeltas?: (deltas: ChoiceDelta[]) => void,
    signal?: AbortSignal,
  ): Promise<ChatResult | undefined> {
    if (this.closed) return Promise.reject(unavailable('the server is shutting down'));
    const id = this.nextId++;
    const child = this.ensureChild();
    return new Promise((resolve, reject) => {
      const pending: Pending = { resolve, reject, cancelled: false, ...(onDeltas ? { onDeltas } : {}) };
      this.pending.set(id, pending);
      const cancel = () => {
        pending.cancelled = true;
        this.send(child, { type: 'cancel', id });
      };
      if (signal?.aborted) cancel();
      else signal?.addEventListener('abort', cancel, { once: true });
      this.send(child, { ...message, id } as ParentMessage);
    });
  }

  private send(child: ChildProcess, message: ParentMessage): void {
    if (child.connected) child.send(message);
  }

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(this.entry.modulePath, [], {
      execArgv: this.entry.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.child = child;
    child.on('message', (message) => this.onMessage(message as ChildMessage));
    // 'close' comes after the IPC channel is drained: every answer the child sent has been handled by then.
    child.once('close', (code, signal) => this.onExit(child, code, signal));
    child.once('error', () => this.onExit(child, null, null));
    return child;
  }

  private onMessage(message: ChildMessage): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    switch (message.type) {
      case 'deltas':
        pending.onDeltas?.(message.deltas);
        break;
      case 'chat_done':
        this.pending.delete(message.id);
        pending.resolve({ ...message.outcome, cancelled: pending.cancelled });
        break;
      case 'merged':
        this.pending.delete(message.id);
        pending.resolve(undefined);
        break;
      case 'failed': {
        this.pending.delete(message.id);
        const { status, message: text, param, code } = message.error;
        pending.reject(new EmulatorError(status, text, param, code));
        break;
      }
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    const error = unavailable(
      `the inference process ${how} before it finished this request; it is restarted for the next request`,
    );
    const failed = [...this.pending.values()];
    this.pending.clear();
    for (const pending of failed) pending.reject(error);
  }
}

function unavailable(why: string): EmulatorError {
  return new EmulatorError(
    500,
    `The server had an error while processing your request: ${why}.`,
    null,
    'inference_process_failed',
  );
}
