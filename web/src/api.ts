/**
 * The dashboard's only way to the server: the public API under `/v1`, every call carrying the user's key as
 * `Authorization: Bearer`. The types describe just the fields the page reads, so it works against any server
 * that speaks the contract.
 */
import { readEventStream } from './sse';

export type JobStatus =
  | 'validating_files'
  | 'queued'
  | 'running'
  | 'paused'
  | 'succeeded'
  | 'failed'
  | 'cancelled';

export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface Job {
  id: string;
  created_at: number;
  finished_at: number | null;
  model: string;
  status: JobStatus;
  fine_tuned_model: string | null;
  training_file: string;
  validation_file: string | null;
  trained_tokens: number | null;
  hyperparameters: Record<string, unknown> | null;
  method?: { type: string; [key: string]: unknown };
  training_type?: { type: string; [key: string]: unknown } | null;
  error: { code: string; message: string; param: string | null } | null;
  estimated_finish?: number | null;
}

export interface JobEvent {
  id: string;
  created_at: number;
  level: 'info' | 'warn' | 'error';
  message: string;
  type?: 'message' | 'metrics';
  data?: Record<string, unknown> | null;
}

export interface Checkpoint {
  id: string;
  fine_tuned_model_checkpoint: string;
  step_number: number;
  metrics: Record<string, number | undefined>;
}

export interface Adapter {
  id: string;
  fine_tuned_model: string;
  step: number;
  bytes: number;
}

export interface Model {
  id: string;
  owned_by: string;
}

export interface FileObject {
  id: string;
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: string;
  status_details?: string | null;
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
}

/** A failed request: the API's error message (OpenAI's shape) and its status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

export class Api {
  constructor(readonly key: string) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.key}`, ...extra };
  }

  /** A request whose answer must be 2xx; the body of an error becomes an {@link ApiError}. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(`/v1${path}`, {
      ...init,
      headers: { ...this.headers(), ...(init.headers as Record<string, string> | undefined) },
    });
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  private async json<T>(path: string, init?: RequestInit): Promise<T> {
    return (await this.request(path, init)).json() as Promise<T>;
  }

  private post<T>(path: string, body?: unknown): Promise<T> {
    return this.json<T>(path, {
      method: 'POST',
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
  }

  listJobs(params: { after?: string; limit: number }): Promise<Page<Job>> {
    return this.json(`/fine_tuning/jobs${query(params)}`);
  }

  getJob(id: string): Promise<Job> {
    return this.json(`/fine_tuning/jobs/${encodeURIComponent(id)}`);
  }

  /** The newest events first, as the API pages them. */
  listEvents(id: string, limit: number): Promise<Page<JobEvent>> {
    return this.json(`/fine_tuning/jobs/${encodeURIComponent(id)}/events${query({ limit })}`);
  }

  controlJob(id: string, action: 'cancel' | 'pause' | 'resume'): Promise<Job> {
    return this.post(`/fine_tuning/jobs/${encodeURIComponent(id)}/${action}`);
  }

  async allCheckpoints(id: string): Promise<Checkpoint[]> {
    return this.all((after) =>
      this.json(`/fine_tuning/jobs/${encodeURIComponent(id)}/checkpoints${query({ after, limit: 100 })}`),
    );
  }

  async allAdapters(jobId: string): Promise<Adapter[]> {
    return this.all((after) =>
      this.json(`/adapters${query({ fine_tuning_job_id: jobId, after, limit: 100 })}`),
    );
  }

  async listModels(): Promise<Model[]> {
    return (await this.json<{ data: Model[] }>('/models')).data;
  }

  listFiles(after?: string): Promise<Page<FileObject>> {
    return this.json(`/files${query({ after, limit: 100 })}`);
  }

  uploadFile(file: File, purpose: string): Promise<FileObject> {
    const form = new FormData();
    form.append('purpose', purpose);
    form.append('file', file, file.name);
    return this.json('/files', { method: 'POST', body: form });
  }

  adapterContentPath(id: string, format: 'adapter' | 'merged'): string {
    return `/v1/adapters/${encodeURIComponent(id)}/content${query({ format })}`;
  }

  /** The adapter's tar (PEFT folder, or the base model with it merged), fetched with the key. */
  async adapterContent(id: string, format: 'adapter' | 'merged'): Promise<Blob> {
    return (await this.request(this.adapterContentPath(id, format).slice('/v1'.length))).blob();
  }

  /**
   * The job's events, oldest first, from the live stream; after a dropped connection it reconnects with
   * `Last-Event-ID` so nothing is repeated or lost. Resolves when the server sends `[DONE]` or `signal` aborts.
   */
  async followEvents(
    id: string,
    onEvent: (event: JobEvent) => void,
    signal: AbortSignal,
    onReconnect: () => void = () => {},
  ): Promise<void> {
    let lastEventId: string | undefined;
    for (let attempt = 0; !signal.aborted; attempt += 1) {
      try {
        const response = await this.request(
          `/fine_tuning/jobs/${encodeURIComponent(id)}/events?stream=true`,
          {
            headers: {
              accept: 'text/event-stream',
              ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
            },
            signal,
          },
        );
        let done = false;
        await readEventStream(response, (message) => {
          if (message.data === '[DONE]') {
            done = true;
            return;
          }
          if (message.id) lastEventId = message.id;
          attempt = 0;
          onEvent(JSON.parse(message.data) as JobEvent);
        });
        if (done) return;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiError && error.status < 500 && error.status !== 429) throw error;
      }
      onReconnect();
      await sleep(Math.min(250 * 2 ** attempt, 5000), signal);
    }
  }

  /** A streamed chat completion; `onDelta` gets each piece of the answer as it arrives. */
  async chat(
    model: string,
    messages: { role: string; content: string }[],
    onDelta: (text: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const response = await this.request('/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ model, messages, stream: true }),
      signal,
    });
    await readEventStream(response, (message) => {
      if (message.data === '[DONE]') return;
      const chunk = JSON.parse(message.data) as { choices: { delta: { content?: string | null } }[] };
      const text = chunk.choices[0]?.delta.content;
      if (text) onDelta(text);
    });
  }

  private async all<T extends { id: string }>(page: (after?: string) => Promise<Page<T>>): Promise<T[]> {
    const items: T[] = [];
    let after: string | undefined;
    for (;;) {
      const { data, has_more } = await page(after);
      items.push(...data);
      if (!has_more || data.length === 0) return items;
      after = data.at(-1)!.id;
    }
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const { error } = JSON.parse(text) as { error: { message: string; param?: string | null } };
    return new ApiError(response.status, error.message, error.param ?? null);
  } catch {
    return new ApiError(response.status, `${response.status} ${response.statusText}: ${text.slice(0, 200)}`);
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
