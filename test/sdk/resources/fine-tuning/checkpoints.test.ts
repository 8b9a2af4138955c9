import { http } from 'msw';
import { describe, expect, it } from 'vitest';
import { checkpoint } from '../../fixtures';
import { BASE_URL, json, makeClient, useMswServer } from '../../helpers';

const server = useMswServer();

describe('fineTuning.jobs.checkpoints', () => {
  it('list: GET /fine_tuning/jobs/{id}/checkpoints with after and limit, paging on the last id', async () => {
    const queries: Array<Record<string, string>> = [];
    server.use(
      http.get(`${BASE_URL}/fine_tuning/jobs/:id/checkpoints`, ({ request, params }) => {
        expect(params.id).toBe('ftjob-1');
        const query = Object.fromEntries(new URL(request.url).searchParams);
        queries.push(query);
        if (query.after === 'ftckpt_b') {
          return json({
            object: 'list',
            data: [checkpoint('ftckpt_c', 10)],
            first_id: 'ftckpt_c',
            last_id: 'ftckpt_c',
            has_more: false,
          });
        }
        return json({
          object: 'list',
          data: [checkpoint('ftckpt_a', 30), checkpoint('ftckpt_b', 20)],
          first_id: 'ftckpt_a',
          last_id: 'ftckpt_b',
          has_more: true,
        });
      }),
    );
    const steps: number[] = [];
    for await (const c of makeClient().fineTuning.jobs.checkpoints.list('ftjob-1', {
      limit: 2,
      after: 'ftckpt_0',
    })) {
      steps.push(c.step_number);
    }
    expect(steps).toEqual([30, 20, 10]);
    expect(queries).toEqual([
      { limit: '2', after: 'ftckpt_0' },
      { limit: '2', after: 'ftckpt_b' },
    ]);
  });
});
