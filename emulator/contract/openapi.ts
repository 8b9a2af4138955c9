/**
 * Builds the OpenAPI 3.1 document from the route table. Every schema with a `.meta({ id })` becomes
 * `components/schemas/<id>` and is referenced by `$ref`; query, path and header parameters are expanded
 * from their zod objects. The output is deterministic: components sorted by name, paths in route-table
 * order, keys in a fixed order. scripts/gen-openapi.ts writes it to openapi.yaml.
 */
import { stringify } from 'yaml';
import { z } from 'zod';
import { togetherRoutes } from '../dialects/together/contract/routes';
import { type ResponseContent, type RouteDef, routes, TAGS } from './routes';

type Json = Record<string, unknown>;

const COMPONENT_PREFIX = '#/components/schemas/';
/** zod's bounds for `.int()` without explicit ones: noise in a document, dropped. */
const SAFE_INTEGER_BOUNDS = new Set([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);

/** Collects component schemas while converting route schemas, and rewrites their references. */
class SchemaConverter {
  readonly components = new Map<string, Json>();

  /** JSON Schema of `schema`, with every registered (id'd) schema moved to components and referenced. */
  convert(schema: z.ZodType): Json {
    const out = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io: 'input',
      metadata: z.globalRegistry,
      unrepresentable: 'throw',
    }) as Json;
    const defs = (out.$defs ?? {}) as Record<string, Json>;
    delete out.$defs;
    delete out.$schema;
    for (const [id, def] of Object.entries(defs)) {
      if (id.startsWith('__schema')) {
        throw new Error(
          `A schema without .meta({ id }) is used recursively or shared: ${JSON.stringify(def)}`,
        );
      }
      const cleaned = clean(def) as Json;
      const previous = this.components.get(id);
      if (previous && JSON.stringify(previous) !== JSON.stringify(cleaned)) {
        throw new Error(`Two different schemas share the component id "${id}"`);
      }
      this.components.set(id, cleaned);
    }
    return clean(out) as Json;
  }

  sortedComponents(): Json {
    const sorted: Json = {};
    for (const id of [...this.components.keys()].sort()) sorted[id] = this.components.get(id);
    return sorted;
  }
}

/** Rewrites `#/$defs/X` refs to components and drops zod's implicit safe-integer bounds. */
function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (typeof value !== 'object' || value === null) return value;
  const out: Json = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key === '$ref' && typeof inner === 'string' && inner.startsWith('#/$defs/')) {
      out.$ref = COMPONENT_PREFIX + inner.slice('#/$defs/'.length);
    } else if ((key === 'minimum' || key === 'maximum') && SAFE_INTEGER_BOUNDS.has(inner as number)) {
      // dropped
    } else {
      out[key] = clean(inner);
    }
  }
  return out;
}

/** The component a `$ref` schema points to, or the schema itself. */
function resolveComponent(converter: SchemaConverter, schema: Json): Json {
  const ref = schema.$ref;
  if (typeof ref !== 'string' || !ref.startsWith(COMPONENT_PREFIX)) return schema;
  const component = converter.components.get(ref.slice(COMPONENT_PREFIX.length));
  if (!component) throw new Error(`Unresolved component ${ref}`);
  return component;
}

function isObjectSchema(schema: Json): boolean {
  if (schema.type === 'object') return true;
  const branches = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  return branches?.some((branch) => branch.type === 'object') ?? false;
}

/** One OpenAPI parameter per property of a zod object. */
function parameters(
  converter: SchemaConverter,
  where: 'path' | 'query' | 'header',
  object: z.ZodObject,
): Json[] {
  const schema = converter.convert(object);
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    const parameter: Json = { name, in: where };
    if (description !== undefined) parameter.description = description;
    parameter.required = where === 'path' || required.has(name);
    if (where === 'query' && isObjectSchema(rest)) {
      // `metadata[k]=v`, as the official SDK's `qs` encoding sends nested objects.
      parameter.style = 'deepObject';
      parameter.explode = true;
    }
    parameter.schema = rest;
    return parameter;
  });
}

function requestBody(converter: SchemaConverter, route: RouteDef): Json | undefined {
  const body = route.body;
  if (!body) return undefined;
  if (body.kind === 'json') {
    return {
      required: body.required,
      content: { 'application/json': { schema: converter.convert(body.schema) } },
    };
  }
  if (body.kind === 'form') {
    return {
      required: true,
      content: { 'application/x-www-form-urlencoded': { schema: converter.convert(body.schema) } },
    };
  }
  if (body.kind === 'binary') {
    return {
      required: true,
      content: { [body.contentType]: { schema: { type: 'string', format: 'binary' } } },
    };
  }
  const schema = converter.convert(body.schema);
  const fields = (resolveComponent(converter, schema).properties ?? {}) as Record<string, Json>;
  const encoding: Json = {};
  for (const [name, field] of Object.entries(fields)) {
    if (body.fileFields.includes(name)) encoding[name] = { contentType: 'application/octet-stream' };
    // Nested objects travel as bracketed text fields (`expires_after[seconds]=3600`), as the SDKs send them.
    else if (isObjectSchema(resolveComponent(converter, field)))
      encoding[name] = { style: 'deepObject', explode: true };
  }
  return { required: true, content: { 'multipart/form-data': { schema, encoding } } };
}

function mediaType(converter: SchemaConverter, content: ResponseContent): [string, Json] {
  switch (content.kind) {
    case 'json':
      return ['application/json', { schema: converter.convert(content.schema) }];
    case 'binary':
      return [content.contentType, { schema: { type: 'string', format: 'binary' } }];
    case 'event-stream':
      return [
        'text/event-stream',
        {
          schema: {
            type: 'string',
            description: 'Server-sent events: each `data:` line holds one JSON object of `contentSchema`.',
            contentMediaType: 'application/json',
            contentSchema: converter.convert(content.schema),
          },
        },
      ];
  }
}

function operation(converter: SchemaConverter, route: RouteDef): Json {
  const op: Json = { operationId: route.operationId, summary: route.summary };
  if (route.description) op.description = route.description;
  op.tags = [route.tag];
  if (!route.auth) op.security = [];
  const params = [
    ...(route.params ? parameters(converter, 'path', route.params) : []),
    ...(route.query ? parameters(converter, 'query', route.query) : []),
    ...(route.headers ? parameters(converter, 'header', route.headers) : []),
  ];
  if (params.length > 0) op.parameters = params;
  const body = requestBody(converter, route);
  if (body) op.requestBody = body;
  const responses: Json = {};
  for (const status of Object.keys(route.responses).sort()) {
    const response = route.responses[Number(status)];
    if (!response) continue;
    const entry: Json = { description: response.description };
    if (response.headers) {
      entry.headers = Object.fromEntries(
        Object.entries(response.headers).map(([name, description]) => [
          name,
          { description, schema: { type: 'string' } },
        ]),
      );
    }
    if (response.content.length > 0) {
      entry.content = Object.fromEntries(response.content.map((content) => mediaType(converter, content)));
    }
    responses[status] = entry;
  }
  op.responses = responses;
  if (route.sdkMethod) op['x-sdk-method'] = route.sdkMethod;
  return op;
}

/** The OpenAPI 3.1 document of the tunekit API; `version` is the package version (info.version). */
export function buildOpenApiDocument(version: string): Json {
  const converter = new SchemaConverter();
  const paths: Record<string, Json> = {};
  for (const route of [...routes, ...togetherRoutes] as RouteDef[]) {
    paths[route.path] ??= {};
    (paths[route.path] as Json)[route.method] = operation(converter, route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'tunekit API',
      version,
      summary: 'Fine-tuning API compatible with OpenAI, served by the local tunekit emulator.',
      description: [
        "A superset of OpenAI's fine-tuning, files, models and chat completions API: the official `openai` SDK",
        'works against it unchanged. tunekit extensions (adapters, LoRA settings, extra hyperparameters, live',
        'event streams, pause/resume, health) are marked as such in their descriptions.',
        '',
        'Paths are absolute on the server: the API lives under `/v1` (SDK base URL',
        "`http://127.0.0.1:4100/v1`) and `/health` at the root. Together's dialect lives under `/together/v1`",
        "(tag `Together`; the `together-ai` SDK's base URL `http://127.0.0.1:4100/together/v1`).",
        '',
        'Errors: every non-2xx response has the body `{"error":{"message","type","param","code"}}`.',
      ].join('\n'),
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [
      { url: 'http://127.0.0.1:4100', description: 'The local tunekit emulator on its default port.' },
    ],
    security: [{ bearerAuth: [] }],
    tags: TAGS.map((tag) => ({ name: tag.name, description: tag.description })),
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: '`Authorization: Bearer <key>`. The emulator accepts any non-empty key.',
        },
      },
      schemas: converter.sortedComponents(),
    },
  };
}

/** openapi.yaml as written to disk. */
export function renderOpenApiYaml(version: string): string {
  const header = '# Generated by `npm run gen:openapi` from emulator/contract. Do not edit by hand.\n';
  return header + stringify(buildOpenApiDocument(version), { lineWidth: 0, aliasDuplicateObjects: false });
}
