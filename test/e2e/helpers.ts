/** Shared pieces of the end-to-end tests: training data, and the emulator run as a CLI child process. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** 20 question/answer pairs in OpenAI's chat format. */
export function qaDataset(): string {
  const lines: string[] = [];
  for (let i = 0; i < 20; i += 1) {
    lines.push(
      JSON.stringify({
        messages: [
          { role: 'system', content: 'Answer with the code word.' },
          { role: 'user', content: `Code word for item ${i}?` },
          { role: 'assistant', content: `w${(i * 37) % 101}x${i}` },
        ],
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

const CLI = fileURLToPath(new URL('../../emulator/cli.ts', import.meta.url));

export interface EmulatorProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** Runs `tunekit emulator` from source (node + tsx) and resolves once it printed its base URL. */
export async function spawnEmulator(args: string[]): Promise<EmulatorProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'emulator', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close' comes after the output streams ended, so `output` is complete by then.
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    void exited.then(({ code }) =>
      reject(new Error(`emulator exited (${code}) before it was ready:\n${output}`)),
    );
  });
  lines.on('line', (line) => {
    output += `${line}\n`;
  });
  return { child, url, exited, output: () => output };
}

/** Pids of the direct children of `pid` (the trainer processes of an emulator). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}
