// node:test: the emulator starts in before() and stops in after(), in the test file's own process.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEmulator } from '@tunekit/emulator';
import OpenAI, { toFile } from 'openai';
import tiny from '../tiny-fine-tune.cjs';

let emulator;
before(async () => {
  emulator = await startEmulator();
});
after(() => emulator?.stop());

test('fine-tunes through the openai SDK and the tuned model answers', async () => {
  const client = new OpenAI({ apiKey: 'node-test-fine-tune', baseURL: emulator.baseURL });
  const { job, answer, answeredBy } = await tiny.tinyFineTune(client, { toFile });
  assert.equal(job.status, 'succeeded');
  assert.match(job.fine_tuned_model, /^ft:gpt-4o-mini-2024-07-18:/);
  assert.equal(answeredBy, job.fine_tuned_model);
  assert.equal(typeof answer, 'string');
});
