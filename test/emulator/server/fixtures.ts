/** Objects a worker would write, put into the store directly so server tests need no trainer. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Adapter } from '../../../emulator/contract/adapters';
import type { Store } from '../../../emulator/store/index';
import { projectIdForKey } from '../../../emulator/store/projects';

/** A small PEFT folder: adapter_config.json and a valid one-tensor safetensors file. */
export function writePeftFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tunekit-peft-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'adapter_config.json'),
    JSON.stringify({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['v_proj', 'q_proj'] }),
  );
  const name = 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight';
  const header = JSON.stringify({ [name]: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } });
  const padded = header.padEnd(Math.ceil(header.length / 8) * 8, ' ');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(padded.length));
  const data = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
  writeFileSync(join(dir, 'adapter_model.safetensors'), Buffer.concat([length, Buffer.from(padded), data]));
  return dir;
}

/** Registers an adapter and its final model for `jobId`, as a finished job would. */
export function addFinishedArtifacts(store: Store, key: string, jobId: string, baseModel: string) {
  const projectId = projectIdForKey(key);
  const fineTunedModel = `ft:${baseModel}:tunekit::${jobId.slice(-8)}`;
  const adapter: Adapter = store.adapters.insert(projectId, {
    jobId,
    fineTunedModel,
    baseModel,
    step: 10,
    sourceDir: writePeftFolder(),
  });
  store.models.register(projectId, {
    id: fineTunedModel,
    jobId,
    baseModel,
    adapterId: adapter.id,
    weightsDir: null,
    checkpointStep: null,
    ownedBy: 'tunekit',
  });
  const checkpoint = store.checkpoints.insert({
    jobId,
    step: 10,
    metrics: { step: 10, train_loss: 0.5 },
    modelName: fineTunedModel,
    adapterId: adapter.id,
  });
  return { adapter, fineTunedModel, checkpoint };
}
