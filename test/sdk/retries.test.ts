import { HttpResponse, http } from 'msw';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { APIConnectionError, ConflictError, InternalServerError, RateLimitError } from '../../src/index';
import { job } from './fixtures';
import { BASE_URL, errorBody, json, makeClient, settleWithFakeTimers, useMswServer } from './helpers';

const server = useMswServer();
const JOB_URL = `${BASE_URL}/fine_tuning/jobs/ftjob-1`;

/** Answers `failures` times with `status` (and headers), then 200; counts attempts and their headers. */
function failThenSucceed(status: number, failures: number, headers: Record<string, string> = {}) {
  const attempts: Headers[] = [];
  server.use(
    http.get(JOB_URL, ({ request }) => {
      attempts.push(request.headers);
      if (attempts.length <= failures)
        return json(errorBody(`failure ${attempts.length}`), { status, headers });
      return json(job('ftjob-1'));
    }),
  );
  return attempts;
}

describe('which responses are retried', () => {
  it.each([408, 409, 429, 500, 503])('retries %i and then succeeds', async (status) => {
    const attempts = failThenSucceed(status, 2, { 'retry-after-ms': '0' });
    const result = await makeClient().fineTuning.jobs.retrieve('ftjob-1');
    expect(result.id).toBe('ftjob-1');
    expect(attempts).toHaveLength(3);
    expect(attempts.map((h) => h.get('x-tunekit-retry-count'))).toEqual(['0', '1', '2']);
  });

  it.each([400, 401, 403, 404, 422])('does not retry %i', async (status) => {
    const attempts = failThenSucceed(status, 5, { 'retry-after-ms': '0' });
    await expect(makeClient().fineTuning.jobs.retrieve('ftjob-1')).rejects.toMatchObject({ status });
    expect(attempts).toHaveLength(1);
  });

  it('gives up after maxRetries and throws the last error', async () => {
    const attempts = failThenSucceed(429, 10, { 'retry-after-ms': '0' });
    await expect(makeClient().fineTuning.jobs.retrieve('ftjob-1')).rejects.toBeInstanceOf(RateLimitError);
    expect(attempts).toHaveLength(3);
  });

  it('honours maxRetries per client and per request', async () => {
    const attempts = failThenSucceed(500, 10, { 'retry-after-ms': '0' });
    await expect(makeClient({ maxRetries: 4 }).fineTuning.jobs.retrieve('ftjob-1')).rejects.toBeInstanceOf(
      InternalServerError,
    );
    expect(attempts).toHaveLength(5);
    attempts.length = 0;
    await expect(
      makeClient({ maxRetries: 4 }).fineTuning.jobs.retrieve('ftjob-1', { maxRetries: 1 }),
    ).rejects.toBeInstanceOf(InternalServerError);
    expect(attempts).toHaveLength(2);
    attempts.length = 0;
    await expect(makeClient({ maxRetries: 0 }).fineTuning.jobs.retrieve('ftjob-1')).rejects.toBeInstanceOf(
      InternalServerError,
    );
    expect(attempts).toHaveLength(1);
  });

  it('x-should-retry: false stops a retry the status would allow', async () => {
    const attempts = failThenSucceed(409, 5, { 'x-should-retry': 'false', 'retry-after-ms': '0' });
    await expect(makeClient().fineTuning.jobs.retrieve('ftjob-1')).rejects.toBeInstanceOf(ConflictError);
    expect(attempts).toHaveLength(1);
  });

  it('x-should-retry: true retries a status that is not retried by default', async () => {
    const attempts = failThenSucceed(400, 1, { 'x-should-retry': 'true', 'retry-after-ms': '0' });
    await expect(makeClient().fineTuning.jobs.retrieve('ftjob-1')).resolves.toMatchObject({ id: 'ftjob-1' });
    expect(attempts).toHaveLength(2);
  });

  it('keeps the same Idempotency-Key across the retries of one POST', async () => {
    const keys: Array<string | null> = [];
    server.use(
      http.post(`${BASE_URL}/fine_tuning/jobs`, ({ request }) => {
        keys.push(request.headers.get('idempotency-key'));
        if (keys.length < 3)
          return json(errorBody('busy'), { status: 503, headers: { 'retry-after-ms': '0' } });
        return json(job());
      }),
    );
    await makeClient().fineTuning.jobs.create({ model: 'm', training_file: 'file-1' });
    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(/^tunekit-node-retry-/);
    expect(new Set(keys).size).toBe(1);
  });
});

describe('connection errors', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('retries a connection error and succeeds', async () => {
    let attempts = 0;
    server.use(
      http.get(JOB_URL, () => {
        attempts++;
        return attempts === 1 ? HttpResponse.error() : json(job('ftjob-1'));
      }),
    );
    const { value } = await settleWithFakeTimers(makeClient().fineTuning.jobs.retrieve('ftjob-1'));
    expect(value?.id).toBe('ftjob-1');
    expect(attempts).toBe(2);
  });

  it('throws APIConnectionError (with the cause) once retries are spent', async () => {
    let attempts = 0;
    server.use(
      http.get(JOB_URL, () => {
        attempts++;
        return HttpResponse.error();
      }),
    );
    const { error } = await settleWithFakeTimers(
      makeClient({ maxRetries: 1 }).fineTuning.jobs.retrieve('ftjob-1'),
    );
    expect(error).toBeInstanceOf(APIConnectionError);
    expect((error as APIConnectionError).message).toBe('Connection error.');
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(attempts).toBe(2);
  });
});

describe('retry delays', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  /** Fake-clock times (ms) at which each attempt reached the server. */
  function recordAttemptTimes(status: number, failures: number, headers: () => Record<string, string>) {
    const times: number[] = [];
    server.use(
      http.get(JOB_URL, () => {
        times.push(Date.now());
        if (times.length <= failures) return json(errorBody('retry me'), { status, headers: headers() });
        return json(job('ftjob-1'));
      }),
    );
    return times;
  }

  const gaps = (times: number[]) => times.slice(1).map((t, i) => t - (times[i] as number));

  it('backs off exponentially: 0.5 s, 1 s, 2 s, 4 s, 8 s, capped at 8 s (no jitter)', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const times = recordAttemptTimes(500, 6, () => ({}));
    const { value } = await settleWithFakeTimers(
      makeClient({ maxRetries: 6 }).fineTuning.jobs.retrieve('ftjob-1'),
    );
    expect(value?.id).toBe('ftjob-1');
    const waited = gaps(times);
    const expected = [500, 1000, 2000, 4000, 8000, 8000];
    expect(waited).toHaveLength(6);
    waited.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(expected[i] as number);
      expect(gap).toBeLessThan((expected[i] as number) + 20);
    });
  });

  it('subtracts up to 25% jitter from the backoff', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const times = recordAttemptTimes(503, 2, () => ({}));
    await settleWithFakeTimers(makeClient().fineTuning.jobs.retrieve('ftjob-1'));
    const [first, second] = gaps(times) as [number, number];
    expect(first).toBeGreaterThanOrEqual(375);
    expect(first).toBeLessThan(395);
    expect(second).toBeGreaterThanOrEqual(750);
    expect(second).toBeLessThan(770);
  });

  it('waits retry-after-ms when the server sends it', async () => {
    const times = recordAttemptTimes(429, 2, () => ({ 'retry-after-ms': '3000' }));
    await settleWithFakeTimers(makeClient().fineTuning.jobs.retrieve('ftjob-1'));
    for (const gap of gaps(times)) {
      expect(gap).toBeGreaterThanOrEqual(3000);
      expect(gap).toBeLessThan(3020);
    }
  });

  it('waits retry-after in seconds', async () => {
    const times = recordAttemptTimes(429, 1, () => ({ 'retry-after': '7' }));
    await settleWithFakeTimers(makeClient().fineTuning.jobs.retrieve('ftjob-1'));
    const [gap] = gaps(times) as [number];
    expect(gap).toBeGreaterThanOrEqual(7000);
    expect(gap).toBeLessThan(7020);
  });

  it('waits until a retry-after HTTP date', async () => {
    const times = recordAttemptTimes(503, 1, () => ({
      'retry-after': new Date(Date.now() + 12_000).toUTCString(),
    }));
    await settleWithFakeTimers(makeClient().fineTuning.jobs.retrieve('ftjob-1'));
    const [gap] = gaps(times) as [number];
    // HTTP dates have whole seconds, so the wait is 11-12 s.
    expect(gap).toBeGreaterThanOrEqual(11_000);
    expect(gap).toBeLessThan(12_020);
  });

  it('ignores a retry-after beyond 60 s and backs off instead', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const times = recordAttemptTimes(429, 1, () => ({ 'retry-after': '3600' }));
    await settleWithFakeTimers(makeClient().fineTuning.jobs.retrieve('ftjob-1'));
    const [gap] = gaps(times) as [number];
    expect(gap).toBeGreaterThanOrEqual(500);
    expect(gap).toBeLessThan(520);
  });

  it('prefers retry-after-ms over retry-after', async () => {
    const times = recordAttemptTimes(429, 1, () => ({ 'retry-after-ms': '1500', 'retry-after': '30' }));
    await settleWithFakeTimers(makeClient().fineTuning.jobs.retrieve('ftjob-1'));
    const [gap] = gaps(times) as [number];
    expect(gap).toBeGreaterThanOrEqual(1500);
    expect(gap).toBeLessThan(1520);
  });
});
