/** Small shared hooks: polling that stops with the component, and the hash route. */
import { useEffect, useState } from 'preact/hooks';

/**
 * Runs `load` now and again `intervalMs` after each run finishes (null: once), until the component unmounts or
 * `deps` change; `alive()` tells a run whether its result is still wanted.
 */
export function usePolling(
  load: (alive: () => boolean) => Promise<unknown>,
  intervalMs: number | null,
  deps: readonly unknown[],
): void {
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const alive = () => live;
    const run = async () => {
      try {
        await load(alive);
      } finally {
        if (live && intervalMs !== null) timer = setTimeout(run, intervalMs);
      }
    };
    void run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, deps);
}

export interface Route {
  view: 'jobs' | 'job' | 'files' | 'playground';
  jobId?: string;
  model?: string;
}

/** `#/jobs`, `#/jobs/<id>`, `#/files`, `#/playground?model=<id>`. */
export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#\/?/, '').split('?');
  const [view, id] = path.split('/');
  if (view === 'jobs' && id) return { view: 'job', jobId: decodeURIComponent(id) };
  if (view === 'files') return { view: 'files' };
  if (view === 'playground') {
    const model = new URLSearchParams(search).get('model');
    return model ? { view: 'playground', model } : { view: 'playground' };
  }
  return { view: 'jobs' };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
