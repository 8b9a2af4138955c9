/**
 * The dashboard's build: web/ → dist/web (index.html + hashed assets), which the emulator serves at `/`.
 * Everything is bundled (no CDN, no web fonts), so the page works offline.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // `npx vite --config web/vite.config.ts`: the page with hot reload, its API calls sent on to a running emulator.
  server: { proxy: { '/v1': process.env.TUNEKIT_EMULATOR_ORIGIN ?? 'http://127.0.0.1:4100' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // One small script and one stylesheet: no inline data URIs, so the page's CSP can forbid them.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
});
