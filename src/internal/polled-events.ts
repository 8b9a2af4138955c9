import type { FineTuningJob, FineTuningJobEvent, Jobs } from '../resources/fine-tuning/jobs/jobs';
import { sleep } from './sleep';

const TERMINAL: readonly FineTuningJob['status'][] = ['succeeded', 'failed', 'cancelled'];

/**
 * A job's events, oldest first, by polling the event list (for providers without an event stream: OpenAI,
 * Together): each round reads the job, then the events newer than the last one yielded; it ends once the job
 * has finished and its last events were read.
 */
export async function* polledJobEvents(
  jobs: Jobs,
  jobId: string,
  { pollInterval, signal }: { pollInterval: number; signal?: AbortSignal | null | undefined },
): AsyncGenerator<FineTuningJobEvent, void, undefined> {
  const seen = new Set<string>();
  for (;;) {
    const job = await jobs.retrieve(jobId, { signal: signal ?? null });
    const fresh: FineTuningJobEvent[] = [];
    for await (const event of jobs.listEvents(jobId, { limit: 100 }, { signal: signal ?? null })) {
      if (seen.has(event.id)) break;
      fresh.push(event);
    }
    for (const event of fresh.reverse()) {
      seen.add(event.id);
      yield event;
    }
    if (TERMINAL.includes(job.status)) return;
    await sleep(pollInterval, signal);
  }
}
