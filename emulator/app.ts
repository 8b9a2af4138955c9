/**
 * Builds the emulator's HTTP server: one Fastify route per entry of the contract's route table, each request
 * parsed with the route's zod schemas, authenticated by key, made idempotent by `Idempotency-Key`, and handled
 * by emulator/routes. Every answer carries `x-request-id`; every failure leaves in OpenAI's error shape.
 */
import { createHash, randomFillSync } from 'node:crypto';
import multipart from '@fastify/multipart';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { z } from 'zod';
import { foldBracketQuery } from './contract/common';
import { type RouteDef, routes, toFastifyPath } from './contract/routes';
import { togetherRoutes } from './dialects/together/contract/routes';
import type { TogetherServices } from './dialects/together/routes/context';
import { togetherHandlers } from './dialects/together/routes/index';
import { SignedUploads } from './dialects/together/routes/signed-uploads';
import { authenticate, type Caller } from './http/auth';
import { registerDashboard } from './http/dashboard';
import {
  clientErrorHandler,
  frameworkErrors,
  installErrorHandlers,
  MAX_PARAM_LENGTH,
  sendError,
} from './http/errors';
import type { InferenceService, JobControl, ModelCatalog, RouteHandlers, Services } from './routes/context';
import { handlers } from './routes/index';
import { InferenceClient } from './serving/inference-client';
import { graderServices } from './serving/judge';
import { EmulatorError } from './store/errors';
import type { Store, StoredResponse } from './store/index';

export interface AppOptions {
  store: Store;
  jobs: JobControl;
  models: ModelCatalog;
  /** Generation; default: an inference child process of this app's own, started on the first chat request. */
  inference?: InferenceService;
  /** Only these keys are accepted; null or absent: any non-empty key, each its own project. */
  apiKeys?: ReadonlySet<string> | null;
  /** Largest accepted upload in bytes (default 8 GiB). */
  maxUploadBytes?: number;
  /** Interval between `: heartbeat` comments on live event streams (default 15 s). */
  heartbeatMs?: number;
  version?: string;
  /** How long a Together signed upload URL stays valid (default 15 minutes). */
  uploadUrlTtlMs?: number;
  /** Fastify's logger option (default: off). The CLI logs errors (a 5xx, a stream that failed) to stderr. */
  logger?: FastifyServerOptions['logger'];
}

export const DEFAULT_MAX_UPLOAD_BYTES = 8 * 1024 ** 3;
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** JSON bodies (job creation, chat messages) are small; uploads go through multipart, not this limit. */
const JSON_BODY_LIMIT = 16 * 1024 * 1024;
/** POST routes whose answer is replayed for a repeated `Idempotency-Key`. */
const IDEMPOTENT_OPERATIONS = new Set([
  'createFile',
  'createFineTuningJob',
  'cancelFineTuningJob',
  'pauseFineTuningJob',
  'resumeFineTuningJob',
]);

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
  interface FastifyContextConfig {
    /** The route's body kind (contract/routes.ts), read by the body parsers. */
    bodyKind?: string | undefined;
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const shutdown = new AbortController();
  const ownInference = options.inference ? undefined : new InferenceClient();
  const inference = options.inference ?? (ownInference as InferenceService);
  const services: Services = {
    store: options.store,
    jobs: options.jobs,
    models: options.models,
    inference,
    graders: (projectId) => graderServices(options.models, inference, projectId),
    maxUploadBytes: options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    version: options.version ?? '0.0.0',
    shutdown: shutdown.signal,
  };
  const app = Fastify({
    logger: options.logger ?? false,
    genReqId: nextRequestId,
    requestIdHeader: false,
    bodyLimit: JSON_BODY_LIMIT,
    // `ft:` model ids with a suffix and a checkpoint step run past find-my-way's default of 100.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH, ignoreTrailingSlash: true },
    forceCloseConnections: true,
    // Errors raised before a route runs (router, HTTP parser) leave in the OpenAI error shape too.
    frameworkErrors,
    clientErrorHandler: clientErrorHandler(nextRequestId),
  });
  app.decorateRequest('caller', null);
  // Callback-style hooks: an async hook costs a promise and a microtask turn on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  app.addHook('preClose', async () => shutdown.abort());
  if (ownInference) app.addHook('onClose', () => ownInference.close());
  installErrorHandlers(app, services.store.paths.root);
  installBodyParsers(app);
  await app.register(multipart, {
    limits: { fileSize: services.maxUploadBytes, files: 1, fields: 16, parts: 32, fieldSize: 64 * 1024 },
    throwFileSizeLimit: true,
  });
  const allowedKeys = options.apiKeys ?? null;
  for (const route of routes as readonly RouteDef[]) {
    const handler = (handlers as RouteHandlers)[route.operationId as keyof RouteHandlers];
    registerRoute(app, route, handler as (context: unknown) => unknown, services, allowedKeys);
  }
  // Together's dialect, under /together/v1: the same services plus its signed upload URLs.
  const togetherServices: TogetherServices = {
    ...services,
    uploads: new SignedUploads({ ttlMs: options.uploadUrlTtlMs }),
  };
  for (const route of togetherRoutes as readonly RouteDef[]) {
    const handler = togetherHandlers[route.operationId as keyof typeof togetherHandlers];
    registerRoute(app, route, handler as (context: unknown) => unknown, togetherServices, allowedKeys);
  }
  app.addHook('onClose', (_instance, done) => {
    togetherServices.uploads.close();
    done();
  });
  await registerDashboard(app);
  return app;
}

/**
 * Random bytes for request ids, drawn 256 ids at a time: one `randomBytes` call per request was 5 % of the job
 * listing's CPU.
 */
const REQUEST_ID_BYTES = 16;
const requestIdPool = Buffer.alloc(REQUEST_ID_BYTES * 256);
let requestIdOffset = requestIdPool.length;

/** `req_` and 32 random hex digits. */
function nextRequestId(): string {
  if (requestIdOffset === requestIdPool.length) {
    randomFillSync(requestIdPool);
    requestIdOffset = 0;
  }
  const start = requestIdOffset;
  requestIdOffset += REQUEST_ID_BYTES;
  return `req_${requestIdPool.toString('hex', start, requestIdOffset)}`;
}

/**
 * JSON bodies may be empty (body-less POSTs such as cancel still sent with `Content-Type: application/json`
 * by older SDKs). Any other media type is read and kept aside, so a route without a body ignores it and a
 * route with one answers 415.
 */
function installBodyParsers(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, text, done) => {
    const source = String(text);
    // An unknown route answers 404 whatever its body holds.
    if (source.trim() === '' || !isRouted(request)) return done(null, undefined);
    try {
      done(null, JSON.parse(source));
    } catch {
      const error = Object.assign(new Error('invalid JSON'), {
        code: 'FST_ERR_CTP_INVALID_JSON_BODY',
        statusCode: 400,
      });
      done(error, undefined);
    }
  });
  // Form bodies (Together's upload request) become an object of strings.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (request, text, done) => {
      if (routeBodyKind(request) !== 'form')
        return done(null, String(text) === '' ? undefined : new UnsupportedBody());
      done(null, Object.fromEntries(new URLSearchParams(String(text))));
    },
  );
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, buffer, done) => {
    done(null, (buffer as Buffer).length === 0 ? undefined : new UnsupportedBody());
  });
  // Raw bytes (Together's signed PUT) reach their route as the request stream, unbuffered; any other route
  // refuses them as before (415, or 413 past the JSON body limit).
  app.addContentTypeParser('application/octet-stream', (request, payload, done) => {
    if (routeBodyKind(request) === 'binary') return done(null, payload);
    let bytes = 0;
    payload.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    payload.on('error', (error) => done(error, undefined));
    payload.on('end', () => {
      if (bytes > JSON_BODY_LIMIT) {
        const error = Object.assign(new Error('Request body is too large'), {
          code: 'FST_ERR_CTP_BODY_TOO_LARGE',
          statusCode: 413,
        });
        return done(error, undefined);
      }
      done(null, bytes === 0 ? undefined : new UnsupportedBody());
    });
  });
}

/** The body kind of the route a request was routed to (from its route config), if any. */
function routeBodyKind(request: FastifyRequest): string | undefined {
  return (request.routeOptions.config as { bodyKind?: string } | undefined)?.bodyKind;
}

function isRouted(request: FastifyRequest): boolean {
  return request.routeOptions.url !== undefined;
}

/** A body in a media type no route reads. */
class UnsupportedBody {}

function registerRoute(
  app: FastifyInstance,
  route: RouteDef,
  handler: ((context: unknown) => unknown) | undefined,
  services: Services,
  allowedKeys: ReadonlySet<string> | null,
): void {
  if (!handler) throw new Error(`no handler for ${route.operationId}`);
  const idempotent = IDEMPOTENT_OPERATIONS.has(route.operationId);
  app.route({
    method: route.method.toUpperCase() as 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: toFastifyPath(route.path),
    config: { bodyKind: route.body?.kind },
    ...(route.auth
      ? {
          onRequest: (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
            try {
              request.caller = authenticate(request, allowedKeys);
            } catch (error) {
              return done(error as Error);
            }
            done();
          },
        }
      : {}),
    handler: async (request, reply) => {
      const context = {
        caller: request.caller,
        params: parse(route.params, request.params),
        query: parse(route.query, foldBracketQuery((request.query ?? {}) as Record<string, unknown>)),
        headers: parse(route.headers, request.headers),
        body: parseBody(route, request.body),
        request,
        reply,
        services,
      };
      const key = request.headers['idempotency-key'];
      if (!idempotent || typeof key !== 'string' || key === '' || !request.caller) {
        // A handler that sent the answer itself returns `reply`; awaiting it would wait for the response to end and
        // yield undefined, and sending that again made Fastify build a FST_ERR_REP_ALREADY_SENT error per request.
        const returned = handler(context);
        const result = returned === reply ? reply : await returned;
        return result === reply || reply.sent ? reply : reply.send(result);
      }
      const { response, replayed } = await services.store.idempotency.execute(
        {
          projectId: request.caller.projectId,
          key,
          route: `${route.method.toUpperCase()} ${request.url.split('?')[0]}`,
          fingerprint: fingerprint(route, request.body),
        },
        () => respondAsStored(() => handler(context)),
      );
      if (replayed) reply.header('idempotent-replayed', 'true');
      if (response.status >= 400) {
        return sendError(reply, response.status, response.body as Parameters<typeof sendError>[2]);
      }
      return reply.code(response.status).send(response.body);
    },
  });
}

/** Runs a handler and turns its result (or its 4xx error) into the response the idempotency store keeps. */
async function respondAsStored(run: () => unknown): Promise<StoredResponse> {
  try {
    return { status: 200, body: await run() };
  } catch (error) {
    if (error instanceof EmulatorError && error.status < 500)
      return { status: error.status, body: error.toBody() };
    throw error;
  }
}

/** What makes two requests with the same key "the same": their JSON body (uploads stream, so only their route). */
function fingerprint(route: RouteDef, body: unknown): string {
  if (route.body?.kind !== 'json') return route.body?.kind ?? 'none';
  return createHash('sha256')
    .update(JSON.stringify(body ?? null))
    .digest('hex');
}

function parse(schema: z.ZodType | undefined, value: unknown): unknown {
  return schema ? schema.parse(value ?? {}) : {};
}

function parseBody(route: RouteDef, body: unknown): unknown {
  const spec = route.body;
  if (!spec || spec.kind === 'multipart') return undefined;
  if (spec.kind === 'binary') return body; // the request stream
  if (body instanceof UnsupportedBody) {
    const mediaType = spec.kind === 'form' ? 'application/x-www-form-urlencoded' : 'application/json';
    throw new EmulatorError(
      415,
      `Unsupported Content-Type: send the body as ${mediaType}.`,
      null,
      'unsupported_media_type',
    );
  }
  if (body === undefined) {
    if (spec.kind === 'form' || spec.required) {
      throw new EmulatorError(400, 'This request needs a JSON body.', null, 'missing_required_parameter');
    }
    return spec.schema.parse({});
  }
  return spec.schema.parse(body);
}
