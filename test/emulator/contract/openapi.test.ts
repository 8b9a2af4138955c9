import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildOpenApiDocument, renderOpenApiYaml } from '../../../emulator/contract/openapi';
import { routes } from '../../../emulator/contract/routes';

type Json = Record<string, unknown>;

function collectRefs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) collectRefs(item, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') out.push(inner);
      else collectRefs(inner, out);
    }
  }
  return out;
}

/** Follows a local JSON pointer (`#/components/schemas/X`) into `doc`. */
function resolvePointer(doc: unknown, ref: string): unknown {
  expect(ref.startsWith('#/'), ref).toBe(true);
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = typeof node === 'object' && node !== null ? (node as Json)[key] : undefined;
  }
  return node;
}

const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('generated OpenAPI document', () => {
  const doc = buildOpenApiDocument(version);

  it('is deterministic', () => {
    expect(buildOpenApiDocument(version)).toEqual(doc);
    expect(renderOpenApiYaml(version)).toBe(renderOpenApiYaml(version));
  });

  it('matches the committed openapi.yaml', () => {
    const committed = readFileSync(new URL('../../../openapi.yaml', import.meta.url), 'utf8');
    expect(committed).toBe(renderOpenApiYaml(version));
    expect(parse(committed)).toEqual(doc);
  });

  it('resolves every $ref, and every component is referenced', () => {
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of refs) expect(resolvePointer(doc, ref), ref).toBeDefined();
    const schemas = (doc.components as Json).schemas as Json;
    const referenced = new Set(refs.map((ref) => ref.split('/').pop()));
    for (const name of Object.keys(schemas)) expect(referenced.has(name), name).toBe(true);
  });

  it('has one operation per route, with its operationId, and /health open', () => {
    const paths = doc.paths as Record<string, Record<string, Json>>;
    for (const route of routes) {
      const op = paths[route.path]?.[route.method];
      expect(op?.operationId).toBe(route.operationId);
      if (!route.auth) expect(op?.security).toEqual([]);
      else expect(op?.security).toBeUndefined();
    }
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
  });

  it('names the contract components the SDK pairs with', () => {
    const schemas = (doc.components as Json).schemas as Json;
    for (const name of [
      'FileObject',
      'FineTuningJob',
      'JobCreateParams',
      'FineTuningJobEvent',
      'FineTuningJobCheckpoint',
      'Model',
      'ChatCompletionCreateParams',
      'ChatCompletion',
      'ChatCompletionChunk',
      'Adapter',
      'ErrorBody',
      'HealthResponse',
    ]) {
      expect(schemas[name], name).toBeDefined();
    }
  });

  it('sends the metadata filter as a deepObject query parameter', () => {
    const list = (doc.paths as Record<string, Record<string, Json>>)['/v1/fine_tuning/jobs']?.get ?? {};
    const metadata = (list.parameters as Json[]).find((parameter) => parameter.name === 'metadata');
    expect(metadata).toMatchObject({ in: 'query', style: 'deepObject', explode: true });
  });
});
