/**
 * Grader templates, as OpenAI renders them: `{{ namespace.path }}` with whitespace allowed inside the braces, the
 * namespaces `sample` (the model's output) and `item` (the dataset row), and JSON-path-like nesting
 * (`{{item.answer.donors}}`, `{{sample.output_tools[0].function.name}}`). Strings are inserted as they are; other
 * values as JSON. A variable that does not resolve fails the grading with `invalid_variable_error` (or
 * `sample_parse_error` for `sample.output_json` when the output was not JSON).
 */

const TEMPLATE = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** The `sample` namespace: what the model produced. */
export interface Sample {
  output_text: string;
  /** The output parsed as JSON; undefined when it does not parse. */
  output_json?: unknown;
  output_tools?: unknown[];
  choices?: unknown[];
}

export interface TemplateScope {
  sample: Sample;
  item: Record<string, unknown>;
}

/** Why a template could not be rendered. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  constructor(
    message: string,
    readonly kind: 'invalid_variable_error' | 'sample_parse_error',
  ) {
    super(message);
  }
}

/** The sample of a model output: its text, and its JSON when the text parses as a JSON object or array. */
export function sampleOf(outputText: string): Sample {
  const sample: Sample = { output_text: outputText };
  try {
    const parsed: unknown = JSON.parse(outputText);
    if (typeof parsed === 'object' && parsed !== null) sample.output_json = parsed;
  } catch {
    // Not JSON: templates that read output_json fail with sample_parse_error.
  }
  return sample;
}

type Segment = string | number;

/** `item.a.b[0].c` → ['item', 'a', 'b', 0, 'c']; undefined when the path is malformed. */
function parsePath(path: string): Segment[] | undefined {
  const segments: Segment[] = [];
  const part = /^(?:\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[["']([^"']*)["']\])/;
  let rest = path;
  while (rest.length > 0) {
    const match = part.exec(rest);
    if (!match || (segments.length === 0 && match[1] === undefined)) return undefined;
    if (segments.length === 0 && rest.startsWith('.')) return undefined;
    segments.push(match[1] ?? (match[2] !== undefined ? Number(match[2]) : (match[3] as string)));
    rest = rest.slice(match[0].length);
  }
  return segments.length > 0 ? segments : undefined;
}

const SAMPLE_FIELDS = new Set(['output_text', 'output_json', 'output_tools', 'choices', 'output_audio']);

/** The variables of a template, or a message naming the first one that can never resolve. */
export function checkTemplate(text: string): string | undefined {
  for (const match of text.matchAll(TEMPLATE)) {
    const variable = match[1] as string;
    const path = parsePath(variable);
    if (!path) return `malformed template variable {{${variable}}}`;
    const [namespace, field] = path;
    if (namespace !== 'sample' && namespace !== 'item') {
      return `unknown template namespace in {{${variable}}}: only "sample" and "item" are available`;
    }
    if (namespace === 'sample' && (field === undefined || !SAMPLE_FIELDS.has(String(field)))) {
      return `unknown sample variable {{${variable}}}: sample has ${[...SAMPLE_FIELDS].join(', ')}`;
    }
  }
  return undefined;
}

function lookup(scope: TemplateScope, variable: string): unknown {
  const path = parsePath(variable);
  if (!path) throw new TemplateError(`malformed template variable {{${variable}}}`, 'invalid_variable_error');
  const [namespace, ...rest] = path;
  if (namespace !== 'sample' && namespace !== 'item') {
    throw new TemplateError(`unknown template namespace in {{${variable}}}`, 'invalid_variable_error');
  }
  if (namespace === 'sample' && rest[0] === 'output_json' && scope.sample.output_json === undefined) {
    throw new TemplateError(
      `{{${variable}}}: the sample is not a JSON object or array`,
      'sample_parse_error',
    );
  }
  let value: unknown = scope[namespace];
  for (const segment of rest) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, segment)) {
      throw new TemplateError(`{{${variable}}} does not resolve`, 'invalid_variable_error');
    }
    value = (value as Record<Segment, unknown>)[segment];
  }
  if (value === undefined)
    throw new TemplateError(`{{${variable}}} does not resolve`, 'invalid_variable_error');
  return value;
}

/** Renders a template; throws {@link TemplateError} when a variable does not resolve. */
export function renderTemplate(text: string, scope: TemplateScope): string {
  return text.replace(TEMPLATE, (_, variable: string) => {
    const value = lookup(scope, variable);
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}
