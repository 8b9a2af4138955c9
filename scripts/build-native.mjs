#!/usr/bin/env node
// Builds the native engine, its N-API addon and the built-in model with cmake-js: run by `npm ci` in a checkout
// (`npm run build:native`) and by `npm install @tunekit/emulator` in a user's app (`--installed`: the build
// folder is then pruned to the addon and the model).
// Node's headers come from the local Node installation (npm's `nodedir`, else the prefix of this node binary), so
// nothing is downloaded. cmake-js and node-addon-api are found with require.resolve wherever npm put them.
// Set TUNEKIT_SKIP_NATIVE=1 to skip; the SDK works without the engine, and the emulator then says clearly that
// training is unavailable.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const name = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name;
const installed = process.argv.includes('--installed');
const MIN_CMAKE = [3, 25];
const HOW_TO =
  'install cmake >= 3.25 and a C++20 compiler (Debian/Ubuntu: apt-get install cmake g++; Fedora: dnf install cmake ' +
  'gcc-c++; macOS: xcode-select --install && brew install cmake), then install again; ' +
  'TUNEKIT_SKIP_NATIVE=1 installs without the engine (no training)';

/** Ends the script with one line that says what is missing and how to get it. */
function fail(what) {
  console.error(`${name}: cannot build the native engine: ${what}; ${HOW_TO}`);
  process.exit(1);
}

/** The first line `command --version` prints, or null when the command cannot run (`command` may carry a launcher
 * and flags, as CXX may: `ccache g++`). */
function versionLine(command) {
  const [file, ...args] = command.trim().split(/\s+/);
  const r = spawnSync(file, [...args, '--version'], { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout.split('\n')[0] ?? '') : null;
}

function checkToolchain() {
  const cmake = versionLine('cmake');
  if (cmake === null) fail('cmake was not found on PATH');
  const [major, minor] = (/(\d+)\.(\d+)/.exec(cmake) ?? []).slice(1).map(Number);
  if (!(major > MIN_CMAKE[0] || (major === MIN_CMAKE[0] && minor >= MIN_CMAKE[1]))) {
    fail(`cmake ${major}.${minor} is older than ${MIN_CMAKE.join('.')}`);
  }
  const compilers = process.env.CXX ? [process.env.CXX] : ['c++', 'g++', 'clang++'];
  if (!compilers.some((cxx) => versionLine(cxx) !== null)) {
    fail(`no C++ compiler was found (${compilers.join(', ')})`);
  }
}

/** The cmake-js command line script, wherever npm installed the package (hoisted or nested). */
function cmakeJsBin() {
  const require = createRequire(join(root, 'package.json'));
  let manifest;
  try {
    manifest = require.resolve('cmake-js/package.json');
  } catch {
    fail(`the cmake-js package was not found from ${root} (it is a dependency of ${name}; reinstall)`);
  }
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8'));
  return join(dirname(manifest), typeof bin === 'string' ? bin : bin['cmake-js']);
}

/** After an installed build only the addon and the built-in model are needed; the object files go. */
function pruneBuild(buildDir) {
  for (const entry of readdirSync(buildDir)) {
    if (entry !== 'Release' && entry !== 'models')
      rmSync(join(buildDir, entry), { recursive: true, force: true });
  }
  const release = join(buildDir, 'Release');
  for (const entry of readdirSync(release)) {
    if (entry !== 'tunekit.node') rmSync(join(release, entry), { recursive: true, force: true });
  }
}

if (process.env.TUNEKIT_SKIP_NATIVE === '1') {
  console.log(`${name}: TUNEKIT_SKIP_NATIVE=1, not building the native engine`);
  process.exit(0);
}
const nodeDir = process.env.npm_config_nodedir || resolve(dirname(process.execPath), '..');
if (!existsSync(join(nodeDir, 'include', 'node', 'node_api.h'))) {
  fail(
    `Node's headers were not found under ${nodeDir}/include/node (set npm_config_nodedir to a Node install)`,
  );
}
checkToolchain();
const buildDir = join(root, 'native', 'build');
const jobs = process.env.TUNEKIT_BUILD_JOBS || String(Math.max(1, availableParallelism()));
const args = [cmakeJsBin(), 'build', '--directory', join(root, 'native'), '--out', buildDir];
args.push('--config', 'Release', '--parallel', jobs);
const env = { ...process.env, npm_config_nodedir: nodeDir };
const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root, env });
if (result.status !== 0) {
  console.error(
    `${name}: the native build failed (cmake-js exit ${result.status ?? result.signal}); see above`,
  );
  process.exit(result.status || 1);
}
if (installed) pruneBuild(buildDir);
