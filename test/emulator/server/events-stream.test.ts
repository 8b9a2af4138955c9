import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FineTuningJobEvent } from '../../../emulator/contract/jobs';
import { chatJsonl, startTestServer, TEST_MODEL, type TestServer, uploadFile } from './harness';
import { openStream } from './sse-client';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ heartbeatMs: 40 });
});
afterAll(async () => {
  await server.close();
});

const key = 'events-key';
const auth = { authorization: `Bearer ${key}` };

async function createJob(): Promise<string> {
  const file = await uploadFile(server, chatJsonl(10), { key });
  const response = await server.request('POST', '/v1/fine_tuning/jobs', {
    key,
    json: { model: TEST_MODEL, training_file: file.id },
  });
  return (response.body as { id: string }).id;
}

/** What the worker does while a job trains: events, then the terminal status with its last events. */
function runJob(jobId: string, steps: number) {
  const { store } = server;
  store.jobs.transition(jobId, {
    from: ['validating_files'],
    to: 'queued',
    events: [{ message: 'Files validated, moving job to queued state' }],
  });
  store.jobs.transition(jobId, {
    from: ['queued'],
    to: 'running',
    events: [{ message: 'Fine-tuning job started', data: null }],
  });
  for (let step = 1; step <= steps; step += 1) {
    store.events.append(jobId, {
      type: 'metrics',
      message: `Step ${step}/${steps}: training loss=${(2 / step).toFixed(2)}`,
      data: { step, train_loss: 2 / step, total_steps: steps },
    });
  }
}

function finishJob(jobId: string) {
  server.store.jobs.transition(jobId, {
    from: ['running'],
    to: 'succeeded',
    patch: { finished_at: Math.floor(Date.now() / 1000) },
    events: [{ message: 'The job has successfully completed' }],
  });
}

function parsed(messages: Array<{ data: string }>): FineTuningJobEvent[] {
  return messages.filter((m) => m.data !== '[DONE]').map((m) => JSON.parse(m.data) as FineTuningJobEvent);
}

describe('live job events', () => {
  it('sends recorded then new events oldest first with ids, heartbeats, and [DONE] once terminal', async () => {
    const jobId = await createJob();
    const url = `${server.baseURL}/fine_tuning/jobs/${jobId}/events`;
    const stream = await openStream(url, { ...auth, accept: 'text/event-stream' });
    await stream.waitForMessages(2);
    expect(parsed(stream.messages).map((e) => e.message)).toEqual([
      `Created fine-tuning job: ${jobId}`,
      expect.stringContaining('Validating training file'),
    ]);
    await stream.waitForComment();
    expect(stream.comments[0]).toBe('heartbeat');
    runJob(jobId, 3);
    await stream.waitForMessages(7);
    finishJob(jobId);
    await stream.ended;
    const events = parsed(stream.messages);
    expect(events.map((e) => e.message).slice(2)).toEqual([
      'Files validated, moving job to queued state',
      'Fine-tuning job started',
      'Step 1/3: training loss=2.00',
      'Step 2/3: training loss=1.00',
      'Step 3/3: training loss=0.67',
      'The job has successfully completed',
    ]);
    expect(stream.messages.at(-1)?.data).toBe('[DONE]');
    for (const message of stream.messages.slice(0, -1)) expect(message.id).toBe(JSON.parse(message.data).id);
    // The stream and the page agree: the page is newest first.
    const page = (await server.request('GET', `/v1/fine_tuning/jobs/${jobId}/events?limit=100`, { key }))
      .body as {
      data: FineTuningJobEvent[];
    };
    expect(page.data.map((e) => e.id)).toEqual(events.map((e) => e.id).reverse());
  });

  it('replays only what follows Last-Event-ID, and ends at once for a finished job', async () => {
    const jobId = await createJob();
    runJob(jobId, 2);
    finishJob(jobId);
    const url = `${server.baseURL}/fine_tuning/jobs/${jobId}/events?stream=true`;
    const full = await openStream(url, auth);
    await full.ended;
    const all = parsed(full.messages);
    expect(all).toHaveLength(7);
    const resumed = await openStream(url, { ...auth, 'last-event-id': all[3]!.id });
    await resumed.ended;
    expect(parsed(resumed.messages).map((e) => e.id)).toEqual(all.slice(4).map((e) => e.id));
    expect(resumed.messages.at(-1)?.data).toBe('[DONE]');
  });

  it('serves many subscribers of one job the same events', async () => {
    const jobId = await createJob();
    const url = `${server.baseURL}/fine_tuning/jobs/${jobId}/events`;
    const streams = await Promise.all(
      Array.from({ length: 5 }, () => openStream(url, { ...auth, accept: 'text/event-stream' })),
    );
    await Promise.all(streams.map((s) => s.waitForMessages(2)));
    runJob(jobId, 4);
    finishJob(jobId);
    await Promise.all(streams.map((s) => s.ended));
    const sequences = streams.map((s) => s.messages.map((m) => m.id ?? m.data).join(','));
    expect(new Set(sequences).size).toBe(1);
    expect(streams[0]!.messages).toHaveLength(10);
  });

  it('stops writing to a subscriber that went away', async () => {
    const jobId = await createJob();
    const url = `${server.baseURL}/fine_tuning/jobs/${jobId}/events`;
    const stream = await openStream(url, { ...auth, accept: 'text/event-stream' });
    await stream.waitForMessages(2);
    stream.close();
    await stream.ended;
    runJob(jobId, 2);
    finishJob(jobId);
    const job = (await server.request('GET', `/v1/fine_tuning/jobs/${jobId}`, { key })).body;
    expect(job).toMatchObject({ status: 'succeeded' });
  });

  it('answers a page for a plain request and 404 for an unknown job', async () => {
    const jobId = await createJob();
    const page = await server.request('GET', `/v1/fine_tuning/jobs/${jobId}/events?limit=1`, { key });
    expect(page.body).toMatchObject({ object: 'list', has_more: true });
    const missing = await server.request('GET', '/v1/fine_tuning/jobs/ftjob-missing/events?stream=true', {
      key,
    });
    expect(missing.status).toBe(404);
  });
});
