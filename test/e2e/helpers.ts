/** Shared pieces of the end-to-end tests: training data, and the emulator run as a CLI child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

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

/** Pids of the direct children of `pid` (the trainer processes of an emulator), read from /proc (Linux). */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // the process ended while we looked
    }
    // Fields after the command name (which may hold spaces, inside parentheses): state, then the parent pid.
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent === pid) children.push(Number(entry));
  }
  return children;
}
