/**
 * Issue 17: the packages install as users install them. scripts/pack.mjs packs `tunekit` (the SDK) and
 * `@tunekit/emulator` (emulator, command line, engine); each tarball is installed with `npm install <tarball>` into a
 * fresh app in a temp folder: the SDK with a PATH that has no cmake and no compiler, the emulator with the
 * toolchain (its install builds the engine and the built-in model: the one native build of this file).
 * Install times, installed sizes and dependency counts are printed for the record.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  diskBytes,
  filesMatching,
  installApp,
  installedPackages,
  nodeOnlyPath,
  type PackedPackage,
  packAll,
  repoRoot,
  toolsOnPath,
  userEnv,
} from './install';

const MINUTES = 60_000;
let work: string;
let packages: PackedPackage[];
let sdkApp: string;
let emulatorApp: string;
let nodeOnly: string;
const children: ChildProcess[] = [];

function packed(name: string): PackedPackage {
  const found = packages.find((p) => p.name === name);
  if (!found) throw new Error(`scripts/pack.mjs did not pack ${name}`);
  return found;
}

function manifest(dir: string): {
  files: string[];
  dependencies?: Record<string, string>;
  stage?: { entries?: string[]; copy?: string[] };
} {
  return JSON.parse(readFileSync(join(repoRoot, 'packages', dir, 'package.json'), 'utf8'));
}

const megabytes = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tunekit-packaging-'));
  packages = packAll(join(work, 'packs'));
  nodeOnly = nodeOnlyPath(join(work, 'node-only-bin'));

  sdkApp = join(work, 'sdk-app');
  const sdk = installApp(sdkApp, [packed('tunekit').tarball], userEnv({ PATH: nodeOnly }));
  const sdkDeps = installedPackages(join(sdkApp, 'node_modules'));
  console.log(
    `packaging: tunekit installed in ${sdk.seconds.toFixed(1)} s (no toolchain on PATH), ` +
      `${megabytes(diskBytes(join(sdkApp, 'node_modules')))} MiB, ${sdkDeps.size - 1} runtime packages ` +
      `(${[...sdkDeps.keys()].filter((n) => n !== 'tunekit').join(', ')})`,
  );

  // The emulator app gets the SDK too, to drive the emulator as a user would. ccache, where the machine has it,
  // only speeds up the engine's build in repeated local runs (CI has none); base_dir makes its hits independent
  // of the temp folder.
  emulatorApp = join(work, 'emulator-app');
  const ccache = spawnSync('ccache', ['--version']).error === undefined;
  const env = userEnv(ccache ? { CCACHE_BASEDIR: emulatorApp, CMAKE_CXX_COMPILER_LAUNCHER: 'ccache' } : {});
  const emulator = installApp(
    emulatorApp,
    [packed('@tunekit/emulator').tarball, packed('tunekit').tarball],
    env,
  );
  const emulatorDeps = installedPackages(join(emulatorApp, 'node_modules'));
  console.log(
    `packaging: @tunekit/emulator + tunekit installed in ${emulator.seconds.toFixed(1)} s` +
      `${ccache ? ' (with ccache)' : ''}, ${megabytes(diskBytes(join(emulatorApp, 'node_modules')))} MiB ` +
      `(the package itself ${megabytes(diskBytes(join(emulatorApp, 'node_modules', '@tunekit', 'emulator')))} MiB), ` +
      `${emulatorDeps.size - 2} other packages`,
  );
}, 40 * MINUTES);

afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the tarballs', () => {
  it('hold exactly what the manifests promise: no tests, fixtures or build folders', () => {
    for (const pkg of packages) {
      const { files } = manifest(pkg.dir);
      const stageDir = join(work, 'packs', 'stage', pkg.dir);
      expect(pkg.files, pkg.name).toEqual(filesMatching(stageDir, /./).sort());
      for (const file of pkg.files) {
        expect(file, `${pkg.name}: ${file}`).not.toMatch(
          /(^|\/)(test|tests|fixtures|build|bench|node_modules)\//,
        );
        expect(file, `${pkg.name}: ${file}`).not.toMatch(/\.(test|spec)\.|\.tsbuildinfo$|\.log$/);
        expect(
          files.some((entry) => file === entry || file.startsWith(`${entry}/`)) || file === 'package.json',
          `${pkg.name}: ${file} is outside its "files"`,
        ).toBe(true);
      }
    }
    expect(packed('tunekit').files).toEqual([
      'README.md',
      'bin/tunekit.js',
      'dist/index.cjs',
      'dist/index.d.cts',
      'dist/index.d.ts',
      'dist/index.js',
      'package.json',
    ]);
  });

  it('ship every native source the build needs, exactly the tracked ones', () => {
    const emulator = packed('@tunekit/emulator');
    const copied = manifest(emulator.dir).stage?.copy ?? [];
    const tracked = execFileSync('git', ['ls-files', '--', ...copied], { cwd: repoRoot, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    expect(tracked).toContain('native/tools/make_builtin_model.cpp');
    expect(
      emulator.files.filter((f) => !f.startsWith('dist/') && f !== 'README.md' && f !== 'package.json'),
    ).toEqual(tracked.sort());
    expect(emulator.files).toEqual(
      expect.arrayContaining(['dist/cli.js', 'dist/trainer.js', 'dist/inference.js', 'dist/web/index.html']),
    );
  });
});

describe('tunekit (the SDK)', () => {
  it('installed with a PATH that has no cmake and no compiler, and has no native code or server framework', () => {
    expect(toolsOnPath(nodeOnly)).toEqual([]);
    const installed = installedPackages(join(sdkApp, 'node_modules'));
    const declared = Object.keys(manifest('tunekit').dependencies ?? {});
    expect(declared.sort()).toEqual(['eventsource-parser', 'tar', 'undici']);
    for (const name of ['fastify', 'better-sqlite3', 'cmake-js', 'node-addon-api', '@tunekit/emulator']) {
      expect(installed.has(name), name).toBe(false);
    }
    expect(filesMatching(join(sdkApp, 'node_modules'), /\.node$|^binding\.gyp$|^CMakeLists\.txt$/)).toEqual(
      [],
    );
  });

  it('loads with require() and import, with its types beside', () => {
    const env = userEnv({ PATH: nodeOnly });
    const cjs = execFileSync(
      process.execPath,
      [
        '-e',
        "const t = require('tunekit'); console.log(typeof t.Tunekit, new t.default({ apiKey: 'k' }).baseURL)",
      ],
      { cwd: sdkApp, env, encoding: 'utf8' },
    );
    expect(cjs.trim()).toBe('function http://127.0.0.1:4100/v1');
    const esm = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import Tunekit, { NotFoundError } from 'tunekit'; console.log(typeof NotFoundError, new Tunekit({ apiKey: 'k' }).baseURL)",
      ],
      { cwd: sdkApp, env, encoding: 'utf8' },
    );
    expect(esm.trim()).toBe('function http://127.0.0.1:4100/v1');
    for (const file of ['index.d.ts', 'index.d.cts']) {
      expect(existsSync(join(sdkApp, 'node_modules', 'tunekit', 'dist', file)), file).toBe(true);
    }
  });

  it('its `tunekit` command tells an SDK-only user, in one line, what to install', () => {
    const result = spawnSync(join(sdkApp, 'node_modules', '.bin', 'tunekit'), ['emulator'], {
      cwd: sdkApp,
      env: userEnv({ PATH: nodeOnly }),
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('npm install --save-dev @tunekit/emulator');
  });
});

describe('@tunekit/emulator', () => {
  it('built the engine and the built-in model at install, and kept only those of the build folder', () => {
    const build = join(emulatorApp, 'node_modules', '@tunekit', 'emulator', 'native', 'build');
    expect(readdirSync(build).sort()).toEqual(['Release', 'models']);
    expect(readdirSync(join(build, 'Release'))).toEqual(['tunekit.node']);
    expect(existsSync(join(build, 'models', 'tunekit-tiny-chat', 'model.safetensors'))).toBe(true);
  });

  it('says in one line what is missing when a rebuild finds no cmake, and leaves the built engine alone', () => {
    const pkg = join(emulatorApp, 'node_modules', '@tunekit', 'emulator');
    const result = spawnSync(process.execPath, [join(pkg, 'scripts', 'build-native.mjs'), '--installed'], {
      cwd: pkg,
      env: userEnv({ PATH: nodeOnly }),
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^@tunekit\/emulator: cannot build the native engine: cmake was not found on PATH; install cmake >= 3\.25 and a C\+\+20 compiler/,
      ),
    ]);
    expect(existsSync(join(pkg, 'native', 'build', 'Release', 'tunekit.node'))).toBe(true);
  });

  it('its command line runs, also through the SDK package`s `tunekit` command', () => {
    const bin = join(emulatorApp, 'node_modules', '.bin');
    for (const command of [join(bin, 'tunekit-emulator'), join(bin, 'tunekit')]) {
      const result = spawnSync(command, ['emulator', '--help'], {
        cwd: emulatorApp,
        env: userEnv(),
        encoding: 'utf8',
      });
      expect(result.status, `${command}: ${result.stderr}`).toBe(0);
      expect(result.stdout).toContain('Usage: tunekit emulator');
    }
  });

  it(
    'starts, serves /health, trains a tiny job through the installed SDK, answers with the tuned model, and stops',
    async () => {
      const dataDir = join(work, 'emulator-data');
      const child = spawn(
        join(emulatorApp, 'node_modules', '.bin', 'tunekit-emulator'),
        ['emulator', '--port', '0', '--data-dir', dataDir],
        { cwd: emulatorApp, env: userEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        void exited.then((code) =>
          reject(new Error(`the emulator exited (${code}) before its URL:\n${stderr}`)),
        );
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);

      const health = await fetch(new URL('/health', url));
      expect(health.status).toBe(200);

      const script = join(emulatorApp, 'train.mjs');
      writeFileSync(
        script,
        `import Tunekit, { toFile } from 'tunekit';
const client = new Tunekit({ apiKey: 'packaging-test', baseURL: process.argv[2] });
const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ messages: [
  { role: 'user', content: 'Code word ' + i + '?' }, { role: 'assistant', content: 'w' + i } ] }));
const file = await client.files.create({ file: await toFile(Buffer.from(lines.join('\\n') + '\\n'), 'tiny.jsonl'), purpose: 'fine-tune' });
const job = await client.fineTuning.jobs.create({ model: 'tunekit-tiny-chat', training_file: file.id, seed: 7,
  method: { type: 'supervised', supervised: { hyperparameters: { n_epochs: 1, batch_size: 4 } } } });
const done = await client.fineTuning.jobs.wait(job.id);
if (done.status !== 'succeeded') throw new Error('job ' + done.status + ': ' + JSON.stringify(done.error));
const chat = await client.chat.completions.create({ model: done.fine_tuned_model ?? 'none', max_tokens: 4,
  messages: [{ role: 'user', content: 'Code word 1?' }] });
console.log(JSON.stringify({ status: done.status, error: done.error, model: done.fine_tuned_model,
  trained_tokens: done.trained_tokens, content: chat.choices[0].message.content, chatModel: chat.model }));
`,
      );
      const result = JSON.parse(
        execFileSync(process.execPath, [script, url], { cwd: emulatorApp, env: userEnv(), encoding: 'utf8' }),
      ) as {
        status: string;
        error: unknown;
        model: string;
        trained_tokens: number;
        content: string;
        chatModel: string;
      };
      expect(result).toMatchObject({ status: 'succeeded', error: null });
      expect(result.model).toMatch(/^ft:tunekit-tiny-chat:/);
      expect(result.trained_tokens).toBeGreaterThan(0);
      expect(result.chatModel).toBe(result.model);
      expect(typeof result.content).toBe('string');

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    },
    10 * MINUTES,
  );
});

/**
 * Issue 18: the runner recipes in examples/testing, run as users run them, from the installed app (its
 * @tunekit/emulator is the packed one; the runner and the `openai` SDK are linked from this repository's
 * node_modules, pinned by its lockfile). Each must pass and leave no emulator folder and no process behind.
 */
describe('the testing recipes (examples/testing)', () => {
  const recipes: Record<string, (dir: string) => string[]> = {
    'node-test': (dir) => [process.execPath, '--test', join(dir, 'fine-tune.test.mjs')],
    msw: (dir) => [process.execPath, '--test', join(dir, 'fine-tune.test.mjs')],
    vitest: (dir) => [
      process.execPath,
      join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      '--root',
      dir,
      '--config',
      join(dir, 'vitest.config.mjs'),
    ],
  };
  for (const [name, command] of Object.entries(recipes)) {
    it(
      `${name}: starts the emulator, fine-tunes through openai, the tuned model answers, nothing is left`,
      () => {
        const recipes = join(emulatorApp, 'recipes');
        if (!existsSync(recipes)) {
          cpSync(join(repoRoot, 'examples', 'testing'), recipes, { recursive: true });
          for (const dep of ['openai', 'vitest', 'msw']) {
            symlinkSync(join(repoRoot, 'node_modules', dep), join(emulatorApp, 'node_modules', dep));
          }
        }
        const tmp = join(work, `tmp-${name}`);
        mkdirSync(tmp);
        const marker = `tunekit-recipe-${name}-${process.pid}`;
        const [file, ...args] = command(join(recipes, name));
        const result = spawnSync(file!, args, {
          cwd: join(recipes, name),
          env: userEnv({ TMPDIR: tmp, TUNEKIT_RECIPE_MARKER: marker, CI: '1' }),
          encoding: 'utf8',
          timeout: 5 * MINUTES,
        });
        expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
        expect(readdirSync(tmp).filter((entry) => entry.startsWith('tunekit-emulator-'))).toEqual([]);
        expect(processesWith(marker)).toEqual([]);
      },
      6 * MINUTES,
    );
  }
});

/** Pids of live processes whose environment holds `marker` (Linux /proc). */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(`TUNEKIT_RECIPE_MARKER=${marker}`)) {
        found.push(Number(entry));
      }
    } catch {
      // ended, or not ours to read
    }
  }
  return found;
}
