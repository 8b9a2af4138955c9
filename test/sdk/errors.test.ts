import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import {
  APIConnectionError,
  APIError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  InternalServerError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  TunekitError,
  UnprocessableEntityError,
} from '../../src/index';
import { BASE_URL, json, makeClient, useMswServer } from './helpers';

const server = useMswServer();
const URL = `${BASE_URL}/files/file-1`;

const cases = [
  [400, BadRequestError],
  [401, AuthenticationError],
  [403, PermissionDeniedError],
  [404, NotFoundError],
  [409, ConflictError],
  [418, APIError],
  [422, UnprocessableEntityError],
  [429, RateLimitError],
  [500, InternalServerError],
  [502, InternalServerError],
] as const;

describe('error class per status', () => {
  it.each(cases)(
    '%i becomes %o carrying status, headers, error body and request id',
    async (status, ErrorClass) => {
      const body = {
        error: {
          message: `No such File object: file-1`,
          type: 'invalid_request_error',
          param: 'id',
          code: 'nf',
        },
      };
      server.use(
        http.get(URL, () =>
          json(body, { status, headers: { 'x-request-id': `req_${status}`, 'x-should-retry': 'false' } }),
        ),
      );
      const err = await makeClient()
        .files.retrieve('file-1')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ErrorClass);
      expect(err).toBeInstanceOf(APIError);
      expect(err).toBeInstanceOf(TunekitError);
      const apiError = err as APIError;
      expect(apiError.constructor).toBe(ErrorClass);
      expect(apiError.status).toBe(status);
      expect(apiError.headers?.get('x-request-id')).toBe(`req_${status}`);
      expect(apiError.requestID).toBe(`req_${status}`);
      expect(apiError.error).toEqual(body.error);
      expect(apiError.code).toBe('nf');
      expect(apiError.param).toBe('id');
      expect(apiError.type).toBe('invalid_request_error');
      expect(apiError.message).toBe(`${status} No such File object: file-1`);
      expect(apiError.name).toBe(ErrorClass.name);
    },
  );
});

describe('error bodies', () => {
  it('uses the whole body when it has no error key', async () => {
    server.use(http.get(URL, () => json({ detail: 'nope' }, { status: 400 })));
    const err = (await makeClient()
      .files.retrieve('file-1')
      .catch((e: unknown) => e)) as APIError;
    expect(err.error).toEqual({ detail: 'nope' });
    expect(err.message).toBe('400 {"detail":"nope"}');
  });

  it('uses a non-JSON body as the message', async () => {
    server.use(http.get(URL, () => new HttpResponse('upstream exploded', { status: 400 })));
    const err = (await makeClient()
      .files.retrieve('file-1')
      .catch((e: unknown) => e)) as APIError;
    expect(err).toBeInstanceOf(BadRequestError);
    expect(err.message).toBe('400 upstream exploded');
  });

  it('says "status code (no body)" for an empty body', async () => {
    server.use(http.get(URL, () => new HttpResponse(null, { status: 404 })));
    const err = (await makeClient()
      .files.retrieve('file-1')
      .catch((e: unknown) => e)) as APIError;
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe('404 status code (no body)');
  });

  it('APIConnectionError is an APIError without a status', () => {
    const err = new APIConnectionError({ message: 'down' });
    expect(err).toBeInstanceOf(APIError);
    expect(err.status).toBeUndefined();
    expect(err.message).toBe('down');
  });
});
