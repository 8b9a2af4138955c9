/**
 * A job's progress on stderr. On a terminal: one status line (step/total with a bar, epoch, loss, learning rate,
 * tokens/s, ETA) redrawn in place by log-update, with the job's messages kept above it. Elsewhere: one plain line
 * per event, no escape codes.
 */
import { createLogUpdate } from 'log-update';
import type { FineTuningJobEvent } from '../src/index';
import { formatDuration } from './output';

interface Metrics {
  step: number;
  total_steps: number;
  train_loss: number;
  learning_rate?: number;
  tokens?: number;
  valid_loss?: number;
}

/** Figures of the run so far, from its metrics events and the time they arrived. */
export class ProgressState {
  step = 0;
  totalSteps = 0;
  loss: number | undefined;
  validLoss: number | undefined;
  learningRate: number | undefined;
  nEpochs: number | undefined;
  private first: { step: number; at: number } | undefined;
  private lastAt = 0;
  private tokens = 0;

  constructor(private readonly now: () => number = () => performance.now() / 1000) {}

  record(data: Metrics): void {
    const at = this.now();
    // The rate counts the steps after the first one seen: that one's duration is unknown (it may be a replay).
    if (this.first === undefined) this.first = { step: data.step, at };
    else this.tokens += data.tokens ?? 0;
    this.lastAt = at;
    this.step = data.step;
    this.totalSteps = data.total_steps;
    this.loss = data.train_loss;
    this.learningRate = data.learning_rate;
    if (data.valid_loss !== undefined) this.validLoss = data.valid_loss;
  }

  get epoch(): number | undefined {
    if (this.nEpochs === undefined || this.totalSteps === 0) return undefined;
    return (this.step / this.totalSteps) * this.nEpochs;
  }

  get tokensPerSecond(): number | undefined {
    const elapsed = this.first ? this.lastAt - this.first.at : 0;
    return elapsed > 0 && this.tokens > 0 ? this.tokens / elapsed : undefined;
  }

  /** Seconds left at the pace of the steps seen so far. */
  get etaSeconds(): number | undefined {
    if (!this.first || this.step <= this.first.step) return undefined;
    const perStep = (this.lastAt - this.first.at) / (this.step - this.first.step);
    return perStep * (this.totalSteps - this.step);
  }

  /** `step 12/150  epoch 1.20/20  loss 1.2340  lr 2.00e-3  1234 tok/s  ETA 0:42` (known fields only). */
  summary(): string {
    const parts = [`step ${this.step}/${this.totalSteps}`];
    const epoch = this.epoch;
    if (epoch !== undefined) parts.push(`epoch ${epoch.toFixed(2)}/${this.nEpochs}`);
    if (this.loss !== undefined) parts.push(`loss ${this.loss.toFixed(4)}`);
    if (this.validLoss !== undefined) parts.push(`val_loss ${this.validLoss.toFixed(4)}`);
    if (this.learningRate !== undefined) parts.push(`lr ${this.learningRate.toExponential(2)}`);
    const rate = this.tokensPerSecond;
    if (rate !== undefined) parts.push(`${Math.round(rate)} tok/s`);
    const eta = this.etaSeconds;
    if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
    return parts.join('  ');
  }
}

function bar(step: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.round((Math.min(step, total) / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${total > 0 ? Math.round((step / total) * 100) : 0}%`;
}

export interface ProgressView {
  readonly state: ProgressState;
  event(event: FineTuningJobEvent): void;
  /** A line of the command's own (kept above the live line on a terminal). */
  line(text: string): void;
  /** Removes the live line (before a prompt or the end). */
  clear(): void;
  stop(): void;
}

function isMetrics(event: FineTuningJobEvent): event is FineTuningJobEvent & { data: Metrics } {
  const data = event.data as Partial<Metrics> | null | undefined;
  return event.type === 'metrics' && typeof data?.step === 'number' && typeof data.total_steps === 'number';
}

/**
 * The terminal as log-update sees it. A pseudo-terminal that reports no size (0 × 0, as `script` gives without a
 * controlling terminal) counts as 80 × 24; log-update would draw nothing in zero rows.
 */
function sizedTerminal(stream: NodeJS.WriteStream): NodeJS.WriteStream {
  const terminal = {
    isTTY: true,
    write: (text: string) => stream.write(text),
    get columns() {
      return stream.columns || 80;
    },
    get rows() {
      return stream.rows || 24;
    },
  };
  return terminal as unknown as NodeJS.WriteStream;
}

/** The live display when `stream` is a terminal, plain lines otherwise. */
export function createProgressView(stream: NodeJS.WriteStream): ProgressView {
  const state = new ProgressState();
  if (!stream.isTTY) {
    return {
      state,
      event(event) {
        if (isMetrics(event)) {
          state.record(event.data);
          stream.write(`${state.summary()}\n`);
        } else stream.write(`${event.message}\n`);
      },
      line: (text) => stream.write(`${text}\n`),
      clear() {},
      stop() {},
    };
  }
  const live = createLogUpdate(sizedTerminal(stream));
  let status = 'waiting for the first step';
  const draw = () => live(status);
  return {
    state,
    event(event) {
      if (isMetrics(event)) {
        state.record(event.data);
        status = `${bar(state.step, state.totalSteps)}  ${state.summary()}`;
      } else live.persist(event.message);
      draw();
    },
    line(text) {
      live.persist(text);
      draw();
    },
    clear: () => live.clear(),
    stop: () => live.done(),
  };
}
