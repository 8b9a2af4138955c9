import type { RequestOptions } from './request-options';

/** Request-option headers as a plain object, so a resource can add its own defaults before them. */
export function headersObject(headers: RequestOptions['headers']): Record<string, string | null | undefined> {
  return headers instanceof Headers ? Object.fromEntries(headers) : (headers ?? {});
}
