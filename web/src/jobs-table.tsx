/**
 * The key's jobs, newest first, a page at a time (the API's cursor pages), refreshed every few seconds. A
 * running job's progress is its latest `metrics` event's step out of `total_steps`.
 */
import { useState } from 'preact/hooks';
import { type Api, type Job, TERMINAL_STATUSES } from './api';
import { ErrorLine } from './error-line';
import { formatTime } from './format';
import { usePolling } from './hooks';

export const JOBS_PAGE_SIZE = 20;
const REFRESH_MS = 2000;

interface Progress {
  step: number;
  total: number;
}

export function JobsTable({ api }: { api: Api }) {
  /** `after` cursors of the pages before this one; the last is this page's. */
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [progress, setProgress] = useState<Record<string, Progress>>({});
  const [error, setError] = useState<string | null>(null);
  const after = cursors.at(-1);

  usePolling(
    async (alive) => {
      try {
        const page = await api.listJobs({ after, limit: JOBS_PAGE_SIZE });
        if (!alive()) return;
        setJobs(page.data);
        setHasMore(page.has_more);
        setError(null);
        const running = page.data.filter((job) => job.status === 'running');
        const found = await Promise.all(running.map((job) => latestProgress(api, job.id)));
        if (!alive()) return;
        setProgress(Object.fromEntries(running.map((job, i) => [job.id, found[i]]).filter(([, p]) => p)));
      } catch (caught) {
        if (alive()) setError((caught as Error).message);
      }
    },
    REFRESH_MS,
    [api, after],
  );

  return (
    <section aria-labelledby="jobs-heading">
      <h2 id="jobs-heading">Fine-tuning jobs</h2>
      <ErrorLine error={error} />
      <div class="scroll">
        <table aria-labelledby="jobs-heading" aria-busy={jobs === null}>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Model</th>
              <th scope="col">Method</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {jobs?.map((job) => (
              <JobRow key={job.id} job={job} progress={progress[job.id]} />
            ))}
            {jobs?.length === 0 && (
              <tr>
                <td colSpan={6} class="empty" elementtiming="jobs-table">
                  No jobs for this key yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      <div class="pager">
        <button
          type="button"
          disabled={cursors.length === 1}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Newer jobs
        </button>
        <button
          type="button"
          disabled={!hasMore || !jobs?.length}
          onClick={() => setCursors([...cursors, jobs!.at(-1)!.id])}
        >
          Older jobs
        </button>
      </div>
    </section>
  );
}

function JobRow({ job, progress }: { job: Job; progress: Progress | undefined }) {
  return (
    <tr>
      <th scope="row">
        <a href={`#/jobs/${encodeURIComponent(job.id)}`}>{job.id}</a>
      </th>
      {/* Element Timing (bench:dashboard) reports text in cells, not in links. */}
      <td elementtiming="jobs-table">{job.model}</td>
      <td>{job.method?.type ?? 'supervised'}</td>
      <td>
        <span class={`status status-${job.status}`}>{job.status}</span>
      </td>
      <td>
        <JobProgress job={job} progress={progress} />
      </td>
      <td>{formatTime(job.created_at)}</td>
    </tr>
  );
}

function JobProgress({ job, progress }: { job: Job; progress: Progress | undefined }) {
  if (job.status === 'succeeded') return <span>100%</span>;
  if (!progress || TERMINAL_STATUSES.includes(job.status)) return <span>—</span>;
  const label = `step ${progress.step} of ${progress.total}`;
  return (
    <span class="progress">
      <progress value={progress.step} max={progress.total} aria-label={`Progress of ${job.id}`} />
      {label}
    </span>
  );
}

/** The step of the newest `metrics` event among the job's last few events. */
async function latestProgress(api: Api, jobId: string): Promise<Progress | undefined> {
  const { data } = await api.listEvents(jobId, 10);
  const metrics = data.find((event) => event.type === 'metrics')?.data;
  if (!metrics || typeof metrics.step !== 'number' || typeof metrics.total_steps !== 'number')
    return undefined;
  return { step: metrics.step, total: metrics.total_steps };
}
