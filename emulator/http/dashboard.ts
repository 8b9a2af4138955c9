/**
 * `GET /`: the dashboard (web/, built by Vite into dist/web), served as static files without auth — the page
 * asks for the key and sends it with every API call it makes. Only the built files are routes; any other path
 * stays the API's 404. Hashed assets are cached for good, index.html never; a content security policy keeps the
 * page to this origin (it fetches nothing from anywhere else).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { EmulatorError } from '../store/errors';

/** Where the built page is: beside the bundle (dist/cli.js → dist/web), or dist/web when run from source. */
const CANDIDATES = ['./web/', '../../dist/web/'];

export function dashboardDir(): string | null {
  for (const candidate of CANDIDATES) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return null;
}

const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'",
  "script-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export async function registerDashboard(app: FastifyInstance, dir = dashboardDir()): Promise<void> {
  if (!dir) {
    app.get('/', async () => {
      throw new EmulatorError(
        404,
        'The dashboard is not built: run `npm run build` (it builds web/ into dist/web).',
        null,
        'dashboard_not_built',
      );
    });
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    wildcard: false,
    index: 'index.html',
    decorateReply: false,
    cacheControl: false,
    setHeaders(res, path) {
      res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader(
        'cache-control',
        path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
}
