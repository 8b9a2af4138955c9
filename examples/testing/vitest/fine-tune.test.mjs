import OpenAI, { toFile } from 'openai';
import { expect, inject, test } from 'vitest';
import tiny from '../tiny-fine-tune.cjs';

test('fine-tunes through the openai SDK and the tuned model answers', async () => {
  // One key per test file: its own project on the emulator.
  const client = new OpenAI({ apiKey: 'vitest-fine-tune', baseURL: inject('tunekitBaseURL') });
  const { job, answer, answeredBy } = await tiny.tinyFineTune(client, { toFile });
  expect(job.status).toBe('succeeded');
  expect(job.fine_tuned_model).toMatch(/^ft:gpt-4o-mini-2024-07-18:/);
  expect(answeredBy).toBe(job.fine_tuned_model);
  expect(typeof answer).toBe('string');
});
