/**
 * What a route handler gets: the parsed request (validated with the route table's zod schemas), the caller's
 * project, and the services it may call. Handlers parse nothing themselves and do no I/O but through these.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FineTuningJob } from '../contract/jobs';
import type { Model } from '../contract/models';
import type {
  OperationId,
  RouteBodyOf,
  RouteById,
  RouteHeaders,
  RouteParams,
  RouteQuery,
} from '../contract/routes';
import type { Caller } from '../http/auth';
import type { Store } from '../store/index';

/** Job state changes that need the worker (a running trainer must be told). */
export interface JobControl {
  /** A new job was stored: start validating it when a worker is free. */
  enqueue(jobId: string): void;
  cancel(projectId: string, jobId: string): FineTuningJob;
  pause(projectId: string, jobId: string): FineTuningJob;
  resume(projectId: string, jobId: string): FineTuningJob;
}

/** Base models the server can train: the built-in one, `--models-dir` folders and hosted-name stand-ins. */
export interface ModelCatalog {
  list(): Model[];
  /** The base model of this name, or undefined. */
  get(name: string): Model | undefined;
}

export interface Services {
  store: Store;
  jobs: JobControl;
  models: ModelCatalog;
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
