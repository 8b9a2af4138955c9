/**
 * The job's checkpoints, newest first, with their metrics and downloads: the adapter (PEFT folder as a tar) and,
 * where the server supports it, the base model with the adapter merged in. A full fine-tune saves no adapter,
 * so its checkpoints have nothing to download here.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Adapter, Api, Checkpoint, Job } from './api';
import { ErrorLine } from './error-line';
import { formatBytes, formatMetric } from './format';

export function Checkpoints({ api, job, revision }: { api: Api; job: Job; revision: number }) {
  const [checkpoints, setCheckpoints] = useState<Checkpoint[] | null>(null);
  const [adapters, setAdapters] = useState<Adapter[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    Promise.all([api.allCheckpoints(job.id), api.allAdapters(job.id)]).then(
      ([foundCheckpoints, foundAdapters]) => {
        if (!alive) return;
        setCheckpoints(foundCheckpoints);
        setAdapters(foundAdapters);
        setError(null);
      },
      (caught: Error) => alive && setError(caught.message),
    );
    return () => {
      alive = false;
    };
  }, [api, job.id, job.status, revision]);

  return (
    <section aria-labelledby="checkpoints-heading" class="checkpoints">
      <h3 id="checkpoints-heading">Checkpoints</h3>
      <ErrorLine error={error} />
      {checkpoints?.length === 0 && <p class="hint">No checkpoint yet.</p>}
      {checkpoints && checkpoints.length > 0 && (
        <div class="scroll">
          <table aria-labelledby="checkpoints-heading">
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col">Model</th>
                <th scope="col">Metrics</th>
                <th scope="col">Download</th>
              </tr>
            </thead>
            <tbody>
              {checkpoints.map((checkpoint) => (
                <CheckpointRow
                  key={checkpoint.id}
                  api={api}
                  checkpoint={checkpoint}
                  adapter={adapters.find(
                    (adapter) => adapter.fine_tuned_model === checkpoint.fine_tuned_model_checkpoint,
                  )}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function CheckpointRow({
  api,
  checkpoint,
  adapter,
}: {
  api: Api;
  checkpoint: Checkpoint;
  adapter: Adapter | undefined;
}) {
  const step = checkpoint.step_number;
  return (
    <tr>
      <th scope="row">{step}</th>
      <td class="model-name">{checkpoint.fine_tuned_model_checkpoint}</td>
      <td>
        {Object.entries(checkpoint.metrics)
          .filter(([key, value]) => key !== 'step' && value !== undefined)
          .map(([key, value]) => `${key} ${formatMetric(value)}`)
          .join(', ')}
      </td>
      <td class="downloads">
        {adapter ? (
          <>
            <DownloadLink
              label={`Adapter (${formatBytes(adapter.bytes)})`}
              name={`Download adapter at step ${step}`}
              filename={`${adapter.id}.tar`}
              href={api.adapterContentPath(adapter.id, 'adapter')}
              fetchBlob={() => api.adapterContent(adapter.id, 'adapter')}
            />
            <DownloadLink
              label="Merged model"
              name={`Download merged model at step ${step}`}
              filename={`${adapter.id}-merged.tar`}
              href={api.adapterContentPath(adapter.id, 'merged')}
              fetchBlob={() => api.adapterContent(adapter.id, 'merged')}
            />
          </>
        ) : (
          '—'
        )}
      </td>
    </tr>
  );
}

/**
 * A link to the file's API address that downloads with the key: following it would not send `Authorization`,
 * so a click fetches the file and hands it to the browser as a blob under `filename`.
 */
function DownloadLink({
  label,
  name,
  filename,
  href,
  fetchBlob,
}: {
  label: string;
  name: string;
  filename: string;
  href: string;
  fetchBlob: () => Promise<Blob>;
}) {
  const [state, setState] = useState<'idle' | 'busy' | string>('idle');
  const download = async (event: MouseEvent) => {
    event.preventDefault();
    if (state === 'busy') return;
    setState('busy');
    try {
      const url = URL.createObjectURL(await fetchBlob());
      const anchor = document.createElement('a');
      anchor.href = url;
      anchor.download = filename;
      anchor.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setState('idle');
    } catch (caught) {
      setState((caught as Error).message);
    }
  };
  return (
    <span class="download">
      <a href={href} download={filename} aria-label={name} aria-busy={state === 'busy'} onClick={download}>
        {label}
      </a>
      {state !== 'idle' && state !== 'busy' && <span role="alert">{state}</span>}
    </span>
  );
}
