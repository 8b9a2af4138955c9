import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Tunekit } from '../../../src/index';

// No msw here: these requests go over real sockets to a node:http server on an ephemeral port, proving that
// Node 20's global fetch accepts undici 7 dispatchers.

let server: http.Server;
let baseURL: string;
const sockets = new Set<net.Socket>();
let connections = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id: 'file-1', object: 'file', path: req.url, auth: req.headers.authorization }));
  });
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => vi.unstubAllEnvs());

describe('undici dispatcher with the global fetch', () => {
  it('performs real requests through the default keep-alive Agent, reusing one connection', async () => {
    vi.stubEnv('HTTP_PROXY', '');
    vi.stubEnv('HTTPS_PROXY', '');
    const client = new Tunekit({ apiKey: 'k', baseURL });
    const before = connections;
    for (let i = 0; i < 3; i++) {
      const body = (await client.files.retrieve('file-1')) as unknown as { path: string; auth: string };
      expect(body.path).toBe('/v1/files/file-1');
      expect(body.auth).toBe('Bearer k');
      // Let undici mark the connection idle (it does so just after the body stream closes).
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(connections - before).toBe(1);
  });

  it('sends every request through a user-supplied dispatcher', async () => {
    const dispatched: string[] = [];
    class RecordingAgent extends Agent {
      override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
        dispatched.push(`${options.method} ${options.path}`);
        return super.dispatch(options, handler);
      }
    }
    const dispatcher = new RecordingAgent();
    const client = new Tunekit({ apiKey: 'k', baseURL, dispatcher });
    await client.models.retrieve('ft:tiny:org::abc');
    await client.files.delete('file-1');
    expect(dispatched).toEqual(['GET /v1/models/ft:tiny:org::abc', 'DELETE /v1/files/file-1']);
    await dispatcher.close();
  });
});

describe('proxies', () => {
  let proxy: http.Server;
  let proxyURL: string;
  const tunnels: string[] = [];

  beforeAll(async () => {
    // A minimal CONNECT proxy: records the tunnel target and pipes bytes both ways.
    proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req, clientSocket: net.Socket, head) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(port), host, () => {
        clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(clientSocket);
        clientSocket.pipe(upstream);
      });
      upstream.on('error', () => clientSocket.destroy());
      clientSocket.on('error', () => upstream.destroy());
      sockets.add(upstream);
      sockets.add(clientSocket);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyURL = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  });

  it('tunnels through the proxy option', async () => {
    tunnels.length = 0;
    const client = new Tunekit({ apiKey: 'k', baseURL, proxy: proxyURL });
    const body = (await client.files.retrieve('file-1')) as unknown as { path: string };
    expect(body.path).toBe('/v1/files/file-1');
    expect(tunnels).toEqual([new URL(baseURL).host]);
  });

  it('uses HTTP_PROXY from the environment', async () => {
    tunnels.length = 0;
    vi.stubEnv('HTTP_PROXY', proxyURL);
    vi.stubEnv('NO_PROXY', '');
    vi.stubEnv('no_proxy', '');
    const client = new Tunekit({ apiKey: 'k', baseURL });
    const body = (await client.files.retrieve('file-1')) as unknown as { path: string };
    expect(body.path).toBe('/v1/files/file-1');
    expect(tunnels).toEqual([new URL(baseURL).host]);
  });
});
