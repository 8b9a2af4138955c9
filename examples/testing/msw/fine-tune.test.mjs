// msw: code written for the hosted API (the openai SDK with its default base URL, https://api.openai.com/v1) runs
// unchanged; the handlers forward each request to the emulator. Here with node:test; any runner works the same.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startEmulator } from '@tunekit/emulator';
import { emulatorHandlers } from '@tunekit/emulator/msw';
import { setupServer } from 'msw/node';
import OpenAI, { toFile } from 'openai';
import tiny from '../tiny-fine-tune.cjs';

let emulator;
let server;
before(async () => {
  emulator = await startEmulator();
  server = setupServer(...emulatorHandlers(emulator));
  // Anything the handlers do not cover fails instead of reaching the network.
  server.listen({ onUnhandledRequest: 'error' });
});
after(async () => {
  server?.close();
  await emulator?.stop();
});

test('code written for api.openai.com fine-tunes against the emulator', async () => {
  delete process.env.OPENAI_BASE_URL;
  const client = new OpenAI({ apiKey: 'msw-fine-tune' }); // no baseURL: the hosted default
  assert.equal(client.baseURL, 'https://api.openai.com/v1');
  const { job, answer, answeredBy } = await tiny.tinyFineTune(client, { toFile });
  assert.equal(job.status, 'succeeded');
  assert.match(job.fine_tuned_model, /^ft:gpt-4o-mini-2024-07-18:/);
  assert.equal(answeredBy, job.fine_tuned_model);
  assert.equal(typeof answer, 'string');
});
