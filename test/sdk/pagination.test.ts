import { http } from 'msw';
import { describe, expect, it } from 'vitest';
import { CursorPage, type FineTuningJob, TunekitError } from '../../src/index';
import { job } from './fixtures';
import { BASE_URL, json, makeClient, useMswServer } from './helpers';

const server = useMswServer();

/** Three pages of jobs: j1,j2 → j3,j4 → j5; records each request's query. */
function threePages() {
  const queries: Array<Record<string, string>> = [];
  const pages: Record<string, { data: FineTuningJob[]; has_more: boolean }> = {
    '': { data: [job('ftjob-1'), job('ftjob-2')], has_more: true },
    'ftjob-2': { data: [job('ftjob-3'), job('ftjob-4')], has_more: true },
    'ftjob-4': { data: [job('ftjob-5')], has_more: false },
  };
  server.use(
    http.get(`${BASE_URL}/fine_tuning/jobs`, ({ request }) => {
      const params = Object.fromEntries(new URL(request.url).searchParams);
      queries.push(params);
      const page = pages[params.after ?? ''];
      return json({ object: 'list', ...page });
    }),
  );
  return queries;
}

describe('cursor pagination', () => {
  it('for await walks every item of three pages, sending the after cursor and keeping the query', async () => {
    const queries = threePages();
    const ids: string[] = [];
    for await (const item of makeClient().fineTuning.jobs.list({ limit: 2, metadata: { team: 'nlp' } })) {
      ids.push(item.id);
    }
    expect(ids).toEqual(['ftjob-1', 'ftjob-2', 'ftjob-3', 'ftjob-4', 'ftjob-5']);
    expect(queries).toEqual([
      { limit: '2', 'metadata[team]': 'nlp' },
      { limit: '2', 'metadata[team]': 'nlp', after: 'ftjob-2' },
      { limit: '2', 'metadata[team]': 'nlp', after: 'ftjob-4' },
    ]);
  });

  it('awaiting gives the first page; hasNextPage/getNextPage step through the rest', async () => {
    const queries = threePages();
    const first = await makeClient().fineTuning.jobs.list({ limit: 2 });
    expect(first).toBeInstanceOf(CursorPage);
    expect(first.data.map((j) => j.id)).toEqual(['ftjob-1', 'ftjob-2']);
    expect(first.has_more).toBe(true);
    expect(first.hasNextPage()).toBe(true);
    const second = await first.getNextPage();
    expect(second.data.map((j) => j.id)).toEqual(['ftjob-3', 'ftjob-4']);
    const third = await second.getNextPage();
    expect(third.data.map((j) => j.id)).toEqual(['ftjob-5']);
    expect(third.hasNextPage()).toBe(false);
    await expect(third.getNextPage()).rejects.toBeInstanceOf(TunekitError);
    expect(queries.map((q) => q.after)).toEqual([undefined, 'ftjob-2', 'ftjob-4']);
  });

  it('iterPages yields each page once', async () => {
    threePages();
    const first = await makeClient().fineTuning.jobs.list({ limit: 2 });
    const sizes: number[] = [];
    for await (const page of first.iterPages()) sizes.push(page.data.length);
    expect(sizes).toEqual([2, 2, 1]);
  });

  it('stops when has_more is missing or the page is empty', async () => {
    let calls = 0;
    server.use(
      http.get(`${BASE_URL}/fine_tuning/jobs`, () => {
        calls++;
        return json({ object: 'list', data: [job('ftjob-1')] });
      }),
    );
    const ids: string[] = [];
    for await (const item of makeClient().fineTuning.jobs.list()) ids.push(item.id);
    expect(ids).toEqual(['ftjob-1']);
    expect(calls).toBe(1);
  });

  it('withResponse works on a list call', async () => {
    threePages();
    const { data, request_id } = await makeClient().fineTuning.jobs.list().withResponse();
    expect(data.data).toHaveLength(2);
    expect(request_id).toBe('req_test');
  });
});
