/**
 * One job: "is it learning?" at a glance — status, the metric charts and the live events — with its settings,
 * checkpoints and controls below. Everything follows the job's event stream; the job itself is re-read when a
 * message event arrives (a status change comes with one) and every few seconds while it is not finished.
 */
import { useEffect, useState } from 'preact/hooks';
import { type Api, type Job, type JobEvent, type JobStatus, TERMINAL_STATUSES } from './api';
import { Checkpoints } from './checkpoints';
import { ErrorLine } from './error-line';
import { EventsLog } from './events-log';
import { formatTime, formatValue } from './format';
import { usePolling } from './hooks';
import { MetricCharts } from './metric-charts';

const REFRESH_MS = 3000;
const BATCH_MS = 50;

export function JobView({ api, jobId }: { api: Api; jobId: string }) {
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [streamState, setStreamState] = useState<'live' | 'reconnecting' | 'ended'>('live');
  /** Bumped on each message event, so the job and its checkpoints are re-read. */
  const [revision, setRevision] = useState(0);

  const finished = job !== null && TERMINAL_STATUSES.includes(job.status);
  usePolling(
    async (alive) => {
      try {
        const fresh = await api.getJob(jobId);
        if (alive()) setJob(fresh);
      } catch (caught) {
        if (alive()) setError((caught as Error).message);
      }
    },
    finished ? null : REFRESH_MS,
    [api, jobId, revision, finished],
  );

  useEffect(() => {
    const abort = new AbortController();
    setEvents([]);
    setStreamState('live');
    let pending: JobEvent[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Events arrive in bursts (the whole history first); one render takes each burst.
    const flush = () => {
      timer = undefined;
      const batch = pending;
      pending = [];
      setEvents((current) => [...current, ...batch]);
      if (batch.some((event) => event.type !== 'metrics')) setRevision((n) => n + 1);
    };
    api
      .followEvents(
        jobId,
        (event) => {
          setStreamState('live');
          pending.push(event);
          timer ??= setTimeout(flush, BATCH_MS);
        },
        abort.signal,
        () => setStreamState('reconnecting'),
      )
      .then(
        () => !abort.signal.aborted && setStreamState('ended'),
        (caught: Error) => !abort.signal.aborted && setError(caught.message),
      );
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [api, jobId]);

  if (!job) {
    return (
      <section aria-label={`Job ${jobId}`}>
        <p>
          <a href="#/jobs">← All jobs</a>
        </p>
        {error ? <ErrorLine error={error} /> : <p aria-busy="true">Loading {jobId}…</p>}
      </section>
    );
  }

  return (
    <article aria-labelledby="job-heading" class="job">
      <p>
        <a href="#/jobs">← All jobs</a>
      </p>
      <h2 id="job-heading">{job.id}</h2>
      <ErrorLine error={error} />
      <div class="job-top">
        <JobSummary job={job} />
        <Controls api={api} job={job} onChange={setJob} onError={setError} />
      </div>
      <MetricCharts events={events} />
      <div class="job-columns">
        <EventsLog events={events} state={streamState} />
        <Checkpoints api={api} job={job} revision={revision} />
      </div>
      <Hyperparameters job={job} />
    </article>
  );
}

function JobSummary({ job }: { job: Job }) {
  const rows: [string, unknown][] = [
    ['Status', job.status],
    ['Method', job.method?.type ?? 'supervised'],
    ['Training', job.training_type?.type ?? 'lora'],
    ['Base model', job.model],
    ['Result model', job.fine_tuned_model],
    ['Trained tokens', job.trained_tokens],
    ['Created', formatTime(job.created_at)],
    ['Finished', formatTime(job.finished_at)],
  ];
  return (
    <dl class="summary" aria-label="Job summary">
      {rows.map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd>
            {name === 'Status' ? (
              <span class={`status status-${job.status}`}>{job.status}</span>
            ) : (
              formatValue(value)
            )}
          </dd>
        </div>
      ))}
      {job.error && (
        <div class="failure">
          <dt>Error</dt>
          <dd>
            <span role="alert">
              {job.error.code}: {job.error.message}
              {job.error.param ? ` (${job.error.param})` : ''}
            </span>
          </dd>
        </div>
      )}
    </dl>
  );
}

/** The job's resolved hyperparameters, and its method's own settings when it names them. */
function Hyperparameters({ job }: { job: Job }) {
  const method = job.method?.type ?? 'supervised';
  const settings = (job.method?.[method] as { hyperparameters?: Record<string, unknown> } | undefined)
    ?.hyperparameters;
  const entries = Object.entries({ ...settings, ...job.hyperparameters });
  return (
    <section aria-labelledby="hyper-heading">
      <h3 id="hyper-heading">Hyperparameters</h3>
      <dl class="summary">
        {entries.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>{formatValue(value)}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

const ACTIONS: { action: 'cancel' | 'pause' | 'resume'; label: string; from: readonly JobStatus[] }[] = [
  { action: 'pause', label: 'Pause', from: ['queued', 'running'] },
  { action: 'resume', label: 'Resume', from: ['paused'] },
  { action: 'cancel', label: 'Cancel', from: ['validating_files', 'queued', 'running', 'paused'] },
];

function Controls({
  api,
  job,
  onChange,
  onError,
}: {
  api: Api;
  job: Job;
  onChange: (job: Job) => void;
  onError: (message: string) => void;
}) {
  const [busy, setBusy] = useState(false);
  const run = async (action: 'cancel' | 'pause' | 'resume') => {
    setBusy(true);
    try {
      onChange(await api.controlJob(job.id, action));
    } catch (caught) {
      onError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="controls">
      {ACTIONS.filter(({ from }) => from.includes(job.status)).map(({ action, label }) => (
        <button key={action} type="button" disabled={busy} onClick={() => run(action)}>
          {label}
        </button>
      ))}
      {job.fine_tuned_model && (
        <a class="button" href={`#/playground?model=${encodeURIComponent(job.fine_tuned_model)}`}>
          Open in playground
        </a>
      )}
    </div>
  );
}
