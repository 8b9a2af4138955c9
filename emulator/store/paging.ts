/** Small helpers shared by the repositories. */
import type { PageWithIds } from './index';

/** Unix time in whole seconds, as every timestamp of the API. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function pageWithIds<T extends { id: string }>(data: T[], hasMore: boolean): PageWithIds<T> {
  return {
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: hasMore,
  };
}
