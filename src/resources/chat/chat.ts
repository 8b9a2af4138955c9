import type { Tunekit } from '../../client';
import { APIResource } from '../../core/resource';
import { Completions } from './completions';

export class Chat extends APIResource {
  completions: Completions;

  constructor(client: Tunekit) {
    super(client);
    this.completions = new Completions(client);
  }
}
