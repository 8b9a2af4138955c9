#!/usr/bin/env node
// Builds the packages users install from this repository's sources, without moving them:
//   packages/<dir>/package.json  the published manifest, plus a `stage` section this script reads and removes:
//     stage.entries            built files (dist/...) to ship; the chunks they import come with them
//     stage.copy               repository paths to ship as they are (native sources, the build script)
//     stage.buildDependencies  dependencies used by the install script rather than imported by dist
//   (peerDependencies are the user's: imported, never bundled, their ranges left wide)
//   packages/<dir>/*            files of that package alone (its README, the SDK's bin)
// It bundles the sources once with tsdown (into <out>/dist, apart from the checkout's dist/), stages each package
// in <out>/stage/<dir>, checks its dependencies against what its files import, and runs `npm pack` there.
//
//   node scripts/pack.mjs [--out DIR] [--dist DIR]   (default --out build/packages; --dist: use this bundle)
// Prints a JSON list of { name, dir, version, tarball, files } and writes it to <out>/packages.json.
// A dependency rule broken (an import the manifest does not declare, a range that differs from the root
// package.json, a declared dependency nothing uses) stops it with one line per problem and exit code 1.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { init, parse } from 'es-module-lexer';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const { values } = parseArgs({ options: { out: { type: 'string' }, dist: { type: 'string' } } });
const out = resolve(values.out ?? join(root, 'build', 'packages'));
const npmCli = process.env.npm_execpath?.endsWith('.js') ? process.env.npm_execpath : null;

/** Runs npm (the one running this script when there is one) and returns its stdout. */
function npm(args, cwd) {
  const [file, argv] = npmCli ? [process.execPath, [npmCli, ...args]] : ['npm', args];
  return execFileSync(file, argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/** The bundle: tsdown with the repository's config and the dashboard's Vite build, written to `<out>/dist`. */
function bundle() {
  if (values.dist) return resolve(values.dist);
  const dist = join(out, 'dist');
  const tsdown = createRequire(join(root, 'package.json')).resolve('tsdown/package.json');
  const bin = join(dirname(tsdown), JSON.parse(readFileSync(tsdown, 'utf8')).bin.tsdown);
  execFileSync(process.execPath, [bin, '--out-dir', dist, '--log-level', 'error'], {
    cwd: root,
    stdio: 'inherit',
  });
  // The dashboard the emulator serves at `/`: web/ built by Vite into <dist>/web, beside the bundle.
  const viteManifest = createRequire(join(root, 'package.json')).resolve('vite/package.json');
  const vite = join(dirname(viteManifest), JSON.parse(readFileSync(viteManifest, 'utf8')).bin.vite);
  execFileSync(
    process.execPath,
    [vite, 'build', '--config', 'web/vite.config.ts', '--outDir', join(dist, 'web'), '--logLevel', 'error'],
    { cwd: root, stdio: 'inherit' },
  );
  return dist;
}

/** Relative module specifiers in a built file: ESM through the lexer, CommonJS requires and .d.ts by pattern. */
function specifiers(file, text) {
  if (file.endsWith('.js') || file.endsWith('.mjs')) {
    const [imports] = parse(text, file);
    return imports.map((i) => i.n).filter((n) => n !== undefined);
  }
  const found = [];
  const pattern = file.endsWith('.cjs') ? /\brequire\(\s*"([^"]+)"\s*\)/g : /\bfrom\s+["']([^"']+)["']/g;
  for (const match of text.matchAll(pattern)) found.push(match[1]);
  return found;
}

const builtins = new Set(builtinModules);
/** `fastify` for `fastify`, `@scope/name` for `@scope/name/sub`; null for relative paths and Node's own modules. */
function packageOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return builtins.has(name) ? null : name;
}

/** Copies a built entry and, transitively, the files it imports relatively; returns the packages it imports. */
function stageBuilt(dist, entry, stageDir, imported, seen) {
  const rel = relative('dist', entry);
  if (seen.has(rel)) return;
  seen.add(rel);
  const from = join(dist, rel);
  if (!existsSync(from)) throw new Error(`${entry} was not built (looked for ${from})`);
  const to = join(stageDir, 'dist', rel);
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true });
  if (!/\.(c|m)?js$|\.d\.c?ts$/.test(rel)) return;
  for (const spec of specifiers(rel, readFileSync(from, 'utf8'))) {
    if (spec.startsWith('./') || spec.startsWith('../')) {
      stageBuilt(dist, join('dist', dirname(rel), spec), stageDir, imported, seen);
    } else if (!/\.d\.c?ts$/.test(rel)) {
      // (declarations are matched by pattern, which would also catch examples in doc comments)
      const name = packageOf(spec);
      if (name !== null) imported.set(name, [...(imported.get(name) ?? []), join('dist', rel)]);
    }
  }
}

/** The rules that keep each package's dependencies honest; one message per broken rule. */
function dependencyProblems(dir, manifest, imported) {
  const problems = [];
  const declared = manifest.dependencies ?? {};
  const peers = manifest.peerDependencies ?? {};
  const where = `packages/${dir}/package.json`;
  const rootDeps = rootManifest.dependencies ?? {};
  for (const [name, files] of imported) {
    if (name === manifest.name || name in peers) continue;
    if (!(name in declared)) {
      const range = rootDeps[name];
      problems.push(
        `${where}: ${[...new Set(files)].join(', ')} import '${name}', which its "dependencies" do not declare; ` +
          (range
            ? `add "${name}": "${range}" there`
            : `add it to the root package.json "dependencies" (npm install ${name}) and to ${where}`),
      );
    }
  }
  const build = new Set(manifest.stage?.buildDependencies ?? []);
  for (const [name, range] of Object.entries(declared)) {
    if (rootDeps[name] !== range) {
      problems.push(
        `${where}: "${name}": "${range}" differs from the root package.json "dependencies" ` +
          `(${rootDeps[name] ? `"${rootDeps[name]}"` : 'absent'}); the root's range is the one the lockfile pins and the tests run`,
      );
    }
    if (!imported.has(name) && !build.has(name)) {
      problems.push(`${where}: "${name}" is declared but nothing in the package imports it; remove it`);
    }
  }
  return problems;
}

await init;
const dist = bundle();
rmSync(join(out, 'stage'), { recursive: true, force: true });
const packed = [];
const problems = [];
for (const dir of readdirSync(join(root, 'packages')).sort()) {
  const source = join(root, 'packages', dir);
  if (!existsSync(join(source, 'package.json'))) continue;
  const manifest = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'));
  const stageDir = join(out, 'stage', dir);
  mkdirSync(stageDir, { recursive: true });
  cpSync(source, stageDir, { recursive: true, filter: (path) => path !== join(source, 'package.json') });
  for (const path of manifest.stage?.copy ?? [])
    cpSync(join(root, path), join(stageDir, path), { recursive: true });
  const imported = new Map();
  const seen = new Set();
  for (const entry of manifest.stage?.entries ?? []) stageBuilt(dist, entry, stageDir, imported, seen);
  problems.push(...dependencyProblems(dir, manifest, imported));
  const { stage: _stage, name, ...rest } = manifest;
  const published = { name, version: rootManifest.version, ...rest };
  writeFileSync(join(stageDir, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);
  packed.push({ dir, stageDir, name });
}
if (problems.length > 0) {
  for (const problem of problems) console.error(`pack: ${problem}`);
  process.exit(1);
}
const result = [];
for (const { dir, stageDir, name } of packed) {
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', out], stageDir));
  result.push({
    name,
    dir,
    version: info.version,
    tarball: join(out, info.filename),
    files: info.files.map((f) => f.path).sort(),
  });
}
writeFileSync(join(out, 'packages.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
