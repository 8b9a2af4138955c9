/**
 * What the packaging tests do as a user would: `npm pack` every package (scripts/pack.mjs), then `npm install
 * <tarball>` into fresh apps in a temp folder, with npm's cache preferred over the network.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface PackedPackage {
  name: string;
  dir: string;
  version: string;
  tarball: string;
  files: string[];
}

/** npm's own entry script: the npm running the tests, else the one on PATH. */
function npmCli(): string {
  if (process.env.npm_execpath?.endsWith('.js')) return process.env.npm_execpath;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      return realpathSync(join(dir, 'npm'));
    } catch {
      // not in this folder
    }
  }
  throw new Error('npm was not found on PATH');
}

/** The environment of a user's shell: none of the npm_* variables `npm test` sets for the repository. */
export function userEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.toLowerCase().startsWith('npm_') && key !== 'INIT_CWD') env[key] = value;
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Packs every package under packages/ into `out`; returns what scripts/pack.mjs reports. */
export function packAll(out: string): PackedPackage[] {
  const stdout = execFileSync(process.execPath, [join(repoRoot, 'scripts', 'pack.mjs'), '--out', out], {
    cwd: repoRoot,
    env: { ...userEnv(), npm_execpath: npmCli() },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as PackedPackage[];
}

export interface InstallResult {
  seconds: number;
  output: string;
}

/** A fresh app (`package.json` only) in `dir`, then `npm install <specs>` there, as a user runs it. */
export function installApp(dir: string, specs: string[], env: NodeJS.ProcessEnv): InstallResult {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'app', private: true }, null, 2)}\n`);
  const started = process.hrtime.bigint();
  const result = spawnSync(
    process.execPath,
    [npmCli(), 'install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', ...specs],
    { cwd: dir, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const output = `${result.stdout}\n${result.stderr}`;
  if (result.status !== 0) {
    throw new Error(`npm install ${specs.join(' ')} failed (${result.status ?? result.signal}):\n${output}`);
  }
  return { seconds, output };
}

/** A folder that holds only a link to this node binary: a PATH with no cmake, compiler, make or shell tools. */
export function nodeOnlyPath(dir: string): string {
  mkdirSync(dir, { recursive: true });
  symlinkSync(process.execPath, join(dir, 'node'));
  return dir;
}

/** The compiler and build tools `pathValue` provides (empty when it provides none). */
export function toolsOnPath(pathValue: string): string[] {
  return ['cmake', 'c++', 'g++', 'gcc', 'cc', 'clang++', 'make'].filter(
    (tool) => spawnSync(tool, ['--version'], { env: { PATH: pathValue } }).error === undefined,
  );
}

/** Total bytes of the files under `dir`. */
export function diskBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += diskBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/** Every package folder under `nodeModules` (scoped and nested ones too), as `name` → path. */
export function installedPackages(nodeModules: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const visit = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const path = join(folder, entry.name);
      if (entry.name.startsWith('@')) {
        visit(path);
        continue;
      }
      const name = folder.endsWith('node_modules') ? entry.name : `${folder.split('/').at(-1)}/${entry.name}`;
      found.set(name, [...(found.get(name) ?? []), path]);
      try {
        if (statSync(join(path, 'node_modules')).isDirectory()) visit(join(path, 'node_modules'));
      } catch {
        // no nested node_modules
      }
    }
  };
  visit(nodeModules);
  return found;
}

/** Files under `dir` whose names match `pattern`, relative to `dir`. */
export function filesMatching(dir: string, pattern: RegExp, prefix = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...filesMatching(dir, pattern, rel));
    else if (pattern.test(entry.name)) found.push(rel);
  }
  return found;
}
