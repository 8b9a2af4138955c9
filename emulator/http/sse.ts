/**
 * Server-sent events on a hijacked Fastify reply: `id:`/`data:` frames, `: heartbeat` comments, and the
 * `data: [DONE]` sentinel. The caller decides what to send; this module only speaks the wire format and
 * notices when the client goes away.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface EventStream {
  /** One event: `id: <id>` then `data: <json>`. */
  send(id: string, data: unknown): void;
  /** A comment line (`: text`), which clients ignore; keeps proxies and idle timers from closing the stream. */
  comment(text: string): void;
  /** Sends `data: [DONE]` and ends the response. */
  done(sentinel: string): void;
  /** Ends the response without a sentinel (server shutting down). */
  end(): void;
  readonly closed: boolean;
}

/**
 * Takes over the reply and writes the event-stream headers. `onClose` runs once, when the client
 * disconnects or the stream is ended from this side.
 */
export function openEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  onClose: () => void,
): EventStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': String(request.id),
  });
  res.flushHeaders();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    onClose();
  };
  res.on('close', close);
  res.on('error', close);
  const write = (text: string) => {
    if (!closed) res.write(text);
  };
  const finish = () => {
    if (closed) return;
    res.end();
    close();
  };
  return {
    send(id, data) {
      write(`id: ${id}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    comment(text) {
      write(`: ${text}\n\n`);
    },
    done(sentinel) {
      write(`data: ${sentinel}\n\n`);
      finish();
    },
    end: finish,
    get closed() {
      return closed;
    },
  };
}

/** Whether a request asks for the live stream: `Accept: text/event-stream` or `?stream=true`. */
export function wantsEventStream(request: FastifyRequest, streamParam: boolean | undefined): boolean {
  if (streamParam !== undefined) return streamParam;
  const accept = request.headers.accept;
  return typeof accept === 'string' && accept.toLowerCase().includes('text/event-stream');
}
