import type { Tunekit } from '../../client';
import { APIResource } from '../../core/resource';
import { Jobs } from './jobs/jobs';

export class FineTuning extends APIResource {
  jobs: Jobs;

  constructor(client: Tunekit) {
    super(client);
    this.jobs = new Jobs(client);
  }
}
