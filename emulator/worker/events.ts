/**
 * Event texts. Those the hosted service is seen to send are copied exactly (reference §7); the others (pause,
 * resume, cancel, failure, restart) are tunekit's, written in the same voice.
 */
import { PREFERENCE_METRICS } from '../contract/jobs';
import type { NewEvent } from '../store';
import type { EngineProgress } from './protocol';

export const TEXT = {
  validated: 'Files validated, moving job to queued state',
  started: 'Fine-tuning job started',
  checkpoint: (step: number, name: string) => `Checkpoint created at step ${step} with Snapshot ID: ${name}`,
  modelCreated: (name: string) => `New fine-tuned model created: ${name}`,
  succeeded: 'The job has successfully completed',
  cancelled: 'Fine-tuning job cancelled',
  paused: 'Fine-tuning job paused',
  resumed: 'Fine-tuning job resumed',
  resumedFrom: (step: number) =>
    step === 0
      ? 'No checkpoint could be read; training started again from the beginning'
      : `Resumed training from the checkpoint at step ${step}`,
  unreadableCheckpoint: (step: number) =>
    `The checkpoint at step ${step} could not be read (corrupt or incomplete); an older one is used instead`,
  interrupted: (step: number | null) =>
    step === null
      ? 'The emulator restarted while the job was running; it starts again from the beginning (no checkpoint yet)'
      : `The emulator restarted while the job was running; it resumes from its last checkpoint (step ${step})`,
  shutdown: (step: number | null) =>
    `The emulator is shutting down; training stopped${step === null ? '' : ` at step ${step}`} and resumes from ` +
    'the last checkpoint when it starts again',
} as const;

/**
 * The `metrics` event of a step: `Step 3/100: training loss=1.23[, validation loss=…[, full validation loss=…]]`,
 * data keys in the order the hosted service sends them, plus tunekit's `learning_rate` and `tokens` (scored tokens
 * of the step, known when the previous step's report was seen or at step 1).
 */
export function metricsEvent(p: EngineProgress, previous?: EngineProgress): NewEvent {
  const data: Record<string, number> = { step: p.step, train_loss: p.trainLoss };
  let message = `Step ${p.step}/${p.totalSteps}: training loss=${p.trainLoss.toFixed(2)}`;
  if (p.hasValid) {
    data.valid_loss = p.validLoss;
    message += `, validation loss=${p.validLoss.toFixed(2)}`;
  }
  data.total_steps = p.totalSteps;
  if (p.isFullValid) {
    data.full_valid_loss = p.fullValidLoss;
    message += `, full validation loss=${p.fullValidLoss.toFixed(2)}`;
  }
  data.train_mean_token_accuracy = p.trainMeanTokenAccuracy;
  if (p.hasValid) data.valid_mean_token_accuracy = p.validMeanTokenAccuracy;
  if (p.isFullValid) data.full_valid_mean_token_accuracy = p.fullValidMeanTokenAccuracy;
  data.learning_rate = p.learningRate;
  if (previous?.step === p.step - 1) data.tokens = p.tokensSeen - previous.tokensSeen;
  else if (p.step === 1) data.tokens = p.tokensSeen;
  // dpo / kto: TRL's names (rewards/*, logps/*, ..., valid_ and full_valid_ prefixed)
  for (const [key, value] of Object.entries(p.metrics ?? {})) data[key] = value;
  if (p.metrics?.['rewards/margins'] !== undefined) {
    message += `, reward margin=${p.metrics['rewards/margins'].toFixed(2)}`;
  }
  return { type: 'metrics', message, data };
}

/** The result file: one CSV row per step, empty cells where no validation ran (reference §4). */
export function metricsCsv(rows: Record<string, unknown>[]): string {
  const cell = (value: unknown) => (typeof value === 'number' ? String(value) : '');
  // dpo / kto jobs add TRL's metrics as further columns
  const extra = PREFERENCE_METRICS.flatMap((m) => [m, `valid_${m}`, `full_valid_${m}`]).filter((key) =>
    rows.some((d) => typeof d[key] === 'number'),
  );
  const lines = [['step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy', ...extra].join(',')];
  for (const d of rows) {
    lines.push(
      [d.step, d.train_loss, d.train_mean_token_accuracy, d.valid_loss, d.valid_mean_token_accuracy]
        .concat(extra.map((key) => d[key]))
        .map(cell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
