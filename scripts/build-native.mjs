#!/usr/bin/env node
// Builds the native engine and its N-API addon with cmake-js (run by `npm ci` / `npm install`).
// Node's headers come from the local Node installation (npm's `nodedir`, else the prefix of this node
// binary), so nothing is downloaded. Set TUNEKIT_SKIP_NATIVE=1 to skip; the SDK works without the engine,
// and the emulator then says clearly that training is unavailable.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.TUNEKIT_SKIP_NATIVE === '1') {
  console.log('tunekit: TUNEKIT_SKIP_NATIVE=1, not building the native engine');
  process.exit(0);
}
const nodeDir = process.env.npm_config_nodedir || resolve(dirname(process.execPath), '..');
if (!existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) {
  console.error(`tunekit: Node headers not found under ${nodeDir}/include/node; set npm_config_nodedir`);
  process.exit(1);
}
const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
const args = [cmakeJs, 'build', '--directory', join(root, 'native'), '--out', join(root, 'native', 'build')];
args.push('--config', 'Release', '--parallel', '2');
const env = { ...process.env, npm_config_nodedir: nodeDir };
const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root, env });
process.exit(result.status ?? 1);
