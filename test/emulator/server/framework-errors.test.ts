/**
 * Every error the HTTP stack can raise for a request — Fastify's router and body parsers, @fastify/multipart,
 * Node's HTTP parser — reaches the official `openai` SDK as an `APIError` of the right class with OpenAI's error
 * shape. The list of Fastify's and the multipart plugin's error codes is read from the libraries themselves, so a
 * new code after an upgrade fails here until it is either triggered below or explained as unreachable.
 */
import { connect } from 'node:net';
import { errorCodes } from 'fastify';
import OpenAI, { APIError, BadRequestError, NotFoundError, toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedFetch, startTestServer, type TestServer } from './harness';

const MAX_UPLOAD = 64 * 1024;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ maxUploadBytes: MAX_UPLOAD });
});
afterAll(async () => server?.close());

type Rewrite = (url: URL, init: RequestInit) => [URL, RequestInit];

/** The SDK over a fetch that changes the SDK's request into the hostile one (the response is the SDK's to parse). */
function sdk(rewrite?: Rewrite): OpenAI {
  const fetchImpl: typeof fetch = async (input, init = {}) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const [nextUrl, nextInit] = rewrite ? rewrite(url, { ...init }) : [url, init];
    return checkedFetch(nextUrl, nextInit);
  };
  return new OpenAI({ apiKey: 'framework-errors', baseURL: server.baseURL, fetch: fetchImpl, maxRetries: 0 });
}

/**
 * The SDK over a fetch that writes `bytes` on a raw socket instead of the SDK's request: for requests no fetch
 * implementation can send (a malformed request line, conflicting framing headers). The answer is parsed into a
 * `Response` for the SDK.
 */
function rawSdk(bytes: string): OpenAI {
  const fetchImpl = async () => {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(server.origin).port), '127.0.0.1', () => socket.write(bytes));
      let out = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk) => {
        out += chunk;
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(out));
    });
    const split = text.indexOf('\r\n\r\n');
    const [statusLine, ...headerLines] = text.slice(0, split).split('\r\n');
    const headers = new Headers(
      headerLines.map((line): [string, string] => [
        line.slice(0, line.indexOf(':')),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
    );
    return new Response(text.slice(split + 4), { status: Number(statusLine!.split(' ')[1]), headers });
  };
  return new OpenAI({
    apiKey: 'framework-errors',
    baseURL: server.baseURL,
    fetch: fetchImpl as typeof fetch,
    maxRetries: 0,
  });
}

function multipartBody(parts: string[]): [string, string] {
  const boundary = 'tunekit-boundary';
  return [
    `multipart/form-data; boundary=${boundary}`,
    `${parts.map((part) => `--${boundary}\r\n${part}\r\n`).join('')}--${boundary}--\r\n`,
  ];
}

const field = (name: string, value: string, type?: string) =>
  `Content-Disposition: form-data; name="${name}"${type ? `\r\nContent-Type: ${type}` : ''}\r\n\r\n${value}`;
const filePart = (name: string, body: string) =>
  `Content-Disposition: form-data; name="${name}"; filename="train.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n${body}`;

/** Sends an upload whose body and Content-Type are replaced. */
async function uploadRaw(contentType: string, body: string) {
  return sdk((url, init) => [
    url,
    { ...init, body, headers: { ...headersOf(init), 'content-type': contentType } },
  ]).files.create({ file: await toFile(Buffer.from('{}\n'), 'x.jsonl'), purpose: 'fine-tune' });
}

/** Sends an upload whose multipart body is replaced by `parts`. */
function uploadWith(parts: string[]) {
  return uploadRaw(...multipartBody(parts));
}

function headersOf(init: RequestInit): Record<string, string> {
  return Object.fromEntries(new Headers(init.headers).entries());
}

function createJobWith(change: Rewrite) {
  return sdk(change).fineTuning.jobs.create({ model: 'm', training_file: 'file-x' });
}

const auth = 'Authorization: Bearer framework-errors\r\n';

interface Case {
  /** What the request does wrong. */
  what: string;
  /** The library error codes this request triggers. */
  codes: string[];
  send: () => Promise<unknown>;
  status: number;
  errorClass: abstract new (...args: never[]) => APIError;
  code: string | null;
}

const CASES: Case[] = [
  {
    what: 'a path parameter longer than the router accepts',
    codes: ['FST_ERR_MAX_PARAM_LENGTH'],
    send: () => sdk().files.retrieve(`file-${'a'.repeat(3000)}`),
    status: 414,
    errorClass: APIError,
    code: 'path_too_long',
  },
  {
    what: 'a path segment that is not valid percent-encoded UTF-8',
    codes: ['FST_ERR_BAD_URL'],
    send: () =>
      sdk((url, init) => [new URL(url.href.replace(/file-x$/, '%E0%A4%A')), init]).files.retrieve('file-x'),
    status: 400,
    errorClass: BadRequestError,
    code: 'invalid_url',
  },
  {
    what: 'malformed JSON',
    codes: ['FST_ERR_CTP_INVALID_JSON_BODY'],
    send: () => createJobWith((url, init) => [url, { ...init, body: '{"model":' }]),
    status: 400,
    errorClass: BadRequestError,
    code: 'invalid_json',
  },
  {
    what: 'a JSON body larger than the body limit',
    codes: ['FST_ERR_CTP_BODY_TOO_LARGE'],
    send: () =>
      createJobWith((url, init) => [url, { ...init, body: `{"model":"${'m'.repeat(17 * 1024 * 1024)}"}` }]),
    status: 413,
    errorClass: APIError,
    code: 'request_too_large',
  },
  {
    what: 'a Content-Type header that does not parse',
    codes: ['FST_ERR_CTP_INVALID_MEDIA_TYPE'],
    send: () =>
      createJobWith((url, init) => [
        url,
        { ...init, headers: { ...headersOf(init), 'content-type': ';;;' } },
      ]),
    status: 415,
    errorClass: APIError,
    code: 'unsupported_media_type',
  },
  {
    what: 'a JSON route body in another media type',
    codes: [],
    send: () =>
      createJobWith((url, init) => [
        url,
        { ...init, headers: { ...headersOf(init), 'content-type': 'application/xml' } },
      ]),
    status: 415,
    errorClass: APIError,
    code: 'unsupported_media_type',
  },
  {
    what: 'an upload that is not multipart (the route checks before the plugin would raise its own 406)',
    codes: ['FST_INVALID_MULTIPART_CONTENT_TYPE'],
    send: () => uploadRaw('application/json', '{}'),
    status: 400,
    errorClass: BadRequestError,
    code: 'invalid_content_type',
  },
  {
    what: 'a multipart body without its boundary',
    codes: [],
    send: () => uploadRaw('multipart/form-data', 'hello'),
    status: 400,
    errorClass: BadRequestError,
    code: 'invalid_multipart',
  },
  {
    what: 'a multipart field named __proto__',
    codes: ['FST_PROTO_VIOLATION'],
    send: () => uploadWith([field('__proto__', 'x'), field('purpose', 'fine-tune')]),
    status: 400,
    errorClass: BadRequestError,
    code: 'invalid_multipart',
  },
  {
    what: 'more file parts than the upload takes',
    codes: ['FST_FILES_LIMIT'],
    send: () => uploadWith([field('purpose', 'fine-tune'), filePart('file', '{}'), filePart('file', '{}')]),
    status: 400,
    errorClass: BadRequestError,
    code: null,
  },
  {
    what: 'more fields than the upload takes',
    codes: ['FST_FIELDS_LIMIT'],
    send: () => uploadWith(Array.from({ length: 20 }, (_, i) => field(`f${i}`, 'x'))),
    status: 400,
    errorClass: BadRequestError,
    code: null,
  },
  {
    what: 'a file larger than --max-upload-bytes',
    codes: ['FST_REQ_FILE_TOO_LARGE'],
    send: () => uploadWith([field('purpose', 'fine-tune'), filePart('file', 'x'.repeat(MAX_UPLOAD + 1))]),
    status: 413,
    errorClass: APIError,
    code: 'request_too_large',
  },
  {
    what: 'an unknown path',
    codes: ['FST_ERR_NOT_FOUND'],
    send: () => sdk((_url, init) => [new URL(`${server.baseURL}/nothing-here`), init]).files.list(),
    status: 404,
    errorClass: NotFoundError,
    code: 'unknown_url',
  },
  {
    what: 'an unknown method on a known path (OpenAI answers these `404 Invalid URL` too)',
    codes: [],
    send: () => sdk((url, init) => [url, { ...init, method: 'PUT' }]).files.list(),
    status: 404,
    errorClass: NotFoundError,
    code: 'unknown_url',
  },
  {
    what: 'headers larger than the HTTP parser accepts',
    codes: ['HPE_HEADER_OVERFLOW'],
    send: () =>
      rawSdk(`GET /v1/files HTTP/1.1\r\nHost: x\r\n${auth}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`).files.list(),
    status: 431,
    errorClass: APIError,
    code: 'headers_too_large',
  },
  {
    what: 'a request line that is not HTTP',
    codes: ['HPE_INVALID_METHOD'],
    send: () => rawSdk('NOT HTTP AT ALL\r\n\r\n').files.list(),
    status: 400,
    errorClass: BadRequestError,
    code: 'invalid_request',
  },
  {
    what: 'Content-Length together with Transfer-Encoding: chunked',
    codes: ['HPE_INVALID_TRANSFER_ENCODING'],
    send: () =>
      rawSdk(
        `POST /v1/fine_tuning/jobs HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      ).files.list(),
    status: 400,
    errorClass: BadRequestError,
    code: 'invalid_request',
  },
];

/** Library error codes no request to this server can trigger, and why. */
const UNREACHABLE: Record<string, string> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the JSON parser is our own: an empty JSON body means "no body"',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH:
    "Node's parser frames bodies by Content-Length, so a mismatch needs a body-rewriting preParsing hook (none)",
  FST_ERR_VALIDATION: 'routes validate with zod (mapped to 400 with `param`), not Fastify schemas',
  FST_ERR_CTP_INSTANCE_ALREADY_STARTED: 'raised by addContentTypeParser after start, not by a request',
  FST_ERR_INVALID_URL: 'raised by route registration with a non-string URL',
  FST_ERR_ROUTE_MISSING_CONTENT: 'raised by a route declaration, not by a request',
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: 'raised by a route declaration, not by a request',
  FST_ERR_HANDLER_TIMEOUT: 'no route sets handlerTimeout',
  FST_PARTS_LIMIT: 'the fields (16) and files (1) limits are lower than parts (32), so they trip first',
  FST_MP_PREMATURE_CLOSE: 'the client closed the connection: no answer can reach it',
  FST_FILE_BUFFER_NOT_FOUND: 'raised only by saveRequestFiles, which no route uses',
  FST_NO_FORM_DATA: 'raised only by request.formData(), which no route uses',
  FST_INVALID_JSON_FIELD_ERROR: 'raised only with attachFieldsToBody, which no route uses',
};

describe('framework errors reach the official SDK in OpenAI error shape', () => {
  it('every 4xx code Fastify and @fastify/multipart define is triggered below or explained', () => {
    const fastifyCodes = Object.keys(errorCodes).filter((code) => {
      const status = new (errorCodes as unknown as Record<string, new () => { statusCode?: number }>)[code]!()
        .statusCode;
      return status !== undefined && status >= 400 && status < 500;
    });
    const multipartCodes = Object.values(
      (server.app as unknown as { multipartErrors: Record<string, new () => { code: string }> })
        .multipartErrors,
    ).map((ErrorClass) => new ErrorClass().code);
    const covered = new Set([...CASES.flatMap((c) => c.codes), ...Object.keys(UNREACHABLE)]);
    const missing = [...fastifyCodes, ...multipartCodes].filter((code) => !covered.has(code));
    expect(missing).toEqual([]);
    expect(fastifyCodes).toContain('FST_ERR_MAX_PARAM_LENGTH');
    expect(multipartCodes).toContain('FST_REQ_FILE_TOO_LARGE');
  });

  for (const c of CASES) {
    it(`${c.what} → ${c.status}${c.codes.length ? ` (${c.codes.join(', ')})` : ''}`, async () => {
      const error = await c.send().then(
        () => {
          throw new Error('the request succeeded');
        },
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(c.errorClass);
      const apiError = error as APIError;
      expect(apiError.status).toBe(c.status);
      expect(apiError.type).toBe('invalid_request_error');
      expect(apiError.code).toBe(c.code);
      expect(apiError.param === null || typeof apiError.param === 'string').toBe(true);
      const inner = apiError.error as { message?: unknown };
      expect(typeof inner.message).toBe('string');
      expect(apiError.message).toBe(`${c.status} ${inner.message as string}`);
      expect(apiError.requestID).toMatch(/^req_[0-9a-f]{32}$/);
      expect(JSON.stringify(apiError.error)).not.toMatch(/FST_|HPE_|"statusCode"/);
    });
  }
});
