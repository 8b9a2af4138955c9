// Helpers of the native engine tests: temporary folders, an F32 safetensors reader, and the error measure of
// test/fixtures/README.md.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary folder; call `remove()` in afterAll/afterEach. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `tunekit-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Reads every F32 tensor of a safetensors file (other dtypes are an error: the fixtures are fp32). */
export function readF32Safetensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new Error(`${path}: ${name} is ${t.dtype}, expected F32`);
    const [begin, end] = t.data_offsets;
    const copy = Uint8Array.prototype.slice.call(bytes, 8 + n + begin, 8 + n + end);
    out.set(name, {
      shape: t.shape,
      data: new Float32Array(copy.buffer, copy.byteOffset, (end - begin) / 4),
    });
  }
  return out;
}

/** max_i |e_i - r_i| / max_i |r_i| (test/fixtures/README.md "Tolerances"). */
export function maxRelError(engine: ArrayLike<number>, reference: ArrayLike<number>): number {
  if (engine.length !== reference.length) throw new Error(`length ${engine.length} != ${reference.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    diff = Math.max(diff, Math.abs(engine[i]! - reference[i]!));
    scale = Math.max(scale, Math.abs(reference[i]!));
  }
  return diff / scale;
}
