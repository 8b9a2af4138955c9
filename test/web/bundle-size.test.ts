/**
 * The dashboard's weight budget (issue 14): the scripts and stylesheets index.html loads, gzipped, ≤ 150 KB. It
 * reads the built files (`npm run build` writes dist/web), so it fails when the build is missing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { dashboardDir } from '../../emulator/http/dashboard';

const BUDGET_BYTES = 150 * 1024;

describe('dashboard bundle', () => {
  it('loads at most 150 KB of gzipped JS + CSS, all of it from the emulator', () => {
    const dir = dashboardDir();
    expect(dir, 'dist/web is missing: run `npm run build`').not.toBeNull();
    const html = readFileSync(join(dir!, 'index.html'), 'utf8');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((match) => match[1]!);
    expect(assets.some((asset) => asset.endsWith('.js'))).toBe(true);
    expect(assets.some((asset) => asset.endsWith('.css'))).toBe(true);
    // Only the page's own files: no CDN script or font.
    for (const asset of assets) expect(asset).toMatch(/^\/assets\//);
    const gzipped = assets.reduce((sum, asset) => sum + gzipSync(readFileSync(join(dir!, asset))).length, 0);
    console.log(`dashboard JS + CSS: ${(gzipped / 1024).toFixed(1)} KB gzipped (${assets.join(', ')})`);
    expect(gzipped).toBeLessThanOrEqual(BUDGET_BYTES);
  });
});
