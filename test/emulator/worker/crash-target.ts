/**
 * A stand-in for the emulator process in the worker-level kill -9 test: opens the data folder given as argv[2],
 * starts a job (seed argv[3]) and prints `job <id>` then `step <n>` per metrics event, until it is killed.
 */
import { chatJsonl, ORG, openHarness, PROJECT, QA, SMALL_RUN, upload } from './helpers';

const harness = openHarness(process.argv[2]);
const file = await upload(harness.store, chatJsonl(QA));
const job = harness.scheduler.createJob(PROJECT, ORG, {
  model: 'tunekit-tiny-chat',
  training_file: file.id,
  seed: Number(process.argv[3]),
  method: { type: 'supervised', supervised: { hyperparameters: SMALL_RUN } },
});
console.log(`job ${job.id}`);
harness.store.subscribe(job.id, (update) => {
  if (update.kind === 'event' && update.event.type === 'metrics') {
    console.log(`step ${(update.event.data as { step: number }).step}`);
  }
});
