import { Agent, type Dispatcher, EnvHttpProxyAgent, ProxyAgent } from 'undici';
import { readEnv } from './env';

/**
 * The undici dispatcher every request goes through: a keep-alive Agent, or a ProxyAgent when a `proxy`
 * option is given, or an EnvHttpProxyAgent (which honours NO_PROXY) when HTTPS_PROXY / HTTP_PROXY is set.
 *
 * The dispatcher is handed to `globalThis.fetch` as its `dispatcher` option rather than calling undici's own
 * `fetch`: Node 20's built-in fetch (undici 6) accepts an undici 7 dispatcher (test/sdk/internal/dispatcher.test.ts
 * checks a real request against node:http), and because the global is looked up at call time, msw's
 * interceptor, which replaces `globalThis.fetch`, still sees every request in tests.
 */
export function createDispatcher(proxy: string | undefined): Dispatcher {
  if (proxy) return new ProxyAgent(proxy);
  const envProxy =
    readEnv('HTTPS_PROXY') ?? readEnv('https_proxy') ?? readEnv('HTTP_PROXY') ?? readEnv('http_proxy');
  if (envProxy) return new EnvHttpProxyAgent();
  return new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 });
}
