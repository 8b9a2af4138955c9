/** What a Together route handler gets: the OpenAI dialect's services plus the signed upload URLs. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RouteBodyOf, RouteHeaders, RouteParams, RouteQuery } from '../../../contract/routes';
import type { Caller } from '../../../http/auth';
import type { Services } from '../../../routes/context';
import type { TogetherOperationId, TogetherRouteById } from '../contract/routes';
import type { SignedUploads } from './signed-uploads';

export interface TogetherServices extends Services {
  uploads: SignedUploads;
}

export interface TogetherRouteContext<Id extends TogetherOperationId> {
  caller: Caller;
  params: RouteParams<TogetherRouteById<Id>>;
  query: RouteQuery<TogetherRouteById<Id>>;
  headers: RouteHeaders<TogetherRouteById<Id>>;
  body: RouteBodyOf<TogetherRouteById<Id>>;
  request: FastifyRequest;
  reply: FastifyReply;
  services: TogetherServices;
}

export type TogetherRouteHandler<Id extends TogetherOperationId> = (
  context: TogetherRouteContext<Id>,
) => unknown | Promise<unknown>;

export type TogetherRouteHandlers = { [Id in TogetherOperationId]: TogetherRouteHandler<Id> };
