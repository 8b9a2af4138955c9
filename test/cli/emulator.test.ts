import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinModelDir } from '../../native/index';
import { spawnEmulator } from '../e2e/helpers';

const CLI = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-cli-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function runCli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('tunekit emulator', () => {
  it('refuses unknown flags and bad values with a clear message and exit code 2', () => {
    for (const [args, message] of [
      [['emulator', '--prot', '4100'], "unknown option '--prot'\n(Did you mean --port?)"],
      [
        ['emulator', '--port', 'abc'],
        "'--port <n>' argument 'abc' is invalid. expected an integer from 0 to 65535",
      ],
      [
        ['emulator', '--workers', '0'],
        "'--workers <n>' argument '0' is invalid. expected an integer from 1 to 64",
      ],
      [['emulator', 'extra'], "too many arguments for 'emulator'"],
      [['serve'], "unknown command 'serve'"],
    ] as const) {
      const result = runCli([...args]);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr).toContain(args[0] === 'emulator' ? 'Usage: tunekit emulator' : 'Usage: tunekit');
      expect(result.stdout).toBe('');
    }
  });

  it('prints exactly one line, the base URL, honours its flags, and stops on SIGTERM', async () => {
    const keys = join(tempDir(), 'keys.txt');
    writeFileSync(keys, 'only-this-key\n');
    const modelsDir = tempDir();
    const local = join(modelsDir, 'acme', 'tiny-local');
    cpSync(builtinModelDir(), local, { recursive: true });
    const modelMap = join(tempDir(), 'model-map.json');
    writeFileSync(modelMap, JSON.stringify({ 'acme/hosted-70b': 'acme/tiny-local' }));
    const emulator = await spawnEmulator([
      '--model-map',
      modelMap,
      '--data-dir',
      tempDir(),
      '--api-keys',
      keys,
      '--workers',
      '2',
      '--models-dir',
      modelsDir,
      '--max-upload-bytes',
      '100',
    ]);
    try {
      expect(emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(emulator.url).not.toContain(':0/');
      const allowed = await fetch(`${emulator.url}/models`, {
        headers: { authorization: 'Bearer only-this-key' },
      });
      expect(allowed.status).toBe(200);
      const ids = ((await allowed.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
      expect(ids).toContain('acme/tiny-local');
      expect(ids).toContain('acme/hosted-70b');
      expect(ids).toContain('gpt-4o-mini-2024-07-18');
      const form = new FormData();
      form.append('purpose', 'user_data');
      form.append('file', new Blob(['x'.repeat(101)]), 'big.txt');
      const tooBig = await fetch(`${emulator.url}/files`, {
        method: 'POST',
        headers: { authorization: 'Bearer only-this-key' },
        body: form,
      });
      expect(tooBig.status).toBe(413);
      const refused = await fetch(`${emulator.url}/models`, { headers: { authorization: 'Bearer other' } });
      expect(refused.status).toBe(401);
      const health = await fetch(emulator.url.replace(/\/v1$/, '/health'));
      expect(await health.json()).toMatchObject({
        status: 'ok',
        cpu: expect.stringMatching(/^(avx512|avx2|portable)$/),
      });
    } finally {
      emulator.child.kill('SIGTERM');
    }
    expect(await emulator.exited).toEqual({ code: 0, signal: null });
    // stderr: only the startup log of the engine's CPU kernel path
    expect(emulator.output()).toMatch(
      /^tunekit: engine kernels: (avx512|avx2|portable) \((detected|forced)\); cpu:[^\n]*\n$/,
    );
  });

  it('fails with exit code 1 and a message when the model map is not a JSON object', () => {
    const modelMap = join(tempDir(), 'model-map.json');
    writeFileSync(modelMap, '["gpt-4o-mini"]');
    const result = runCli(['emulator', '--model-map', modelMap, '--data-dir', tempDir()]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('expected a JSON object mapping hosted model names to local model ids');
    expect(result.stdout).toBe('');
  });

  it('fails with exit code 1 and a message when the port is taken', async () => {
    const first = await spawnEmulator(['--data-dir', tempDir()]);
    try {
      const port = new URL(first.url).port;
      const result = runCli(['emulator', '--port', port, '--data-dir', tempDir()]);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('EADDRINUSE');
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
    }
  });
});
