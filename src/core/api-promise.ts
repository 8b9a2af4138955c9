import { defaultParseResponse } from '../internal/parse';
import type { APIResponseProps } from '../internal/request-options';

/**
 * The promise every SDK method returns. Awaiting it gives the parsed body; `.withResponse()` also gives the
 * raw Response and the request id; `.asResponse()` gives the Response without reading its body.
 */
export class APIPromise<T> extends Promise<T> {
  #parsed: Promise<T> | undefined;

  constructor(
    private readonly responsePromise: Promise<APIResponseProps>,
    private readonly parseResponse: (props: APIResponseProps) => Promise<T> = defaultParseResponse,
  ) {
    super((resolve) => {
      // The value is never read: then/catch/finally below delegate to the parsed promise.
      resolve(null as T);
    });
  }

  /** A promise of `transform(parsed body)` that keeps `.withResponse()`. */
  _thenUnwrap<U>(transform: (data: T, props: APIResponseProps) => U | Promise<U>): APIPromise<U> {
    return new APIPromise(this.responsePromise, async (props) =>
      transform(await this.parseResponse(props), props),
    );
  }

  /** The raw Response, body unread. */
  asResponse(): Promise<Response> {
    return this.responsePromise.then((props) => props.response);
  }

  /** The parsed body together with the raw Response and its `x-request-id`. */
  async withResponse(): Promise<{ data: T; response: Response; request_id: string | null }> {
    const [data, response] = await Promise.all([this.parse(), this.asResponse()]);
    return { data, response, request_id: response.headers.get('x-request-id') };
  }

  private parse(): Promise<T> {
    this.#parsed ??= this.responsePromise.then(this.parseResponse);
    return this.#parsed;
  }

  // biome-ignore lint/suspicious/noThenProperty: a Promise subclass; awaiting it resolves the parsed body
  override then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.parse().then(onfulfilled, onrejected);
  }

  override catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.parse().catch(onrejected);
  }

  override finally(onfinally?: (() => void) | null): Promise<T> {
    return this.parse().finally(onfinally);
  }
}
