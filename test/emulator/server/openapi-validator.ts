/**
 * Checks HTTP responses against openapi.yaml (the published contract), with Ajv's JSON Schema 2020-12
 * validator: the status must be one the operation documents, and the body must match its schema. Tests route every
 * response they see through `checkResponse`.
 */
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

interface Operation {
  responses: Record<string, { content?: Record<string, unknown> }>;
}

type OpenApiDoc = { paths: Record<string, Record<string, Operation>> };

const doc = parse(readFileSync(new URL('../../../openapi.yaml', import.meta.url), 'utf8')) as OpenApiDoc;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
// zod marks `startsWith` checks with this format; the `pattern` next to it is what constrains the value.
ajv.addFormat('starts_with', true);
ajv.addSchema(doc as object, 'openapi');

const templates = Object.keys(doc.paths).map((template) => ({
  template,
  regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]*')}$`),
}));

function pointer(...segments: string[]): string {
  return segments.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

/** The path template of openapi.yaml that a request path matches, or undefined. */
export function findTemplate(method: string, rawPath: string): string | undefined {
  const m = method.toLowerCase();
  // The server ignores one trailing slash, and a static path wins over a parameterised one.
  const path = rawPath.length > 1 ? rawPath.replace(/\/$/, '') : rawPath;
  if (doc.paths[path]?.[m]) return path;
  return templates.find((t) => t.regex.test(path) && doc.paths[t.template]?.[m])?.template;
}

export class ContractViolation extends Error {}

/**
 * Validates one response. `path` is the request path without the query; `contentType` the response header.
 * JSON bodies are checked against the schema; event streams and binary bodies only by media type.
 */
export function checkResponse(
  method: string,
  path: string,
  status: number,
  contentType: string | null,
  body: unknown,
): void {
  const where = `${method.toUpperCase()} ${path} → ${status}`;
  const template = findTemplate(method, path);
  const isJson = contentType?.includes('application/json') ?? false;
  if (!template) {
    if (status !== 404 && status !== 401)
      throw new ContractViolation(`${where}: no such operation in openapi.yaml`);
    validate('#/components/schemas/ErrorBody', body, where, isJson);
    return;
  }
  const operation = doc.paths[template]![method.toLowerCase()]!;
  const response = operation.responses[String(status)];
  if (!response) throw new ContractViolation(`${where}: status not documented for ${template}`);
  const media = Object.keys(response.content ?? {});
  if (media.length === 0) {
    // A response documented without content (a redirect, a bare 200) carries no body.
    if (contentType !== null)
      throw new ContractViolation(`${where}: documented without content, sent ${contentType}`);
    return;
  }
  const mediaType = contentType?.split(';')[0]?.trim() ?? '';
  if (!media.includes(mediaType)) {
    throw new ContractViolation(`${where}: content-type ${contentType} is not one of ${media.join(', ')}`);
  }
  if (mediaType === 'application/json') {
    validate(
      `#${pointer('', 'paths', template, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema')}`,
      body,
      where,
      true,
    );
  }
}

function validate(ref: string, body: unknown, where: string, isJson: boolean): void {
  if (!isJson) throw new ContractViolation(`${where}: expected an application/json body`);
  const validator = ajv.getSchema(`openapi${ref}`);
  if (!validator) throw new ContractViolation(`${where}: no schema at ${ref}`);
  if (!validator(body)) {
    throw new ContractViolation(
      `${where}: body does not match openapi.yaml: ${ajv.errorsText(validator.errors)}\n${JSON.stringify(body).slice(0, 2000)}`,
    );
  }
}

/**
 * A `fetch` that checks every response it returns (on a clone, so callers read the body as usual). Event
 * streams are checked by media type only; their events are checked by the tests that read them.
 */
export function validatingFetch(inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const response = await inner(input, init);
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const contentType = response.headers.get('content-type');
    let body: unknown;
    if (contentType?.includes('application/json')) body = await response.clone().json();
    checkResponse(method, url.pathname, response.status, contentType, body);
    return response;
  };
}

/** Checks one event of a live stream against the event schema. */
export function checkStreamedEvent(event: unknown): void {
  validate('#/components/schemas/FineTuningJobEvent', event, 'SSE event', true);
}
