/** Each API key is its own project; ids derive from the key by SHA-256 so no key is ever stored. */
import { createHash } from 'node:crypto';

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `proj_` + the first 24 hex digits of sha256(key). */
export function projectIdForKey(apiKey: string): string {
  return `proj_${sha256Hex(apiKey).slice(0, 24)}`;
}

/** `org-` + the first 24 hex digits of sha256('org:' + key): the job's `organization_id`. */
export function organizationIdForKey(apiKey: string): string {
  return `org-${sha256Hex(`org:${apiKey}`).slice(0, 24)}`;
}
