/**
 * bench/gguf.ts — converts a Hugging Face model folder as the engine reads it (config.json + safetensors, one file or
 * sharded with model.safetensors.index.json; F32, BF16 or F16 tensors) to one GGUF v3 file that llama.cpp loads, so
 * `npm run bench:generate` runs llama.cpp on the very weights tunekit runs. Written from the GGUF specification
 * (ggml's docs/gguf.md) and llama.cpp's tensor naming; no code of llama.cpp's converter.
 *
 *   npx tsx bench/gguf.ts MODEL_DIR OUT.gguf [--outtype f32|f16]
 *
 * Architectures: llama and mistral (GGUF arch `llama`: q/k rows permuted from the rotate-half RoPE layout of
 * transformers to the interleaved one llama.cpp applies for that arch) and qwen2 (GGUF arch `qwen2`, rotate-half
 * RoPE as in transformers, no permutation). A tied lm_head writes no output.weight (llama.cpp then reuses
 * token_embd). f16 stores the matrices in IEEE half (round to nearest even) and keeps norms and biases f32.
 *
 * Tokenizer: a byte-level BPE tokenizer.json (GPT-2 / Qwen2 / Llama 3 style) becomes `tokenizer.ggml.model = gpt2`
 * with tokens, token types (added special tokens are control tokens) and merges, plus bos/eos/pad ids and the chat
 * template from tokenizer_config.json. `tokenizer.ggml.pre` is `default`: llama.cpp's own pre-tokenizer for text is
 * chosen by hashing tokenizations in its Python converter, which this one does not reproduce, so llama.cpp may split
 * raw text differently from transformers — token ids in, token ids out are exact. Ids past the tokenizer's tokens
 * (an embedding padded beyond the vocabulary) are written as unused tokens. A folder without tokenizer.json is
 * refused: llama.cpp's `no_vocab` mode loads, but node-llama-cpp aborts the process on it (it tokenizes at load).
 * Other tokenizers (SentencePiece-style BPE with byte fallback, Unigram, WordPiece), llama3 rope scaling and
 * sliding-window attention are refused with an error that names them.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { inspectSafetensors, loadConfig, type ModelConfig } from '../native/index';

export type GgufOutType = 'f32' | 'f16';

export interface ConvertOptions {
  modelDir: string;
  outFile: string;
  /** Storage of the matrices (default f32); norms and biases are always f32. */
  outType?: GgufOutType;
}

export interface ConvertResult {
  arch: 'llama' | 'qwen2';
  tensors: number;
  bytes: number;
  vocab: 'gpt2';
}

export class GgufConvertError extends Error {
  override name = 'GgufConvertError';
}

// GGUF metadata value types and ggml tensor types (gguf.md)
const T_UINT32 = 4;
const T_INT32 = 5;
const T_FLOAT32 = 6;
const T_BOOL = 7;
const T_STRING = 8;
const T_ARRAY = 9;
const GGML_F32 = 0;
const GGML_F16 = 1;
const ALIGNMENT = 32;

type MetaValue =
  | { type: 'u32' | 'i32' | 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'str'; value: string }
  | { type: 'str[]'; value: string[] }
  | { type: 'i32[]' | 'f32[]'; value: number[] };

/** Little-endian byte writer for the header (metadata + tensor infos). */
class Writer {
  private chunks: Buffer[] = [];
  length = 0;
  private push(b: Buffer) {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(v: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  i32(v: number) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.push(b);
  }
  u64(v: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  bytes(b: Buffer) {
    this.push(b);
  }
  value(v: MetaValue) {
    switch (v.type) {
      case 'u32':
        this.u32(T_UINT32);
        this.u32(v.value);
        return;
      case 'i32':
        this.u32(T_INT32);
        this.i32(v.value);
        return;
      case 'f32':
        this.u32(T_FLOAT32);
        this.f32(v.value);
        return;
      case 'bool':
        this.u32(T_BOOL);
        this.bytes(Buffer.from([v.value ? 1 : 0]));
        return;
      case 'str':
        this.u32(T_STRING);
        this.str(v.value);
        return;
      case 'str[]':
        this.u32(T_ARRAY);
        this.u32(T_STRING);
        this.u64(v.value.length);
        for (const s of v.value) this.str(s);
        return;
      case 'i32[]':
      case 'f32[]':
        this.u32(T_ARRAY);
        this.u32(v.type === 'i32[]' ? T_INT32 : T_FLOAT32);
        this.u64(v.value.length);
        for (const x of v.value) (v.type === 'i32[]' ? this.i32 : this.f32).call(this, x);
        return;
    }
  }
  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE binary32 → binary16 bits, round to nearest even; overflow → ±inf, NaN stays NaN. */
export function f32ToF16Bits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is the right result
  return sign | h;
}

function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

interface SourceTensor {
  name: string;
  dtype: string;
  shape: number[];
  file: string;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  nbytes: number;
}

async function listTensors(modelDir: string): Promise<Map<string, SourceTensor>> {
  const index = join(modelDir, 'model.safetensors.index.json');
  let files: string[];
  if (existsSync(index)) {
    const weightMap = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> })
      .weight_map;
    if (!weightMap) throw new GgufConvertError(`${index}: no weight_map`);
    files = [...new Set(Object.values(weightMap))].map((f) => join(modelDir, f));
  } else {
    files = [join(modelDir, 'model.safetensors')];
  }
  const out = new Map<string, SourceTensor>();
  for (const file of files) {
    const info = await inspectSafetensors(file); // validates the header strictly
    const head = Buffer.alloc(8);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, head, 0, 8, 0);
    } finally {
      closeSync(fd);
    }
    const dataStart = 8 + Number(head.readBigUInt64LE(0));
    for (const t of info.tensors) {
      out.set(t.name, {
        name: t.name,
        dtype: t.dtype,
        shape: t.shape,
        file,
        offset: dataStart + t.dataOffsets[0],
        nbytes: t.dataOffsets[1] - t.dataOffsets[0],
      });
    }
  }
  return out;
}

function readAsF32(t: SourceTensor): Float32Array {
  const raw = Buffer.alloc(t.nbytes);
  const fd = openSync(t.file, 'r');
  try {
    let done = 0;
    while (done < t.nbytes) {
      const n = readSync(fd, raw, done, t.nbytes - done, t.offset + done);
      if (n === 0) throw new GgufConvertError(`${t.file}: truncated data of ${t.name}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  const count = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  if (t.dtype === 'F32') {
    for (let i = 0; i < count; i++) out[i] = raw.readFloatLE(i * 4);
  } else if (t.dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u[i] = raw.readUInt16LE(i * 2) << 16;
  } else if (t.dtype === 'F16') {
    for (let i = 0; i < count; i++) out[i] = f16BitsToF32(raw.readUInt16LE(i * 2));
  } else {
    throw new GgufConvertError(`${t.name}: dtype ${t.dtype} is not supported (F32, BF16, F16)`);
  }
  return out;
}

/**
 * Rows of a q/k projection from transformers' rotate-half layout (per head: the first half of the rotary pairs, then
 * the second) to the interleaved pairs of llama.cpp's `llama` arch. `rows` = heads × headDim; works for biases too.
 */
function permuteRope(w: Float32Array, heads: number, cols: number): Float32Array {
  const headDim = w.length / cols / heads;
  const half = headDim / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h * headDim + j * half + i) * cols;
        const dst = (h * headDim + i * 2 + j) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

interface Planned {
  gguf: string;
  source: SourceTensor;
  ggmlType: number;
  /** ggml dims: innermost first (the reverse of the safetensors shape). */
  dims: number[];
  nbytes: number;
  offset: number;
  transform?: (w: Float32Array) => Float32Array;
}

const LAYER_NAMES: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.q_proj.bias': 'attn_q.bias',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.k_proj.bias': 'attn_k.bias',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.v_proj.bias': 'attn_v.bias',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
};

function ggufTensorName(hf: string): string | null {
  if (hf === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hf === 'model.norm.weight') return 'output_norm.weight';
  if (hf === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  if (m && LAYER_NAMES[m[2]!]) return `blk.${m[1]}.${LAYER_NAMES[m[2]!]}`;
  return null;
}

interface HfTokenizer {
  model?: {
    type?: string;
    vocab?: Record<string, number>;
    merges?: (string | [string, string])[];
    byte_fallback?: boolean;
  };
  pre_tokenizer?: unknown;
  added_tokens?: { id: number; content: string; special: boolean }[];
}

/** True when the tokenizer (or one of its Sequence parts) has a ByteLevel pre-tokenizer. */
function hasByteLevel(node: unknown): boolean {
  if (!node || typeof node !== 'object') return false;
  const n = node as { type?: string; pretokenizers?: unknown[] };
  if (n.type === 'ByteLevel') return true;
  return Array.isArray(n.pretokenizers) && n.pretokenizers.some(hasByteLevel);
}

function tokenizerMeta(modelDir: string, config: ModelConfig): Map<string, MetaValue> {
  const meta = new Map<string, MetaValue>();
  const file = join(modelDir, 'tokenizer.json');
  if (!existsSync(file)) {
    throw new GgufConvertError(
      `${modelDir}: no tokenizer.json (llama.cpp needs the tokenizer in the GGUF file)`,
    );
  }
  const tok = JSON.parse(readFileSync(file, 'utf8')) as HfTokenizer;
  if (tok.model?.type !== 'BPE' || tok.model.byte_fallback || !hasByteLevel(tok.pre_tokenizer)) {
    throw new GgufConvertError(
      `${file}: only byte-level BPE tokenizers are supported (this one is ${tok.model?.type ?? 'unknown'}` +
        `${tok.model?.byte_fallback ? ' with byte fallback' : ''}${hasByteLevel(tok.pre_tokenizer) ? '' : ', no ByteLevel pre-tokenizer'})`,
    );
  }
  const tokens: (string | undefined)[] = new Array(config.vocab_size);
  const types = new Array<number>(config.vocab_size).fill(1); // 1 normal
  for (const [s, id] of Object.entries(tok.model.vocab ?? {})) if (id < config.vocab_size) tokens[id] = s;
  for (const a of tok.added_tokens ?? []) {
    if (a.id >= config.vocab_size) {
      throw new GgufConvertError(`${file}: added token ${a.id} is outside vocab_size ${config.vocab_size}`);
    }
    tokens[a.id] = a.content;
    types[a.id] = a.special ? 3 : 4; // control / user defined
  }
  // ids the tokenizer never produces (the embedding matrix is padded past the vocabulary): unused tokens
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = 5; // unused
    }
  }
  const merges = (tok.model.merges ?? []).map((m) => (typeof m === 'string' ? m : m.join(' ')));
  meta.set('tokenizer.ggml.model', { type: 'str', value: 'gpt2' });
  meta.set('tokenizer.ggml.pre', { type: 'str', value: 'default' });
  meta.set('tokenizer.ggml.tokens', { type: 'str[]', value: tokens as string[] });
  meta.set('tokenizer.ggml.token_type', { type: 'i32[]', value: types });
  meta.set('tokenizer.ggml.merges', { type: 'str[]', value: merges });
  const eos = Array.isArray(config.eos_token_id) ? config.eos_token_id[0] : config.eos_token_id;
  if (config.bos_token_id != null)
    meta.set('tokenizer.ggml.bos_token_id', { type: 'u32', value: config.bos_token_id });
  if (eos != null) meta.set('tokenizer.ggml.eos_token_id', { type: 'u32', value: eos });
  if (config.pad_token_id != null)
    meta.set('tokenizer.ggml.padding_token_id', { type: 'u32', value: config.pad_token_id });
  const tcFile = join(modelDir, 'tokenizer_config.json');
  if (existsSync(tcFile)) {
    const tc = JSON.parse(readFileSync(tcFile, 'utf8')) as {
      add_bos_token?: boolean;
      chat_template?: unknown;
    };
    meta.set('tokenizer.ggml.add_bos_token', { type: 'bool', value: tc.add_bos_token === true });
    if (typeof tc.chat_template === 'string')
      meta.set('tokenizer.chat_template', { type: 'str', value: tc.chat_template });
  }
  return meta;
}

/** Converts `modelDir` to `outFile` (written to a temporary name, renamed when complete). */
export async function convertToGguf(options: ConvertOptions): Promise<ConvertResult> {
  const modelDir = resolve(options.modelDir);
  const outType = options.outType ?? 'f32';
  if (outType !== 'f32' && outType !== 'f16')
    throw new GgufConvertError(`outType ${String(outType)}: use f32 or f16`);
  const config = await loadConfig(modelDir);
  const arch = config.model_type === 'qwen2' ? 'qwen2' : 'llama';
  if (config.rope_scaling) {
    throw new GgufConvertError(
      `${modelDir}: rope_scaling ${config.rope_scaling.rope_type} is not supported by this converter`,
    );
  }
  if (typeof config.sliding_window === 'number' && config.sliding_window > 0) {
    throw new GgufConvertError(
      `${modelDir}: sliding_window ${config.sliding_window} is not supported (llama.cpp's ${arch} attends the whole context)`,
    );
  }
  const source = await listTensors(modelDir);
  const meta = new Map<string, MetaValue>();
  meta.set('general.architecture', { type: 'str', value: arch });
  meta.set('general.name', { type: 'str', value: modelDir.split('/').filter(Boolean).at(-1) ?? 'model' });
  meta.set('general.file_type', { type: 'u32', value: outType === 'f32' ? 0 : 1 });
  meta.set('general.alignment', { type: 'u32', value: ALIGNMENT });
  meta.set(`${arch}.context_length`, { type: 'u32', value: config.max_position_embeddings });
  meta.set(`${arch}.embedding_length`, { type: 'u32', value: config.hidden_size });
  meta.set(`${arch}.block_count`, { type: 'u32', value: config.num_hidden_layers });
  meta.set(`${arch}.feed_forward_length`, { type: 'u32', value: config.intermediate_size });
  meta.set(`${arch}.attention.head_count`, { type: 'u32', value: config.num_attention_heads });
  meta.set(`${arch}.attention.head_count_kv`, { type: 'u32', value: config.num_key_value_heads });
  meta.set(`${arch}.attention.key_length`, { type: 'u32', value: config.head_dim });
  meta.set(`${arch}.attention.value_length`, { type: 'u32', value: config.head_dim });
  meta.set(`${arch}.rope.dimension_count`, { type: 'u32', value: config.head_dim });
  meta.set(`${arch}.rope.freq_base`, { type: 'f32', value: config.rope_theta });
  meta.set(`${arch}.attention.layer_norm_rms_epsilon`, { type: 'f32', value: config.rms_norm_eps });
  for (const [k, v] of tokenizerMeta(modelDir, config)) meta.set(k, v);

  const planned: Planned[] = [];
  let offset = 0;
  for (const t of source.values()) {
    const name = ggufTensorName(t.name);
    if (name === null) {
      if (/rotary_emb\.inv_freq$/.test(t.name)) continue; // recomputed by llama.cpp
      throw new GgufConvertError(`${t.name}: no GGUF name for this tensor`);
    }
    if (name === 'output.weight' && config.tie_word_embeddings) continue;
    const matrix = t.shape.length === 2;
    const ggmlType = matrix && outType === 'f16' ? GGML_F16 : GGML_F32;
    const count = t.shape.reduce((a, b) => a * b, 1);
    const nbytes = count * (ggmlType === GGML_F16 ? 2 : 4);
    let transform: Planned['transform'];
    if (arch === 'llama' && /attn_[qk]\./.test(name)) {
      const heads = name.includes('attn_q') ? config.num_attention_heads : config.num_key_value_heads;
      const cols = matrix ? t.shape[1]! : 1;
      transform = (w) => permuteRope(w, heads, cols);
    }
    planned.push({
      gguf: name,
      source: t,
      ggmlType,
      dims: [...t.shape].reverse(),
      nbytes,
      offset,
      transform,
    });
    offset += Math.ceil(nbytes / ALIGNMENT) * ALIGNMENT;
  }
  const required = ['token_embd.weight', 'output_norm.weight'];
  if (!config.tie_word_embeddings) required.push('output.weight');
  for (const r of required) {
    if (!planned.some((p) => p.gguf === r))
      throw new GgufConvertError(`${modelDir}: tensor for ${r} is missing`);
  }

  const w = new Writer();
  w.bytes(Buffer.from('GGUF', 'latin1'));
  w.u32(3);
  w.u64(planned.length);
  w.u64(meta.size);
  for (const [k, v] of meta) {
    w.str(k);
    w.value(v);
  }
  for (const p of planned) {
    w.str(p.gguf);
    w.u32(p.dims.length);
    for (const d of p.dims) w.u64(d);
    w.u32(p.ggmlType);
    w.u64(p.offset);
  }
  const pad = (ALIGNMENT - (w.length % ALIGNMENT)) % ALIGNMENT;
  w.bytes(Buffer.alloc(pad));
  const header = w.buffer();

  const outFile = resolve(options.outFile);
  const tmp = `${outFile}.partial-${process.pid}`;
  let fd: number | null = openSync(tmp, 'w');
  try {
    writeSync(fd, header);
    let written = 0;
    for (const p of planned) {
      let data = readAsF32(p.source);
      if (p.transform) data = p.transform(data);
      let bytes: Buffer;
      if (p.ggmlType === GGML_F16) {
        bytes = Buffer.alloc(data.length * 2);
        for (let i = 0; i < data.length; i++) bytes.writeUInt16LE(f32ToF16Bits(data[i]!), i * 2);
      } else {
        bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      }
      if (written !== p.offset) writeSync(fd, Buffer.alloc(p.offset - written));
      writeSync(fd, bytes);
      written = p.offset + bytes.length;
    }
    const end = offset - written;
    if (end > 0) writeSync(fd, Buffer.alloc(end));
    closeSync(fd);
    fd = null;
    renameSync(tmp, outFile);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  return { arch, tensors: planned.length, bytes: header.length + offset, vocab: 'gpt2' };
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { outtype: { type: 'string', default: 'f32' } },
  });
  if (positionals.length !== 2) {
    console.error('usage: npx tsx bench/gguf.ts MODEL_DIR OUT.gguf [--outtype f32|f16]');
    process.exit(2);
  }
  const r = await convertToGguf({
    modelDir: positionals[0]!,
    outFile: positionals[1]!,
    outType: values.outtype as GgufOutType,
  });
  console.log(`${positionals[1]}: ${r.arch}, ${r.tensors} tensors, ${r.bytes} bytes, vocab ${r.vocab}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
