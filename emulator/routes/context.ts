/**
 * What a route handler gets: the parsed request (validated with the route table's zod schemas), the caller's
 * project, and the services it may call. Handlers parse nothing themselves and do no I/O but through these.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {
  OperationId,
  RouteBodyOf,
  RouteById,
  RouteHeaders,
  RouteParams,
  RouteQuery,
} from '../contract/routes';
import type { GraderServices } from '../graders';
import type { Caller } from '../http/auth';
import type { InferenceClient } from '../serving/inference-client';
import type { Store } from '../store/index';
import type { ModelRegistry } from '../worker/models';
import type { Scheduler } from '../worker/scheduler';

/** What routes ask of the worker: job creation (with its synchronous checks) and state changes. */
export type JobControl = Pick<Scheduler, 'createJob' | 'cancel' | 'pause' | 'resume'>;

/** Generation (chat completions) and adapter merging, done by the inference child process. */
export type InferenceService = Pick<InferenceClient, 'chat' | 'merge'>;

/** Every model a project can use (built-in, `--models-dir`, hosted-name stand-ins, its fine-tuned models). */
export type ModelCatalog = Pick<ModelRegistry, 'list' | 'resolve' | 'trainingBase'>;

export interface Services {
  store: Store;
  jobs: JobControl;
  models: ModelCatalog;
  inference: InferenceService;
  /** What graders use for a project: the judge of model graders, and which models it may be. */
  graders: (projectId: string) => GraderServices;
  /** Largest accepted upload, in bytes. */
  maxUploadBytes: number;
  /** Interval between `: heartbeat` comments on live event streams. */
  heartbeatMs: number;
  version: string;
  /** Aborted when the server shuts down: live streams end. */
  shutdown: AbortSignal;
}

export interface RouteContext<Id extends OperationId> {
  caller: Caller;
  params: RouteParams<RouteById<Id>>;
  query: RouteQuery<RouteById<Id>>;
  headers: RouteHeaders<RouteById<Id>>;
  body: RouteBodyOf<RouteById<Id>>;
  request: FastifyRequest;
  reply: FastifyReply;
  services: Services;
}

/**
 * Returns the JSON body of a 200 answer, or the reply itself when the handler answered on its own (bytes,
 * an event stream).
 */
export type RouteHandler<Id extends OperationId> = (context: RouteContext<Id>) => unknown | Promise<unknown>;

export type RouteHandlers = { [Id in OperationId]: RouteHandler<Id> };
