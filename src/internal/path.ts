import { TunekitError } from '../core/errors';

/**
 * Percent-encodes a path parameter but keeps the characters openai-node v7 keeps
 * (`:` `@` and the RFC 3986 sub-delims), so `ft:base:org::id` stays readable in the URL.
 */
export function encodePathParam(value: string): string {
  return encodeURIComponent(value).replace(/%(3A|40|21|24|26|27|28|29|2A|2B|2C|3B|3D)/gi, (match) =>
    decodeURIComponent(match),
  );
}

/** Tagged template that encodes each interpolated path parameter: path`/files/${id}`. */
export function path(statics: TemplateStringsArray, ...params: unknown[]): string {
  return statics.reduce((out, segment, i) => {
    if (i === 0) return segment;
    const param = params[i - 1];
    if (typeof param !== 'string' || param.length === 0) {
      throw new TunekitError(`Path parameter ${i} must be a non-empty string, got ${JSON.stringify(param)}`);
    }
    return out + encodePathParam(param) + segment;
  }, '');
}
