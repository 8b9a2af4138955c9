/**
 * `Authorization: Bearer <key>` on every route but `/health`. Each key is its own project (store/projects.ts):
 * two test suites using different keys never see each other's objects.
 */
import { readFileSync } from 'node:fs';
import type { FastifyRequest } from 'fastify';
import { EmulatorError } from '../store/errors';
import { organizationIdForKey, projectIdForKey } from '../store/projects';

/** Who is calling: the project every stored row is scoped to, and the organization jobs name. */
export interface Caller {
  projectId: string;
  organizationId: string;
}

/** Callers of the keys seen lately: two SHA-256 digests per request were 3.5 % of the job listing's CPU. */
const callers = new Map<string, Caller>();
const MAX_CACHED_CALLERS = 1024;

export function callerForKey(key: string): Caller {
  let caller = callers.get(key);
  if (!caller) {
    caller = Object.freeze({ projectId: projectIdForKey(key), organizationId: organizationIdForKey(key) });
    // Oldest first out (a Map keeps insertion order), so a client cycling through keys cannot grow it.
    if (callers.size >= MAX_CACHED_CALLERS) callers.delete(callers.keys().next().value!);
    callers.set(key, caller);
  }
  return caller;
}

/** Reads an `--api-keys` file: one key per line; blank lines and `#` comments are skipped. */
export function readApiKeysFile(path: string): Set<string> {
  const keys = new Set<string>();
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const key = line.trim();
    if (key !== '' && !key.startsWith('#')) keys.add(key);
  }
  if (keys.size === 0) throw new Error(`--api-keys ${path}: the file lists no keys`);
  return keys;
}

const MISSING_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";

/** The caller of a request, or the 401 the hosted API sends (type `invalid_request_error`, code `invalid_api_key`). */
export function authenticate(request: FastifyRequest, allowedKeys: ReadonlySet<string> | null): Caller {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header.trim()) : null;
  const key = match?.[1];
  if (!key)
    throw new EmulatorError(401, MISSING_KEY_MESSAGE, null, 'invalid_api_key', 'invalid_request_error');
  if (allowedKeys && !allowedKeys.has(key)) {
    throw new EmulatorError(
      401,
      `Incorrect API key provided: ${redact(key)}.`,
      null,
      'invalid_api_key',
      'invalid_request_error',
    );
  }
  return callerForKey(key);
}

/** `sk-********wxyz`: enough to recognise the key, not enough to reuse it. */
function redact(key: string): string {
  return key.length <= 8 ? '*'.repeat(key.length) : `${key.slice(0, 3)}${'*'.repeat(8)}${key.slice(-4)}`;
}
