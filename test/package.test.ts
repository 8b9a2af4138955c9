/**
 * The published entry points: `npm ci` runs `prepare` (tsdown), and both module systems must load the SDK
 * through the package's own `exports` map, with its type declarations beside them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function runNode(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
}

describe('package entry points', () => {
  it('has the built files package.json points to (run `npm run build` if this fails)', () => {
    for (const file of [
      'dist/index.js',
      'dist/index.cjs',
      'dist/index.d.ts',
      'dist/index.d.cts',
      'dist/cli.js',
      'dist/web/index.html',
    ]) {
      expect(existsSync(`${root}/${file}`), file).toBe(true);
    }
  });

  it("require('tunekit') gives the client and the error classes", () => {
    const out = runNode([
      '-e',
      "const t = require('tunekit'); const c = new t.Tunekit({ apiKey: 'k' }); console.log([typeof t.default, c.baseURL, typeof t.NotFoundError].join(' '))",
    ]);
    expect(out).toBe('function http://127.0.0.1:4100/v1 function');
  });

  it("import('tunekit') gives the same client as its default and named export", () => {
    const out = runNode([
      '--input-type=module',
      '-e',
      "import Tunekit, { Tunekit as Named, APIError } from 'tunekit'; console.log([Tunekit === Named, new Tunekit({ apiKey: 'k' }).baseURL, typeof APIError].join(' '))",
    ]);
    expect(out).toBe('true http://127.0.0.1:4100/v1 function');
  });
});
