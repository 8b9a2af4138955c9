/**
 * The OpenAI error shape for every non-2xx answer, and the Fastify hooks that make sure nothing else is
 * ever sent: a global error handler (framework, multipart, zod and unexpected errors) and a 404 handler.
 * Reference §5 and §8.8–8.9 of shared/reference/openai-fine-tuning.md.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type ErrorBody, errorBodyFromZod } from '../contract/common';
import { EmulatorError, insufficientStorage, isOutOfSpace } from '../store/errors';

/** 400 for a request that is well-formed but asks for something invalid. */
export function badRequest(
  message: string,
  param: string | null = null,
  code: string | null = null,
): EmulatorError {
  return new EmulatorError(400, message, param, code);
}

/** 404 in the hosted API's words: `No such File object: file-…`. */
export function notFound(noun: string, id: string, param: string | null = 'id'): EmulatorError {
  return new EmulatorError(404, `No such ${noun} object: ${id}`, param, null);
}

/**
 * Deterministic errors sent with a status the SDKs retry (408, 409, 429, 5xx) carry `x-should-retry: false`
 * so a client does not repeat a request that can only fail the same way (reference §8.9).
 */
const RETRIED_STATUSES = new Set([408, 409, 429, 507]);

export function sendError(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  if (RETRIED_STATUSES.has(status)) reply.header('x-should-retry', 'false');
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

type ErrorType = 'invalid_request_error' | 'server_error';

function errorBody(
  message: string,
  type: ErrorType,
  param: string | null = null,
  code: string | null = null,
): ErrorBody {
  return { error: { message, type, param, code } };
}

/** The longest path parameter the router accepts (`ft:` model ids with a suffix and a checkpoint step run long). */
export const MAX_PARAM_LENGTH = 2048;

/**
 * Maps an error Fastify, its router, Node's HTTP parser or @fastify/multipart raised (bad JSON, body too large,
 * multipart limits, a malformed or too long URL…). Every code a request can trigger is listed in
 * test/emulator/server/framework-errors.test.ts, which sends each through the official SDK.
 */
function frameworkErrorBody(error: FastifyError, request: FastifyRequest): [number, ErrorBody] {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return [
        400,
        errorBody(
          `We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)`,
          'invalid_request_error',
          null,
          'invalid_json',
        ),
      ];
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return [
        413,
        errorBody(
          tooLargeMessage(error),
          'invalid_request_error',
          error.code === 'FST_REQ_FILE_TOO_LARGE' ? 'file' : null,
          'request_too_large',
        ),
      ];
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return [
        415,
        errorBody(
          `Unsupported Content-Type: ${request.headers['content-type'] ?? '(none)'}. Send application/json, or multipart/form-data for uploads.`,
          'invalid_request_error',
          null,
          'unsupported_media_type',
        ),
      ];
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return [400, errorBody('Content-Length does not match the body.', 'invalid_request_error')];
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return [400, errorBody(`Too many multipart parts: ${error.message}`, 'invalid_request_error')];
    case 'FST_PROTO_VIOLATION':
    case 'FST_INVALID_JSON_FIELD_ERROR':
    case 'FST_MP_PREMATURE_CLOSE':
      return [
        400,
        errorBody(
          `Malformed multipart/form-data body: ${error.message}.`,
          'invalid_request_error',
          null,
          'invalid_multipart',
        ),
      ];
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return [
        414,
        errorBody(
          `A path parameter of ${request.method} ${pathOf(request.raw.url).slice(0, 80)}… is longer than ${MAX_PARAM_LENGTH} characters.`,
          'invalid_request_error',
          null,
          'path_too_long',
        ),
      ];
    case 'FST_ERR_BAD_URL':
      return [
        400,
        errorBody(
          `Invalid URL (${request.method} ${pathOf(request.raw.url).slice(0, 200)}): a path segment is not valid percent-encoded UTF-8.`,
          'invalid_request_error',
          null,
          'invalid_url',
        ),
      ];
    default: {
      const status = error.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        return [status, errorBody(error.message, 'invalid_request_error')];
      }
      return [500, errorBody('The server had an error while processing your request.', 'server_error')];
    }
  }
}

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?')[0] ?? '/';
}

function tooLargeMessage(error: FastifyError): string {
  return error.code === 'FST_REQ_FILE_TOO_LARGE'
    ? 'The uploaded file is larger than this server accepts (--max-upload-bytes).'
    : 'The request body is larger than this server accepts.';
}

/**
 * Fastify's `frameworkErrors` option: errors its router raises before any route or hook runs (a path parameter
 * past {@link MAX_PARAM_LENGTH}, a malformed percent-encoding), answered like every other error.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  const [status, body] = frameworkErrorBody(error, request);
  sendError(reply, status, body);
}

/** What Node's HTTP parser refuses before Fastify sees a request: status and OpenAI error fields. */
function clientErrorAnswer(error: NodeJS.ErrnoException): [number, string, string] {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'The request headers are larger than this server accepts.', 'headers_too_large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return [408, 'The request was not received in time.', 'request_timeout'];
    case 'HPE_INVALID_METHOD':
      return [400, 'The request method is not a valid HTTP method.', 'invalid_request'];
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return [
        400,
        'The request has both Content-Length and Transfer-Encoding, or a bad one.',
        'invalid_request',
      ];
    default:
      return [400, 'The request is not valid HTTP/1.1.', 'invalid_request'];
  }
}

/**
 * Fastify's `clientErrorHandler` option: a request Node's HTTP parser refused (headers past the size limit, a
 * malformed request line or header, conflicting Content-Length/Transfer-Encoding, a timeout) gets OpenAI's error
 * shape and an `x-request-id` written on the raw socket, which is then closed (the stream cannot be resynchronised).
 */
export function clientErrorHandler(nextRequestId: () => string) {
  return (error: NodeJS.ErrnoException, socket: Duplex): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    if (socket.writable) {
      const [status, message, code] = clientErrorAnswer(error);
      const body = JSON.stringify(errorBody(message, 'invalid_request_error', null, code));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
          `content-type: application/json; charset=utf-8\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\n` +
          `x-request-id: ${nextRequestId()}\r\n` +
          (RETRIED_STATUSES.has(status) ? 'x-should-retry: false\r\n' : '') +
          `connection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };
}

/**
 * Installs the error and not-found handlers: every failure leaves in the OpenAI error shape. A write that found the
 * disk of `dataDir` full (a file, a blob, SQLite) is a 507 `insufficient_storage` naming that folder.
 */
export function installErrorHandlers(app: FastifyInstance, dataDir: string): void {
  app.setErrorHandler((error: FastifyError | EmulatorError | z.ZodError | Error, request, reply) => {
    if (error instanceof EmulatorError) return sendError(reply, error.status, error.toBody());
    if (error instanceof z.ZodError) return sendError(reply, 400, errorBodyFromZod(error));
    if (isOutOfSpace(error)) {
      request.log.error({ err: error }, 'disk full');
      return sendError(reply, 507, insufficientStorage(dataDir).toBody());
    }
    const [status, body] = frameworkErrorBody(error as FastifyError, request);
    if (status >= 500) request.log.error({ err: error }, 'unhandled error');
    return sendError(reply, status, body);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    return sendError(
      reply,
      404,
      errorBody(`Invalid URL (${request.method} ${path})`, 'invalid_request_error', null, 'unknown_url'),
    );
  });
}
