/**
 * Debian's Chromium driven by playwright-core (no browser download): where it is, and a fresh headless profile.
 * The browser tests skip, loudly, only when no Chromium binary exists (`.ci/run` installs one).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** `CHROMIUM_PATH`, or the first system Chromium found; null when there is none. */
export function chromiumPath(): string | null {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return fromEnv;
  return CANDIDATES.find((path) => existsSync(path)) ?? null;
}

export const NO_CHROMIUM_MESSAGE =
  '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' +
  '!! SKIPPING the dashboard browser tests: no Chromium binary found.\n' +
  '!! Install it (`apt-get install -y chromium`, as .ci/run does) or set CHROMIUM_PATH.\n' +
  '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n';

/** Flags that keep the browser to the page under test: no GPU, no QUIC, no background traffic of its own. */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  /** The window the browser opened with: the foreground page (a second one would paint in the background). */
  page: Page;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh `--user-data-dir`, removed on close. */
export async function launchChromium(
  executablePath: string,
  options: { width?: number; height?: number; downloadsPath?: string } = {},
): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'tunekit-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ARGS,
    chromiumSandbox: false,
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    acceptDownloads: true,
    ...(options.downloadsPath ? { downloadsPath: options.downloadsPath } : {}),
  });
  return {
    context,
    page: context.pages()[0] ?? (await context.newPage()),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
