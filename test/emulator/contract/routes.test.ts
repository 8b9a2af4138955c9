import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type FineTuningJob,
  getRoute,
  type JobCreateParams,
  type JobListParams,
  type RouteBodyOf,
  type RouteById,
  type RouteOkJson,
  type RouteParams,
  type RouteQuery,
  routes,
  toFastifyPath,
} from '../../../emulator/contract';

/** Every route of issue 2, item 2, and the grader routes of issue 11. */
const EXPECTED = [
  'POST /v1/files',
  'GET /v1/files',
  'GET /v1/files/{file_id}',
  'DELETE /v1/files/{file_id}',
  'GET /v1/files/{file_id}/content',
  'POST /v1/fine_tuning/jobs',
  'GET /v1/fine_tuning/jobs',
  'GET /v1/fine_tuning/jobs/{fine_tuning_job_id}',
  'POST /v1/fine_tuning/jobs/{fine_tuning_job_id}/cancel',
  'POST /v1/fine_tuning/jobs/{fine_tuning_job_id}/pause',
  'POST /v1/fine_tuning/jobs/{fine_tuning_job_id}/resume',
  'GET /v1/fine_tuning/jobs/{fine_tuning_job_id}/events',
  'GET /v1/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints',
  'POST /v1/fine_tuning/alpha/graders/run',
  'POST /v1/fine_tuning/alpha/graders/validate',
  'GET /v1/models',
  'GET /v1/models/{model}',
  'DELETE /v1/models/{model}',
  'POST /v1/chat/completions',
  'GET /v1/adapters',
  'GET /v1/adapters/{adapter_id}',
  'GET /v1/adapters/{adapter_id}/content',
  'DELETE /v1/adapters/{adapter_id}',
  'GET /health',
];

describe('route table', () => {
  const keys = routes.map((route) => `${route.method.toUpperCase()} ${route.path}`);

  it('covers every route of the issue exactly once', () => {
    expect([...keys].sort()).toEqual([...EXPECTED].sort());
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('gives every route a unique operationId and SDK method', () => {
    const ids = routes.map((route) => route.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const sdkMethods = routes.flatMap((route) => (route.sdkMethod ? [route.sdkMethod] : []));
    expect(new Set(sdkMethods).size).toBe(sdkMethods.length);
    expect(sdkMethods).toHaveLength(routes.length - 1); // all but /health
  });

  it('declares exactly the path parameters its path names', () => {
    for (const route of routes) {
      const inPath = [...route.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
      const declared = 'params' in route ? Object.keys(route.params.shape) : [];
      expect(declared, route.operationId).toEqual(inPath);
    }
  });

  it('requires auth everywhere but /health, and documents the matching error responses', () => {
    for (const route of routes) {
      const statuses = Object.keys(route.responses).map(Number);
      expect(route.auth, route.operationId).toBe(route.path !== '/health');
      expect(statuses.includes(401), route.operationId).toBe(route.auth);
      if ('params' in route) expect(statuses, route.operationId).toContain(404);
      if ('query' in route || 'body' in route) expect(statuses, route.operationId).toContain(400);
      expect(statuses, route.operationId).toContain(200);
    }
  });

  it('streams events and chat completions as text/event-stream besides JSON', () => {
    for (const id of ['listFineTuningJobEvents', 'createChatCompletion'] as const) {
      const kinds = getRoute(id).responses[200].content.map((content) => content.kind);
      expect(kinds).toEqual(['json', 'event-stream']);
    }
    expect(getRoute('downloadAdapter').responses[200].content).toEqual([
      { kind: 'binary', contentType: 'application/x-tar' },
    ]);
  });

  it('finds routes by operationId and converts paths for Fastify', () => {
    expect(getRoute('retrieveFile').path).toBe('/v1/files/{file_id}');
    expect(toFastifyPath('/v1/fine_tuning/jobs/{fine_tuning_job_id}/events')).toBe(
      '/v1/fine_tuning/jobs/:fine_tuning_job_id/events',
    );
  });

  it('types params, query, body and response per route', () => {
    expectTypeOf<RouteBodyOf<RouteById<'createFineTuningJob'>>>().toEqualTypeOf<JobCreateParams>();
    expectTypeOf<RouteQuery<RouteById<'listFineTuningJobs'>>>().toEqualTypeOf<JobListParams>();
    expectTypeOf<RouteParams<RouteById<'cancelFineTuningJob'>>>().toEqualTypeOf<{
      fine_tuning_job_id: string;
    }>();
    expectTypeOf<RouteOkJson<RouteById<'retrieveFineTuningJob'>>>().toEqualTypeOf<FineTuningJob>();
    expectTypeOf<RouteBodyOf<RouteById<'listModels'>>>().toEqualTypeOf<undefined>();
  });
});
