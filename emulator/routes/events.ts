/**
 * Job events: a page (newest first), or a live text/event-stream when asked (`Accept: text/event-stream` or
 * `?stream=true`): recorded events after `Last-Event-ID` first, then each new one as it is committed, a
 * heartbeat comment every `heartbeatMs`, and `data: [DONE]` once the job is terminal.
 */
import { DEFAULT_LIMIT } from '../contract/common';
import { EVENT_STREAM_DONE, TERMINAL_JOB_STATUSES } from '../contract/jobs';
import { openEventStream, wantsEventStream } from '../http/sse';
import type { RouteContext, RouteHandler } from './context';
import { jobNotFound } from './jobs';

export const listFineTuningJobEvents: RouteHandler<'listFineTuningJobEvents'> = (context) => {
  const { caller, params, query, services, request } = context;
  const projectId = caller!.projectId;
  const jobId = params.fine_tuning_job_id;
  if (!services.store.jobs.get(projectId, jobId)) throw jobNotFound(jobId);
  if (wantsEventStream(request, query.stream)) return streamEvents(context);
  return {
    object: 'list',
    ...services.store.events.list(projectId, jobId, {
      after: query.after,
      limit: query.limit ?? DEFAULT_LIMIT.fineTuningJobEvents,
    }),
  };
};

function streamEvents({
  caller,
  params,
  headers,
  services,
  request,
  reply,
}: RouteContext<'listFineTuningJobEvents'>) {
  const { store } = services;
  const projectId = caller!.projectId;
  const jobId = params.fine_tuning_job_id;
  const lastEventId = headers['last-event-id'];
  let lastSeq = lastEventId ? (store.events.seqOf(jobId, lastEventId) ?? 0) : 0;

  const sendNewEvents = () => {
    for (const { seq, event } of store.events.since(jobId, lastSeq)) {
      stream.send(event.id, event);
      lastSeq = seq;
    }
  };
  // Store writes and this function are synchronous, so a flush sees a consistent state; a terminal status is
  // committed with its last events, which the second read catches.
  const flush = () => {
    if (stream.closed) return;
    sendNewEvents();
    const job = store.jobs.get(projectId, jobId);
    if (!job || TERMINAL_JOB_STATUSES.includes(job.status)) {
      sendNewEvents();
      stream.done(EVENT_STREAM_DONE);
    }
  };
  // A burst of updates (a step's metrics, a checkpoint, the final status) becomes one flush, run outside the
  // writer's call stack so the worker never waits on subscribers.
  let flushScheduled = false;
  const scheduleFlush = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      try {
        flush();
      } catch (error) {
        request.log.error({ err: error }, 'event stream ended by an error');
        stream.end();
      }
    });
  };
  let unsubscribe = () => {};
  let heartbeat: NodeJS.Timeout | undefined;
  const onShutdown = () => stream.end();
  const stream = openEventStream(request, reply, () => {
    unsubscribe();
    clearInterval(heartbeat);
    services.shutdown.removeEventListener('abort', onShutdown);
  });
  unsubscribe = store.subscribe(jobId, scheduleFlush);
  heartbeat = setInterval(() => {
    stream.comment('heartbeat');
    scheduleFlush();
  }, services.heartbeatMs);
  heartbeat.unref();
  services.shutdown.addEventListener('abort', onShutdown);
  flush();
  return reply;
}
