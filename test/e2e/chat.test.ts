/**
 * Chat completions from `tunekit emulator` run as a CLI process: the inference child process it forks answers
 * through the official openai SDK, is replaced after a kill -9, and goes away with the server on SIGTERM.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODEL } from '../../emulator/worker/models';
import { childPids, type EmulatorProcess, spawnEmulator } from './helpers';

const dataDir = mkdtempSync(join(tmpdir(), 'tunekit-chat-cli-'));
let emulator: EmulatorProcess | undefined;

afterAll(async () => {
  if (emulator && emulator.child.exitCode === null) {
    emulator.child.kill('SIGKILL');
    await emulator.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('chat completions from the CLI', () => {
  it('answers, survives a killed inference process, and stops with the server', async () => {
    emulator = await spawnEmulator(['--data-dir', dataDir]);
    const openai = new OpenAI({ apiKey: 'cli-chat', baseURL: emulator.url, maxRetries: 0 });
    const request = {
      model: BUILTIN_MODEL,
      messages: [{ role: 'user' as const, content: 'Hello?' }],
      temperature: 0,
      max_tokens: 6,
    };
    const first = await openai.chat.completions.create(request);
    expect(first.choices[0]?.finish_reason).toBe('length');
    expect(first.usage?.completion_tokens).toBe(6);

    const [inference] = childPids(emulator.child.pid!);
    expect(inference).toBeDefined();
    process.kill(inference!, 'SIGKILL');
    await expect.poll(() => isAlive(inference!)).toBe(false);

    let streamed = '';
    for await (const chunk of await openai.chat.completions.create({ ...request, stream: true })) {
      streamed += chunk.choices[0]?.delta.content ?? '';
    }
    expect(streamed).toBe(first.choices[0]?.message.content);
    const [restarted] = childPids(emulator.child.pid!);
    expect(restarted).toBeDefined();
    expect(restarted).not.toBe(inference);

    emulator.child.kill('SIGTERM');
    expect(await emulator.exited, emulator.output()).toEqual({ code: 0, signal: null });
    await expect.poll(() => isAlive(restarted!)).toBe(false);
  }, 240_000);
});
