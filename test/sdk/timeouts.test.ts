import { delay, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { APIConnectionTimeoutError, APIUserAbortError } from '../../src/index';
import { job } from './fixtures';
import { BASE_URL, json, makeClient, useMswServer } from './helpers';

const server = useMswServer();
const JOB_URL = `${BASE_URL}/fine_tuning/jobs/ftjob-1`;

describe('timeouts', () => {
  it('throws APIConnectionTimeoutError when no response arrives within the timeout', async () => {
    let attempts = 0;
    server.use(
      http.get(JOB_URL, async () => {
        attempts++;
        await delay('infinite');
        return json(job());
      }),
    );
    const err = await makeClient({ timeout: 50, maxRetries: 0 })
      .fineTuning.jobs.retrieve('ftjob-1')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    expect((err as Error).message).toBe('Request timed out.');
    expect(attempts).toBe(1);
  });

  it('retries a timed-out attempt, and a per-request timeout overrides the client one', async () => {
    let attempts = 0;
    const headers: Array<string | null> = [];
    server.use(
      http.get(JOB_URL, async ({ request }) => {
        attempts++;
        headers.push(request.headers.get('x-tunekit-timeout'));
        if (attempts === 1) await delay('infinite');
        return json(job('ftjob-1'));
      }),
    );
    const result = await makeClient({ timeout: 600_000, maxRetries: 1 }).fineTuning.jobs.retrieve('ftjob-1', {
      timeout: 50,
    });
    expect(result.id).toBe('ftjob-1');
    expect(attempts).toBe(2);
    expect(headers[0]).toBe('0');
  });
});

describe('abort signal', () => {
  it('throws APIUserAbortError when the signal aborts an in-flight request, without retrying', async () => {
    let attempts = 0;
    server.use(
      http.get(JOB_URL, async () => {
        attempts++;
        await delay('infinite');
        return json(job());
      }),
    );
    const controller = new AbortController();
    const pending = makeClient().fineTuning.jobs.retrieve('ftjob-1', { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toBeInstanceOf(APIUserAbortError);
    expect(attempts).toBe(1);
  });

  it('throws APIUserAbortError at once for an already aborted signal', async () => {
    let attempts = 0;
    server.use(
      http.get(JOB_URL, () => {
        attempts++;
        return json(job());
      }),
    );
    await expect(
      makeClient().fineTuning.jobs.retrieve('ftjob-1', { signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(APIUserAbortError);
    expect(attempts).toBe(0);
  });

  it('aborting during a retry wait stops the retries', async () => {
    let attempts = 0;
    server.use(
      http.get(JOB_URL, () => {
        attempts++;
        return json({ error: { message: 'busy' } }, { status: 503, headers: { 'retry-after-ms': '60000' } });
      }),
    );
    const controller = new AbortController();
    const pending = makeClient().fineTuning.jobs.retrieve('ftjob-1', { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toBeInstanceOf(APIUserAbortError);
    expect(attempts).toBe(1);
  });
});
