import type { Tunekit } from '../../../client';
import { APIResource } from '../../../core/resource';
import { Graders } from './graders';

/** OpenAI's alpha fine-tuning endpoints. */
export class Alpha extends APIResource {
  graders: Graders;

  constructor(client: Tunekit) {
    super(client);
    this.graders = new Graders(client);
  }
}
