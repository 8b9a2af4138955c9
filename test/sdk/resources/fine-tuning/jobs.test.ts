import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import {
  APIConnectionError,
  APIUserAbortError,
  type FineTuningJobEvent,
  NotFoundError,
} from '../../../../src/index';
import { job, jobEvent } from '../../fixtures';
import { BASE_URL, json, makeClient, sseHeaders, sseStream, useMswServer } from '../../helpers';

const server = useMswServer();
const JOBS = `${BASE_URL}/fine_tuning/jobs`;

function sseEvent(event: FineTuningJobEvent): string {
  return `id: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`;
}

describe('fineTuning.jobs CRUD', () => {
  it('create: POST /fine_tuning/jobs with the JSON body', async () => {
    let body: unknown;
    server.use(
      http.post(JOBS, async ({ request }) => {
        body = await request.json();
        return json(job('ftjob-new', { status: 'validating_files' }));
      }),
    );
    const params = {
      model: 'tiny-llama',
      training_file: 'file-1',
      suffix: 'demo',
      seed: 7,
      method: {
        type: 'supervised' as const,
        supervised: {
          hyperparameters: { n_epochs: 2, learning_rate: 1e-4, lr_scheduler: 'cosine' as const },
        },
      },
      training_type: { type: 'lora' as const, r: 8, alpha: 16, target_modules: ['q_proj', 'v_proj'] },
      metadata: { team: 'nlp' },
      n_checkpoints: 2,
    };
    const created = await makeClient().fineTuning.jobs.create(params);
    expect(body).toEqual(params);
    expect(created.status).toBe('validating_files');
  });

  it('retrieve: GET /fine_tuning/jobs/{id}', async () => {
    server.use(http.get(`${JOBS}/:id`, ({ params }) => json(job(params.id as string))));
    expect((await makeClient().fineTuning.jobs.retrieve('ftjob-42')).id).toBe('ftjob-42');
  });

  it('list: GET /fine_tuning/jobs encodes after, limit and metadata[k]=v', async () => {
    let search = '';
    server.use(
      http.get(JOBS, ({ request }) => {
        search = new URL(request.url).search;
        return json({ object: 'list', data: [job()], has_more: false });
      }),
    );
    await makeClient().fineTuning.jobs.list({
      after: 'ftjob-0',
      limit: 3,
      metadata: { team: 'nlp', env: 'dev' },
    });
    expect(decodeURIComponent(search)).toBe('?after=ftjob-0&limit=3&metadata[team]=nlp&metadata[env]=dev');
  });

  it('list: metadata null is sent as an empty metadata= (jobs without metadata)', async () => {
    let search = '';
    server.use(
      http.get(JOBS, ({ request }) => {
        search = new URL(request.url).search;
        return json({ object: 'list', data: [], has_more: false });
      }),
    );
    await makeClient().fineTuning.jobs.list({ metadata: null });
    expect(search).toBe('?metadata=');
  });

  it.each(['cancel', 'pause', 'resume'] as const)(
    '%s: POST /fine_tuning/jobs/{id}/<action> with no body',
    async (action) => {
      let seen: { method: string; contentType: string | null; body: string; key: string | null } | undefined;
      server.use(
        http.post(`${JOBS}/:id/${action}`, async ({ request, params }) => {
          expect(params.id).toBe('ftjob-1');
          seen = {
            method: request.method,
            contentType: request.headers.get('content-type'),
            body: await request.text(),
            key: request.headers.get('idempotency-key'),
          };
          const status = { cancel: 'cancelled', pause: 'paused', resume: 'queued' } as const;
          return json(job('ftjob-1', { status: status[action] }));
        }),
      );
      const result = await makeClient().fineTuning.jobs[action]('ftjob-1');
      expect(seen).toMatchObject({ method: 'POST', contentType: null, body: '' });
      expect(seen?.key).toMatch(/^tunekit-node-retry-/);
      expect(result.status).toBe({ cancel: 'cancelled', pause: 'paused', resume: 'queued' }[action]);
    },
  );

  it('listEvents: GET /fine_tuning/jobs/{id}/events with after and limit, paging', async () => {
    const queries: Array<Record<string, string>> = [];
    server.use(
      http.get(`${JOBS}/:id/events`, ({ request }) => {
        const query = Object.fromEntries(new URL(request.url).searchParams);
        queries.push(query);
        if (query.after === 'ftevent-2')
          return json({ object: 'list', data: [jobEvent('ftevent-1')], has_more: false });
        return json({ object: 'list', data: [jobEvent('ftevent-3'), jobEvent('ftevent-2')], has_more: true });
      }),
    );
    const ids: string[] = [];
    for await (const e of makeClient().fineTuning.jobs.listEvents('ftjob-1', { limit: 2 })) ids.push(e.id);
    expect(ids).toEqual(['ftevent-3', 'ftevent-2', 'ftevent-1']);
    expect(queries).toEqual([{ limit: '2' }, { limit: '2', after: 'ftevent-2' }]);
  });
});

describe('fineTuning.jobs.streamEvents', () => {
  it('reconnects with Last-Event-ID after the connection drops and ends at [DONE]', async () => {
    const requests: Array<{ accept: string | null; lastEventId: string | null }> = [];
    server.use(
      http.get(`${JOBS}/:id/events`, ({ request }) => {
        requests.push({
          accept: request.headers.get('accept'),
          lastEventId: request.headers.get('last-event-id'),
        });
        if (requests.length === 1) {
          // Two events, then the connection ends without [DONE].
          const body = sseStream([
            'retry: 10\n\n',
            sseEvent(jobEvent('ftevent-1')),
            sseEvent(jobEvent('ftevent-2')),
          ]);
          return new HttpResponse(body, { headers: sseHeaders });
        }
        const body = sseStream([
          sseEvent(jobEvent('ftevent-3')),
          'data: [DONE]\n\n',
          sseEvent(jobEvent('ftevent-x')),
        ]);
        return new HttpResponse(body, { headers: sseHeaders });
      }),
    );
    const ids: string[] = [];
    for await (const event of makeClient().fineTuning.jobs.streamEvents('ftjob-1')) ids.push(event.id);
    expect(ids).toEqual(['ftevent-1', 'ftevent-2', 'ftevent-3']);
    expect(requests).toEqual([
      { accept: 'text/event-stream', lastEventId: null },
      { accept: 'text/event-stream', lastEventId: 'ftevent-2' },
    ]);
  });

  it('reconnects after a connection error mid-stream', async () => {
    const lastIds: Array<string | null> = [];
    server.use(
      http.get(`${JOBS}/:id/events`, ({ request }) => {
        lastIds.push(request.headers.get('last-event-id'));
        if (lastIds.length === 1) {
          return new HttpResponse(sseStream(['retry: 5\n\n', sseEvent(jobEvent('ftevent-1'))], 'error'), {
            headers: sseHeaders,
          });
        }
        return new HttpResponse(sseStream([sseEvent(jobEvent('ftevent-2')), 'data: [DONE]\n\n']), {
          headers: sseHeaders,
        });
      }),
    );
    const ids: string[] = [];
    for await (const event of makeClient().fineTuning.jobs.streamEvents('ftjob-1')) ids.push(event.id);
    expect(ids).toEqual(['ftevent-1', 'ftevent-2']);
    expect(lastIds).toEqual([null, 'ftevent-1']);
  });

  it('sends the lastEventId option on the first request', async () => {
    let lastId: string | null = null;
    server.use(
      http.get(`${JOBS}/:id/events`, ({ request }) => {
        lastId = request.headers.get('last-event-id');
        return new HttpResponse(sseStream(['data: [DONE]\n\n']), { headers: sseHeaders });
      }),
    );
    const ids: string[] = [];
    for await (const e of makeClient().fineTuning.jobs.streamEvents('ftjob-1', {
      lastEventId: 'ftevent-9',
    })) {
      ids.push(e.id);
    }
    expect(ids).toEqual([]);
    expect(lastId).toBe('ftevent-9');
  });

  it('gives up with APIConnectionError after maxReconnects drops in a row', async () => {
    let requests = 0;
    server.use(
      http.get(`${JOBS}/:id/events`, () => {
        requests++;
        return new HttpResponse(sseStream(['retry: 1\n\n']), { headers: sseHeaders });
      }),
    );
    const iterate = async () => {
      for await (const _ of makeClient().fineTuning.jobs.streamEvents('ftjob-1', { maxReconnects: 2 })) {
        // no events arrive
      }
    };
    await expect(iterate()).rejects.toBeInstanceOf(APIConnectionError);
    expect(requests).toBe(3);
  });

  it('throws the API error (no reconnect) when the job does not exist', async () => {
    let requests = 0;
    server.use(
      http.get(`${JOBS}/:id/events`, () => {
        requests++;
        return json({ error: { message: 'No such job' } }, { status: 404 });
      }),
    );
    const iterate = async () => {
      for await (const _ of makeClient().fineTuning.jobs.streamEvents('ftjob-missing')) {
        // none
      }
    };
    await expect(iterate()).rejects.toBeInstanceOf(NotFoundError);
    expect(requests).toBe(1);
  });

  it('stops with APIUserAbortError when the signal aborts', async () => {
    server.use(
      http.get(`${JOBS}/:id/events`, () => {
        const encoder = new TextEncoder();
        const body = new ReadableStream({
          start(controller) {
            controller.enqueue(encoder.encode(sseEvent(jobEvent('ftevent-1'))));
          },
        });
        return new HttpResponse(body, { headers: sseHeaders });
      }),
    );
    const controller = new AbortController();
    const ids: string[] = [];
    const iterate = async () => {
      for await (const e of makeClient().fineTuning.jobs.streamEvents('ftjob-1', {
        signal: controller.signal,
      })) {
        ids.push(e.id);
        controller.abort();
      }
    };
    await expect(iterate()).rejects.toBeInstanceOf(APIUserAbortError);
    expect(ids).toEqual(['ftevent-1']);
  });
});

describe('fineTuning.jobs.wait', () => {
  it('streams events to onEvent, then resolves with the finished job', async () => {
    server.use(
      http.get(
        `${JOBS}/:id/events`,
        () =>
          new HttpResponse(
            sseStream([
              sseEvent(jobEvent('ftevent-1', 'Fine-tuning job started')),
              sseEvent(jobEvent('ftevent-2', 'The job has successfully completed')),
              'data: [DONE]\n\n',
            ]),
            { headers: sseHeaders },
          ),
      ),
      http.get(`${JOBS}/:id`, () =>
        json(job('ftjob-1', { status: 'succeeded', fine_tuned_model: 'ft:tiny-llama:org::abc12345' })),
      ),
    );
    const messages: string[] = [];
    const finished = await makeClient().fineTuning.jobs.wait('ftjob-1', {
      onEvent: (e) => messages.push(e.message),
    });
    expect(messages).toEqual(['Fine-tuning job started', 'The job has successfully completed']);
    expect(finished.status).toBe('succeeded');
    expect(finished.fine_tuned_model).toBe('ft:tiny-llama:org::abc12345');
  });

  it('resolves (does not throw) with a failed job', async () => {
    server.use(
      http.get(
        `${JOBS}/:id/events`,
        () => new HttpResponse(sseStream(['data: [DONE]\n\n']), { headers: sseHeaders }),
      ),
      http.get(`${JOBS}/:id`, () =>
        json(
          job('ftjob-1', {
            status: 'failed',
            error: { code: 'invalid_n_examples', message: 'too few', param: 'training_file' },
          }),
        ),
      ),
    );
    const finished = await makeClient().fineTuning.jobs.wait('ftjob-1');
    expect(finished.status).toBe('failed');
    expect(finished.error?.code).toBe('invalid_n_examples');
  });

  it('polls the job every pollInterval when the server cannot stream events', async () => {
    let retrieves = 0;
    server.use(
      http.get(`${JOBS}/:id/events`, () => json({ object: 'list', data: [], has_more: false })),
      http.get(`${JOBS}/:id`, () => {
        retrieves++;
        return json(job('ftjob-1', { status: retrieves < 3 ? 'running' : 'cancelled' }));
      }),
    );
    const finished = await makeClient().fineTuning.jobs.wait('ftjob-1', { pollInterval: 5 });
    expect(finished.status).toBe('cancelled');
    expect(retrieves).toBe(3);
  });
});
