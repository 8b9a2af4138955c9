import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, projectIdForKey, type Store } from '../../../emulator/store';
import {
  BUILTIN_MODEL,
  DEFAULT_HOSTED_MODELS,
  loadHostedModelTable,
  ModelRegistry,
} from '../../../emulator/worker/models';

const A = projectIdForKey('a');
const B = projectIdForKey('b');

let dir: string;
let store: Store;
let modelsDir: string;

function modelFolder(...parts: string[]): string {
  const folder = path.join(modelsDir, ...parts);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'config.json'), '{}');
  fs.writeFileSync(path.join(folder, 'tokenizer.json'), '{}');
  return folder;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunekit-models-'));
  store = openStore(path.join(dir, 'data'));
  modelsDir = path.join(dir, 'models');
  fs.mkdirSync(modelsDir);
});

afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('ModelRegistry', () => {
  it('maps hosted names to the built-in model unless a --models-dir folder of that name exists', () => {
    const qwen = modelFolder('Qwen', 'Qwen2.5-0.5B-Instruct');
    const registry = new ModelRegistry({ store, builtinDir: '/builtin', modelsDir });
    expect(registry.resolve(A, 'gpt-4o-mini-2024-07-18')).toEqual({
      id: 'gpt-4o-mini-2024-07-18',
      kind: 'hosted',
      modelDir: '/builtin',
      adapterDir: null,
      localId: BUILTIN_MODEL,
      merges: [],
    });
    expect(registry.resolve(A, 'Qwen/Qwen2.5-0.5B-Instruct')).toMatchObject({
      kind: 'local',
      modelDir: qwen,
    });
    expect(registry.resolve(A, BUILTIN_MODEL)).toMatchObject({ kind: 'builtin', modelDir: '/builtin' });
    expect(registry.resolve(A, 'no-such-model')).toBeUndefined();
    expect(registry.resolve(A, '../etc')).toBeUndefined();
  });

  it('lists the built-in model, local folders and hosted names, then the project’s fine-tuned models', () => {
    modelFolder('my-model');
    modelFolder('org', 'other');
    fs.mkdirSync(path.join(modelsDir, 'not-a-model'));
    const registry = new ModelRegistry({ store, builtinDir: '/builtin', modelsDir });
    expect(registry.localModels()).toEqual(['my-model', 'org/other']);
    const ids = registry.list(A).map((m) => m.id);
    expect(ids.slice(0, 3)).toEqual([BUILTIN_MODEL, 'my-model', 'org/other']);
    expect(ids).toEqual(expect.arrayContaining(Object.keys(DEFAULT_HOSTED_MODELS)));
    expect(registry.list(A).every((m) => m.object === 'model' && m.owned_by === 'system')).toBe(true);
  });

  it('resolves a project’s fine-tuned models and checkpoints to base weights plus adapter, invisible to others', () => {
    const registry = new ModelRegistry({ store, builtinDir: '/builtin' });
    const job = store.jobs.create(A, {
      params: { model: 'gpt-4o-mini-2024-07-18', training_file: 'file-x' },
      organizationId: 'org-a',
    });
    const peft = path.join(dir, 'peft');
    fs.mkdirSync(peft);
    fs.writeFileSync(
      path.join(peft, 'adapter_config.json'),
      '{"peft_type":"LORA","r":4,"lora_alpha":8,"target_modules":["q_proj"]}',
    );
    fs.writeFileSync(path.join(peft, 'adapter_model.safetensors'), 'x');
    const adapter = store.adapters.insert(A, {
      jobId: job.id,
      fineTunedModel: 'ft:gpt-4o-mini-2024-07-18:tunekit::abc',
      baseModel: 'gpt-4o-mini-2024-07-18',
      step: 3,
      sourceDir: peft,
    });
    store.models.register(A, {
      id: 'ft:gpt-4o-mini-2024-07-18:tunekit::abc',
      jobId: job.id,
      baseModel: 'gpt-4o-mini-2024-07-18',
      adapterId: adapter.id,
      weightsDir: null,
      checkpointStep: null,
      ownedBy: 'org-a',
    });
    expect(registry.resolve(A, 'ft:gpt-4o-mini-2024-07-18:tunekit::abc')).toEqual({
      id: 'ft:gpt-4o-mini-2024-07-18:tunekit::abc',
      kind: 'fine-tuned',
      modelDir: '/builtin',
      adapterDir: store.adapters.dir(A, adapter.id),
      localId: BUILTIN_MODEL,
      jobId: job.id,
      adapterId: adapter.id,
      merges: [],
    });
    expect(registry.resolve(B, 'ft:gpt-4o-mini-2024-07-18:tunekit::abc')).toBeUndefined();

    // A model tuned from that `ft:` model: its base is the first adapter merged into the built-in weights,
    // cached per adapter; the merge is listed until its folder exists.
    const merged = path.join(store.paths.root, 'merged', adapter.id);
    expect(registry.trainingBase(A, 'ft:gpt-4o-mini-2024-07-18:tunekit::abc')).toEqual({
      modelDir: merged,
      localId: BUILTIN_MODEL,
      merges: [{ modelDir: '/builtin', adapterDir: store.adapters.dir(A, adapter.id), outDir: merged }],
    });
    const second = store.adapters.insert(A, {
      jobId: job.id,
      fineTunedModel: 'ft:gpt-4o-mini-2024-07-18:tunekit::def',
      baseModel: 'ft:gpt-4o-mini-2024-07-18:tunekit::abc',
      step: 3,
      sourceDir: peft,
    });
    store.models.register(A, {
      id: 'ft:gpt-4o-mini-2024-07-18:tunekit::def',
      jobId: job.id,
      baseModel: 'ft:gpt-4o-mini-2024-07-18:tunekit::abc',
      adapterId: second.id,
      weightsDir: null,
      checkpointStep: null,
      ownedBy: 'org-a',
    });
    const chained = registry.resolve(A, 'ft:gpt-4o-mini-2024-07-18:tunekit::def');
    expect(chained).toMatchObject({ modelDir: merged, adapterDir: store.adapters.dir(A, second.id) });
    expect(chained?.merges.map((m) => m.outDir)).toEqual([merged]);
    fs.mkdirSync(merged, { recursive: true });
    fs.writeFileSync(path.join(merged, 'config.json'), '{}');
    expect(registry.resolve(A, 'ft:gpt-4o-mini-2024-07-18:tunekit::def')?.merges).toEqual([]);
    expect(
      registry.trainingBase(A, 'ft:gpt-4o-mini-2024-07-18:tunekit::def')?.merges.map((m) => m.outDir),
    ).toEqual([path.join(store.paths.root, 'merged', second.id)]);
    expect(registry.list(A).at(-1)).toMatchObject({
      id: 'ft:gpt-4o-mini-2024-07-18:tunekit::abc',
      owned_by: 'org-a',
    });
    expect(registry.list(B).some((m) => m.id.startsWith('ft:'))).toBe(false);
  });

  it('takes an override table from a JSON file and refuses a malformed one', () => {
    modelFolder('llama-local');
    const table = path.join(dir, 'table.json');
    fs.writeFileSync(table, JSON.stringify({ 'gpt-4o-mini': 'llama-local', 'my-alias': 'gpt-4o-mini' }));
    const registry = new ModelRegistry({
      store,
      builtinDir: '/builtin',
      modelsDir,
      hostedModels: loadHostedModelTable(table),
    });
    expect(registry.resolve(A, 'my-alias')).toMatchObject({ kind: 'hosted', localId: 'llama-local' });
    expect(registry.resolve(A, 'gpt-3.5-turbo')).toBeUndefined();
    fs.writeFileSync(table, '["gpt-4o-mini"]');
    expect(() => loadHostedModelTable(table)).toThrow(/expected a JSON object/);
    fs.writeFileSync(table, '{"a":"b","b":"a"}');
    expect(
      new ModelRegistry({ store, builtinDir: '/b', hostedModels: loadHostedModelTable(table) }).resolve(
        A,
        'a',
      ),
    ).toBeUndefined();
  });
});
