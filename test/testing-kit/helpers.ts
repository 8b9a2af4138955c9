/** Shared by the testing-kit tests and the processes they start (no vitest here). */

export const KEY = { authorization: 'Bearer kit-test' };

const TINY_DATASET = `${Array.from({ length: 10 }, (_, i) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `q${i}` },
      { role: 'assistant', content: `a${i}` },
    ],
  }),
).join('\n')}\n`;

async function ok(response: Response): Promise<unknown> {
  if (!response.ok) throw new Error(`${response.url}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Uploads ten examples and starts a job long enough (50 epochs of batch 1) to still be training when stopped. */
export async function startLongJob(baseURL: string): Promise<string> {
  const form = new FormData();
  form.append('purpose', 'fine-tune');
  form.append('file', new Blob([TINY_DATASET]), 'tiny.jsonl');
  const file = (await ok(await fetch(`${baseURL}/files`, { method: 'POST', headers: KEY, body: form }))) as {
    id: string;
  };
  const job = await fetch(`${baseURL}/fine_tuning/jobs`, {
    method: 'POST',
    headers: { ...KEY, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'tunekit-tiny-chat',
      training_file: file.id,
      method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 50, batch_size: 1 } } },
    }),
  });
  return ((await ok(job)) as { id: string }).id;
}

/** One short chat completion: starts the emulator's inference process. */
export async function chatOnce(baseURL: string): Promise<void> {
  await ok(
    await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { ...KEY, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'tunekit-tiny-chat',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 2,
      }),
    }),
  );
}

/** Polls `check` every 50 ms until it returns true; fails after `ms`. */
export async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`still not ${what} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
