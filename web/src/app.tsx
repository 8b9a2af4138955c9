/**
 * The dashboard's frame: the API key (from `?key=…` or typed in, kept in localStorage), the navigation, and the
 * view the hash names. Each key is its own project, so changing it reloads every view.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { Api } from './api';
import { FilesView } from './files-view';
import { useRoute } from './hooks';
import { JobView } from './job-view';
import { JobsTable } from './jobs-table';
import { Playground } from './playground';

const KEY_STORAGE = 'tunekit.apiKey';
/** Typing a key reloads the views once the typing pauses this long. */
const KEY_DEBOUNCE_MS = 400;

/** A `?key=` in the address wins (and is then dropped from it, so it does not linger in the history). */
function initialKey(): string {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('key');
  if (fromUrl !== null) {
    localStorage.setItem(KEY_STORAGE, fromUrl);
    url.searchParams.delete('key');
    history.replaceState(null, '', url);
    return fromUrl;
  }
  return localStorage.getItem(KEY_STORAGE) ?? '';
}

export function App() {
  const [typed, setTyped] = useState(initialKey);
  const [key, setKey] = useState(typed);
  const route = useRoute();
  useEffect(() => {
    if (typed === key) return;
    const timer = setTimeout(() => setKey(typed.trim()), KEY_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [typed, key]);
  useEffect(() => {
    localStorage.setItem(KEY_STORAGE, key);
  }, [key]);
  const api = useMemo(() => (key ? new Api(key) : null), [key]);

  return (
    <>
      <header class="top">
        <h1>tunekit</h1>
        <nav aria-label="Views">
          <a href="#/jobs" aria-current={route.view === 'jobs' || route.view === 'job' ? 'page' : undefined}>
            Jobs
          </a>
          <a href="#/files" aria-current={route.view === 'files' ? 'page' : undefined}>
            Files
          </a>
          <a href="#/playground" aria-current={route.view === 'playground' ? 'page' : undefined}>
            Playground
          </a>
        </nav>
        <label class="key">
          API key
          <input
            type="text"
            value={typed}
            autocomplete="off"
            spellcheck={false}
            placeholder="any non-empty key"
            onInput={(event) => setTyped(event.currentTarget.value)}
            onChange={(event) => setKey(event.currentTarget.value.trim())}
          />
        </label>
      </header>
      <main>
        {api ? (
          view(api)
        ) : (
          <p class="hint">
            Enter an API key: each key is its own project with its own files, jobs and models.
          </p>
        )}
      </main>
    </>
  );

  function view(api: Api) {
    switch (route.view) {
      case 'job':
        return <JobView key={`${key}/${route.jobId}`} api={api} jobId={route.jobId!} />;
      case 'files':
        return <FilesView key={key} api={api} />;
      case 'playground':
        return <Playground key={key} api={api} initialModel={route.model} />;
      default:
        return <JobsTable key={key} api={api} />;
    }
  }
}
