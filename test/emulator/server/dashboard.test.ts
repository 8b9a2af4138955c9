/** `GET /` serves the built dashboard without auth; nothing else changes for the API's paths. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDashboard } from '../../../emulator/http/dashboard';
import { installErrorHandlers } from '../../../emulator/http/errors';

async function appServing(dir: string | null): Promise<FastifyInstance> {
  const app = Fastify();
  installErrorHandlers(app, tmpdir());
  await registerDashboard(app, dir);
  return app;
}

describe('dashboard route', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tunekit-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves index.html at / with no key, uncached, under a same-origin content security policy', async () => {
    const app = await appServing(dir);
    const page = await app.inject({ method: 'GET', url: '/?key=abc' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('<title>t</title>');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    const script = await app.inject({ method: 'GET', url: '/assets/index-abc.js' });
    expect(script.statusCode).toBe(200);
    expect(script.headers['cache-control']).toContain('immutable');
  });

  it('leaves every other path to the API: a missing file is the API’s 404 in its error shape', async () => {
    const app = await appServing(dir);
    const missing = await app.inject({ method: 'GET', url: '/assets/nope.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('unknown_url');
  });

  it('says how to build it when the dashboard was not built', async () => {
    const app = await appServing(null);
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(404);
    expect(page.json().error).toMatchObject({ code: 'dashboard_not_built', param: null });
    expect(page.json().error.message).toContain('npm run build');
  });
});
