// The check every recipe runs, through the official `openai` SDK: upload ten chat examples, fine-tune
// `gpt-4o-mini-2024-07-18` (the emulator trains its built-in stand-in), wait, and ask the tuned model.
// Each test file uses its own API key: the emulator gives every key its own project, so files run in parallel.

const EXAMPLES = Array.from({ length: 10 }, (_, i) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `Code word ${i}?` },
      { role: 'assistant', content: `w${i}` },
    ],
  }),
).join('\n');

/** Polls the job until it ends (the emulator's jobs take seconds); rejects after `timeoutMs`. */
async function waitForJob(client, id, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await client.fineTuning.jobs.retrieve(id);
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Returns the finished job and the tuned model's answer. */
async function tinyFineTune(client, { toFile }, timeoutMs = 120_000) {
  const file = await client.files.create({
    file: await toFile(Buffer.from(`${EXAMPLES}\n`), 'tiny.jsonl'),
    purpose: 'fine-tune',
  });
  const created = await client.fineTuning.jobs.create({
    model: 'gpt-4o-mini-2024-07-18',
    training_file: file.id,
    method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 1, batch_size: 4 } } },
  });
  const job = await waitForJob(client, created.id, timeoutMs);
  if (job.status !== 'succeeded') return { job, answer: null };
  const chat = await client.chat.completions.create({
    model: job.fine_tuned_model,
    messages: [{ role: 'user', content: 'Code word 1?' }],
    max_tokens: 4,
  });
  return { job, answer: chat.choices[0].message.content, answeredBy: chat.model };
}

module.exports = { tinyFineTune };
