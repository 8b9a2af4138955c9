import type { Tunekit } from '../../client';
import { APIResource } from '../../core/resource';
import { Alpha } from './alpha/alpha';
import { Jobs } from './jobs/jobs';

export class FineTuning extends APIResource {
  jobs: Jobs;
  alpha: Alpha;

  constructor(client: Tunekit) {
    super(client);
    this.jobs = new Jobs(client);
    this.alpha = new Alpha(client);
  }
}
