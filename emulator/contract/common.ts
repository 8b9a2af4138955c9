/**
 * Shared pieces of the tunekit HTTP contract: id prefixes, the OpenAI error body, list envelopes,
 * paging query parameters and the helpers the server needs to turn a zod failure into that error body.
 *
 * Wire facts follow ../../../shared/reference/openai-fine-tuning.md (sections 2 and 5).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** Id prefixes, exactly as the hosted API spells them (note `ftckpt_` uses an underscore). */
export const ID_PREFIX = {
  file: 'file-',
  fineTuningJob: 'ftjob-',
  fineTuningJobEvent: 'ftevent-',
  fineTuningJobCheckpoint: 'ftckpt_',
  adapter: 'adapter-',
  chatCompletion: 'chatcmpl-',
  organization: 'org-',
  request: 'req_',
} as const;

export type IdKind = keyof typeof ID_PREFIX;

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random alphanumerics from the CSPRNG (rejection sampling keeps the distribution uniform). */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length)) {
      // 248 = 4 * 62: bytes above it would bias the first characters.
      if (byte < 248 && out.length < length) out += ID_ALPHABET[byte % 62];
    }
  }
  return out;
}

/** A new id of the given kind: prefix + 24 alphanumerics, like `ftjob-abc…`. */
export function newId(kind: IdKind): string {
  return ID_PREFIX[kind] + randomAlphanumeric(24);
}

/** A string id that must start with the prefix of `kind`. */
export function idSchema(kind: IdKind) {
  return z.string().startsWith(ID_PREFIX[kind], { message: `must start with "${ID_PREFIX[kind]}"` });
}

/** Unix time in whole seconds, as every timestamp of the API. */
export const UnixSecondsSchema = z.number().int().nonnegative();

export const ErrorBodySchema = z
  .object({
    error: z.object({
      message: z.string().describe('Human-readable description of what went wrong.'),
      type: z.string().describe('Error category, e.g. `invalid_request_error`, `authentication_error`.'),
      param: z.string().nullable().describe('The request parameter at fault (dotted path), or null.'),
      code: z.string().nullable().describe('Machine-readable code, e.g. `invalid_api_key`, or null.'),
    }),
  })
  .meta({
    id: 'ErrorBody',
    description: 'The error body of every non-2xx response, with all four keys present (null allowed).',
  });
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** Request headers of the POST routes that create or change state: a repeated key replays the first answer. */
export const IdempotencyHeadersSchema = z.object({
  'idempotency-key': z
    .string()
    .optional()
    .describe(
      'Makes retries safe: a request repeating a key already used on this route gets the first answer again ' +
        '(with `Idempotent-Replayed: true`); reusing it with a different body is a 400 ' +
        '(`idempotency_key_reused`). tunekit extension; the tunekit SDK sends one on every POST.',
    ),
});

/** Metadata map: at most 16 pairs, keys ≤ 64 characters, values ≤ 512 characters. */
export const MetadataSchema = z
  .record(z.string().min(1).max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, { message: 'metadata holds at most 16 key-value pairs' })
  .meta({
    id: 'Metadata',
    description:
      'Up to 16 key-value pairs attached to an object. Keys are at most 64 characters, values at most 512.',
  });
export type Metadata = z.infer<typeof MetadataSchema>;

/** `after` cursor of a list query: the id of the last item of the previous page. */
export const AfterParamSchema = z
  .string()
  .min(1)
  .describe('Cursor: the id of the last item of the previous page. Returns the items after it.');

/**
 * `limit` of a list query. Query strings carry text, so the number is coerced; it must be an
 * integer within [1, max]. The server applies `defaultLimit` when it is absent.
 */
export function limitParamSchema(max: number, defaultLimit: number) {
  return z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .meta({
      description: `Number of items to return, 1 to ${max}. Default ${defaultLimit}.`,
      default: defaultLimit,
    });
}

/** Default page sizes the server applies when `limit` is absent. */
export const DEFAULT_LIMIT = {
  files: 10000,
  fineTuningJobs: 20,
  fineTuningJobEvents: 20,
  fineTuningJobCheckpoints: 10,
  adapters: 20,
} as const;

/** A cursor list envelope `{object:"list", data, has_more}` (jobs, events). */
export function cursorListSchema<T extends z.ZodType>(item: T) {
  return z.object({
    object: z.literal('list'),
    data: z.array(item),
    has_more: z.boolean().describe('Whether another page follows; fetch it with `after` = the last id.'),
  });
}

/** The answer to a DELETE: `{id, object: <noun>, deleted}` (files, models, adapters). */
export function deletedSchema<const O extends string>(object: O) {
  return z.object({ id: z.string(), object: z.literal(object), deleted: z.boolean() });
}

/** A cursor list envelope that also names its first and last ids (files, checkpoints, adapters). */
export function cursorListWithIdsSchema<T extends z.ZodType>(item: T) {
  return z.object({
    object: z.literal('list'),
    data: z.array(item),
    first_id: z.string().nullable().describe('Id of the first item of `data`; null when `data` is empty.'),
    last_id: z.string().nullable().describe('Id of the last item of `data`; null when `data` is empty.'),
    has_more: z.boolean().describe('Whether another page follows; fetch it with `after` = `last_id`.'),
  });
}

/**
 * Fold bracketed query keys into nested objects, as the `qs` encoding of the official SDK sends them:
 * `metadata[team]=a` → `{ metadata: { team: 'a' } }`, and an empty `metadata=` → `{ metadata: null }`
 * (OpenAI's "items without metadata" filter). Other keys pass through unchanged. Objects a richer query
 * parser already built are kept.
 */
export function foldBracketQuery(query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    const match = /^([^[\]]+)\[([^[\]]*)\]$/.exec(key);
    if (!match) {
      if (!isPlainObject(out[key])) out[key] = value;
      continue;
    }
    const [, outer, inner] = match as unknown as [string, string, string];
    const target = isPlainObject(out[outer]) ? (out[outer] as Record<string, unknown>) : {};
    target[inner] = Array.isArray(value) ? value[value.length - 1] : value;
    out[outer] = target;
  }
  for (const [key, value] of Object.entries(out)) {
    if (value === '' && BRACKET_NULLABLE.has(key)) out[key] = null;
  }
  return out;
}

/** Query keys whose empty value means null (`metadata=` filters for jobs without metadata). */
const BRACKET_NULLABLE = new Set(['metadata']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The `param` of an error body for a zod issue path: `method.supervised.hyperparameters.n_epochs`,
 * `messages[1].content`. An unrecognized key names the key itself.
 */
export function issueParam(issue: z.core.$ZodIssue): string | null {
  const path = [...issue.path];
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) path.push(issue.keys[0] as string);
  let param = '';
  for (const segment of path) {
    if (typeof segment === 'number') param += `[${segment}]`;
    else param += param === '' ? String(segment) : `.${String(segment)}`;
  }
  return param === '' ? null : param;
}

/**
 * The 400 body for a failed request parse: the first issue, its message prefixed by the parameter it
 * concerns, `type: invalid_request_error`, `param` filled.
 */
export function errorBodyFromZod(error: z.ZodError): ErrorBody {
  const issue = error.issues[0];
  if (!issue) {
    return { error: { message: 'Invalid request.', type: 'invalid_request_error', param: null, code: null } };
  }
  const param = issueParam(issue);
  const message =
    issue.code === 'unrecognized_keys'
      ? `Unrecognized request argument supplied: ${issue.keys.join(', ')}`
      : param
        ? `Invalid value for '${param}': ${issue.message}`
        : `Invalid request: ${issue.message}`;
  return { error: { message, type: 'invalid_request_error', param, code: codeForIssue(issue) } };
}

function codeForIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return /received undefined$/.test(issue.message) ? 'missing_required_parameter' : 'invalid_type';
    case 'unrecognized_keys':
      return 'unknown_parameter';
    default:
      return 'invalid_value';
  }
}
