/**
 * The SDK client every command uses. The server is `TUNEKIT_BASE_URL`, else the local emulator's default address
 * (what `tunekit emulator` serves). `tunekit run` without `TUNEKIT_BASE_URL` starts an embedded emulator instead.
 * Without `TUNEKIT_API_KEY` a server on this machine (loopback address) gets the key `local`: the emulator accepts
 * any key, each its own project, so `run` and the other commands share the `local` project.
 */
import Tunekit, { DEFAULT_BASE_URL } from '../src/index';
import { note, UsageError } from './output';

export const LOCAL_API_KEY = 'local';

/** The embedded emulator's data folder (the same default as `tunekit emulator`). */
export const EMBEDDED_DATA_DIR = './.tunekit';

function apiKeyFor(baseURL: string | undefined): string {
  const key = process.env.TUNEKIT_API_KEY;
  if (key) return key;
  const host = baseURL === undefined ? '127.0.0.1' : URL.canParse(baseURL) ? new URL(baseURL).hostname : '';
  if (['127.0.0.1', 'localhost', '[::1]'].includes(host)) return LOCAL_API_KEY;
  throw new UsageError(`TUNEKIT_API_KEY is not set (needed for the server at ${baseURL})`);
}

export function serverURL(): string | undefined {
  return process.env.TUNEKIT_BASE_URL || undefined;
}

export function createClient(baseURL = serverURL()): Tunekit {
  return new Tunekit({ apiKey: apiKeyFor(baseURL), baseURL: baseURL ?? DEFAULT_BASE_URL });
}

export interface Connection {
  client: Tunekit;
  /** Whether the server is an emulator started by this process (it stops with `close`). */
  embedded: boolean;
  close(): Promise<void>;
}

/** The server named by TUNEKIT_BASE_URL, or an embedded emulator on ./.tunekit (any free port). */
export async function connect(): Promise<Connection> {
  const url = serverURL();
  if (url !== undefined) return { client: createClient(url), embedded: false, close: async () => {} };
  note(
    `Starting an embedded emulator (data folder ${EMBEDDED_DATA_DIR}; set TUNEKIT_BASE_URL to use a server)`,
  );
  // Loaded only here: the other commands never load the emulator (nor the engine).
  const { startEmulator } = await import('../emulator/main');
  const emulator = await startEmulator({ port: 0, dataDir: EMBEDDED_DATA_DIR });
  return {
    client: new Tunekit({ apiKey: process.env.TUNEKIT_API_KEY || LOCAL_API_KEY, baseURL: emulator.url }),
    embedded: true,
    close: () => emulator.close(),
  };
}
