// Child of cpu-dispatch.test.ts: runs under the TUNEKIT_CPU its parent set and prints, as one JSON line, the kernel
// path the engine chose and the max relative error of the fixture model's logits against transformers'.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { engineInfo, logits } from '../../native/index';
import { maxRelError, readF32Safetensors } from './helpers';

const dir = join(import.meta.dirname, '..', 'fixtures', 'llama-tiny');
const ref = readF32Safetensors(join(dir, 'reference.safetensors'));
const batch = JSON.parse(readFileSync(join(dir, 'batch.json'), 'utf8')) as { input_ids: number[] }[];
try {
  const cpu = engineInfo().cpu;
  let error = 0;
  for (const [i, example] of batch.entries()) {
    const out = await logits({
      modelDir: join(dir, 'model'),
      adapterDir: join(dir, 'lora_init'),
      ids: example.input_ids,
      threads: 2,
    });
    error = Math.max(error, maxRelError(out.logits, ref.get(`logits.${i}`)!.data));
  }
  console.log(JSON.stringify({ cpu, error }));
} catch (e) {
  console.log(JSON.stringify({ failed: (e as Error).message }));
}
