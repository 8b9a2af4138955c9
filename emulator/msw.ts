/**
 * msw request handlers that send hosted fine-tuning traffic to a running tunekit emulator, so code that builds
 * `new OpenAI()` (or `new Together()`) with its default base URL runs unchanged in a test:
 *
 *   const server = setupServer(...emulatorHandlers(emu));  server.listen({ onUnhandledRequest: 'error' });
 *
 * `https://api.openai.com/v1/*` goes to the emulator's `/v1/*`; Together's hosts (`api.together.xyz`,
 * `api.together.ai`) `/v1/*` to its `/together/v1/*`, and redirects the emulator answers (Together's signed upload
 * URL) point back at the hosted name, so the client's next request comes through here too. Request and response
 * bodies are streamed through (uploads, SSE). A request on those hosts that the emulator has no route for never
 * reaches the network: it is answered with a 404 in OpenAI's error shape whose message names the route, and the
 * same line is written to stderr. `data:` URLs, which never reach a network (the openai SDK fetches `data:,` once to
 * probe its runtime), are let through, so `onUnhandledRequest: 'error'` can stay as it is. Published as
 * `@tunekit/emulator/msw` (msw 2 is a peer dependency).
 */
import { HttpResponse, http, passthrough, type RequestHandler } from 'msw';
import { fetch as undiciFetch } from 'undici';

/** What the handlers need of an emulator: `startEmulator()`'s result, or its base URL (`http://host:port/v1`). */
export type EmulatorTarget = { baseURL: string } | string;

/** A hosted API the handlers stand in for: requests under `origin + prefix` go to `target` on the emulator. */
export interface HostedRoute {
  origin: string;
  prefix: string;
  target: string;
}

export const HOSTED_ROUTES: readonly HostedRoute[] = [
  { origin: 'https://api.openai.com', prefix: '/v1', target: '/v1' },
  { origin: 'https://api.together.xyz', prefix: '/v1', target: '/together/v1' },
  { origin: 'https://api.together.ai', prefix: '/v1', target: '/together/v1' },
];

/** Headers that describe one connection, not the request: the forwarding connection sets its own. */
const HOP_BY_HOP = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect']);

/** The answer to a request the emulator does not serve: loud, naming the route, never sent on to the network. */
function unrouted(request: Request, emulatorOrigin: string): Response {
  const { pathname } = new URL(request.url);
  const message =
    `tunekit emulatorHandlers: ${request.method} ${request.url.split('?')[0]} has no route in the tunekit ` +
    `emulator at ${emulatorOrigin} (no ${request.method} ${pathname}); the request was not sent to the network`;
  console.error(message);
  return HttpResponse.json(
    { error: { message, type: 'invalid_request_error', param: null, code: 'unrouted_request' } },
    { status: 404 },
  );
}

/**
 * Gives `stream` a tee() that does not hang. msw clones every mocked response for its life-cycle events, and
 * Response.clone() tees the body; by the streams spec, cancelling one branch of a tee settles only once the other
 * branch is cancelled too, and msw's copy never is, so a client that stops reading early (the openai SDK cancels
 * the body at `[DONE]`) would wait forever. This tee shares like the spec's (a read on either branch pulls the next
 * chunk from the emulator, and each chunk goes to both), except that cancelling the first branch, the one the
 * caller reads, cancels the emulator's response at once and ends the copy with the same reason.
 */
function withLeadingTee(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  Object.defineProperty(stream, 'tee', { configurable: true, value: () => leadingTee(stream) });
  return stream;
}

function leadingTee(
  source: ReadableStream<Uint8Array>,
): [ReadableStream<Uint8Array>, ReadableStream<Uint8Array>] {
  const reader = source.getReader();
  const branches: { controller?: ReadableStreamDefaultController<Uint8Array>; open: boolean }[] = [
    { open: true },
    { open: true },
  ];
  let reading: Promise<void> | undefined;
  const pull = () => {
    reading ??= reader.read().then(
      ({ done, value }) => {
        reading = undefined;
        for (const branch of branches.filter((b) => b.open)) {
          if (done) {
            branch.open = false;
            branch.controller?.close();
          } else {
            branch.controller?.enqueue(value);
          }
        }
      },
      (error: unknown) => {
        reading = undefined;
        for (const branch of branches.filter((b) => b.open)) {
          branch.open = false;
          branch.controller?.error(error);
        }
      },
    );
    return reading;
  };
  const branch = (index: 0 | 1) =>
    new ReadableStream<Uint8Array>(
      {
        start(controller) {
          branches[index]!.controller = controller;
        },
        pull,
        cancel(reason) {
          const [lead, copy] = branches as [(typeof branches)[0], (typeof branches)[0]];
          branches[index]!.open = false;
          // The copy alone stopping leaves the caller reading.
          if (index === 1 && lead.open) return;
          if (copy.open) {
            copy.open = false;
            copy.controller?.error(reason ?? new Error('the response body was cancelled'));
          }
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  return [withLeadingTee(branch(0)), branch(1)];
}

/** Sends `request` to `target` on the emulator, streaming its body, and streams the answer back. */
async function forward(request: Request, target: URL): Promise<Response> {
  // Headers copied by name into a plain object: undici's Headers does not take every global Headers' entries.
  const headers: Record<string, string> = {};
  for (const [name, value] of request.headers) if (!HOP_BY_HOP.has(name)) headers[name] = value;
  const init: Record<string, unknown> = {
    method: request.method,
    headers,
    redirect: 'manual',
    signal: request.signal,
  };
  if (request.body) {
    init.body = request.body;
    init.duplex = 'half';
  }
  // undici's own fetch, which msw does not intercept; msw's bypass() would clone the request, keeping a copy of a
  // whole upload.
  const answer = (await undiciFetch(target, init)) as unknown as Response;
  const responseHeaders = new Headers();
  for (const [name, value] of answer.headers) {
    // fetch has already decoded a compressed body; the new body's length is its own.
    if (!HOP_BY_HOP.has(name) && name !== 'content-encoding' && name !== 'content-length') {
      responseHeaders.append(name, value);
    }
  }
  return new Response(answer.body ? withLeadingTee(answer.body) : null, {
    status: answer.status,
    statusText: answer.statusText,
    headers: responseHeaders,
  });
}

/** A redirect to the emulator's own `target` path is pointed back at the hosted name it stands in for. */
function hostedLocation(response: Response, route: HostedRoute, base: URL): void {
  const location = response.headers.get('location');
  if (location === null) return;
  const onEmulator = `${base.origin}${route.target}`;
  const absolute = new URL(location, `${onEmulator}/`).href;
  if (
    absolute === onEmulator ||
    absolute.startsWith(`${onEmulator}/`) ||
    absolute.startsWith(`${onEmulator}?`)
  ) {
    response.headers.set('location', `${route.origin}${route.prefix}${absolute.slice(onEmulator.length)}`);
  }
}

/** The emulator's 404 for a path it has no route for (as opposed to, say, no such file). */
async function unknownRoute(response: Response): Promise<{ unknown: boolean; response: Response }> {
  if (response.status !== 404) return { unknown: false, response };
  // A 404 body is a small JSON error: read whole, then handed on as it was.
  const bytes = await response.arrayBuffer();
  let code: unknown;
  try {
    code = (JSON.parse(new TextDecoder().decode(bytes)) as { error?: { code?: unknown } }).error?.code;
  } catch {
    code = undefined;
  }
  const again = new Response(bytes, {
    status: 404,
    statusText: response.statusText,
    headers: response.headers,
  });
  return { unknown: code === 'unknown_url', response: again };
}

/** Handlers for every hosted API in {@link HOSTED_ROUTES}, forwarding to `emulator`, and for `data:` URLs. */
export function emulatorHandlers(emulator: EmulatorTarget): RequestHandler[] {
  const base = new URL(typeof emulator === 'string' ? emulator : emulator.baseURL);
  const hosted = HOSTED_ROUTES.map((route) =>
    http.all(`${route.origin}/*`, async ({ request }) => {
      const url = new URL(request.url);
      if (url.pathname !== route.prefix && !url.pathname.startsWith(`${route.prefix}/`)) {
        return unrouted(request, base.origin);
      }
      const target = new URL(`${route.target}${url.pathname.slice(route.prefix.length)}${url.search}`, base);
      const { unknown, response } = await unknownRoute(await forward(request, target));
      if (unknown) return unrouted(request, base.origin);
      hostedLocation(response, route, base);
      return response;
    }),
  );
  return [
    ...hosted,
    http.all(
      ({ request }) => request.url.startsWith('data:'),
      () => passthrough(),
    ),
  ];
}
