import type { Tunekit } from '../client';

/** Base of every resource class: holds the client its methods delegate to. */
export abstract class APIResource {
  protected _client: Tunekit;

  constructor(client: Tunekit) {
    this._client = client;
  }
}
