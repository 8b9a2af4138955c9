// Runtime CPU dispatch (native/engine/cpu.h) from Node: TUNEKIT_CPU forces each kernel path this machine has, the
// engine reports the path it runs, and the fixture model's logits match transformers' within 1e-5 on every one.
// A path the CPU lacks, or an unknown name, is refused with a clear error instead of a silent fallback.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineInfo } from '../../native/index';

const child = join(import.meta.dirname, 'cpu-path-child.ts');

function runWith(cpu: string): { cpu?: string; error?: number; failed?: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', child], {
    env: { ...process.env, TUNEKIT_CPU: cpu },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  if (!line.startsWith('{')) throw new Error(`child failed (${result.status}): ${result.stderr}`);
  return JSON.parse(line);
}

describe('CPU kernel paths', () => {
  const info = engineInfo();

  it('detects the widest path the CPU has when TUNEKIT_CPU is unset', () => {
    expect(info.cpuPaths[0]).toBe('portable');
    if (process.env.TUNEKIT_CPU === undefined) expect(info.cpu).toBe(info.cpuPaths.at(-1));
    for (const missing of ['avx2', 'avx512'].filter((p) => !info.cpuPaths.includes(p))) {
      console.warn(
        `cpu-dispatch: this machine cannot run the ${missing} kernels; that path is not tested here`,
      );
    }
  });

  for (const path of ['portable', 'avx2', 'avx512']) {
    it(`TUNEKIT_CPU=${path}: runs that path with logits within 1e-5 of transformers, or is refused`, () => {
      const out = runWith(path);
      if (info.cpuPaths.includes(path)) {
        expect(out.cpu).toBe(path);
        expect(out.error).toBeLessThan(1e-5);
      } else {
        expect(out.failed).toContain(`TUNEKIT_CPU=${path}`);
      }
    });
  }

  it('refuses an unknown TUNEKIT_CPU by name', () => {
    expect(runWith('avx1024').failed).toMatch(/TUNEKIT_CPU=avx1024: unknown kernel path/);
  });
});
