/**
 * The raw bytes of each token of a Hugging Face tokenizer, for OpenAI's `logprobs` (`token`, `bytes`): byte-level
 * BPE vocabularies (GPT-2's byte-to-unicode alphabet), SentencePiece-style ones (`▁` for a space, `<0xNN>` byte
 * fallback), and plain string vocabularies. A token that is not valid UTF-8 on its own (a piece of a multi-byte
 * character) is written `bytes:\xNN…`, as OpenAI writes such tokens.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface TokenizerJson {
  added_tokens?: { id: number; content: string }[];
  decoder?: { type?: string; decoders?: { type?: string }[] } | null;
  model?: { type?: string; vocab?: Record<string, number> | [string, number][] };
}

/** GPT-2's table from bytes to printable characters, inverted: character → byte. */
function byteLevelAlphabet(): Map<string, number> {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table = new Map<string, number>();
  for (const b of printable) table.set(String.fromCodePoint(b), b);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    if (printable.includes(b)) continue;
    table.set(String.fromCodePoint(256 + shifted), b);
    shifted++;
  }
  return table;
}

function decoderTypes(decoder: TokenizerJson['decoder']): string[] {
  if (!decoder) return [];
  if (decoder.type === 'Sequence') return (decoder.decoders ?? []).map((d) => d.type ?? '');
  return [decoder.type ?? ''];
}

const BYTE_FALLBACK = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class TokenBytes {
  private readonly pieces = new Map<number, string>();
  private readonly special = new Set<number>();
  private readonly byteLevel: Map<string, number> | null;
  private readonly metaspace: boolean;

  private constructor(json: TokenizerJson) {
    const vocab = json.model?.vocab;
    const entries = Array.isArray(vocab)
      ? vocab.map(([piece], id) => [piece, id] as const)
      : Object.entries(vocab ?? {});
    for (const [piece, id] of entries) this.pieces.set(id, piece);
    for (const token of json.added_tokens ?? []) {
      this.pieces.set(token.id, token.content);
      this.special.add(token.id);
    }
    const types = decoderTypes(json.decoder);
    this.byteLevel = types.includes('ByteLevel') ? byteLevelAlphabet() : null;
    this.metaspace =
      types.includes('Metaspace') || types.includes('Replace') || types.includes('ByteFallback');
  }

  static load(modelDir: string): TokenBytes {
    const file = path.join(modelDir, 'tokenizer.json');
    return new TokenBytes(JSON.parse(fs.readFileSync(file, 'utf8')) as TokenizerJson);
  }

  /** The bytes the token stands for in decoded text (an added token: its text). */
  bytes(id: number): number[] {
    const piece = this.pieces.get(id);
    if (piece === undefined) return [];
    if (this.special.has(id)) return [...Buffer.from(piece, 'utf8')];
    if (this.byteLevel) {
      const out: number[] = [];
      for (const char of piece) {
        const byte = this.byteLevel.get(char);
        if (byte === undefined) out.push(...Buffer.from(char, 'utf8'));
        else out.push(byte);
      }
      return out;
    }
    if (this.metaspace) {
      const fallback = BYTE_FALLBACK.exec(piece);
      if (fallback) return [Number.parseInt(fallback[1] as string, 16)];
      return [...Buffer.from(piece.replaceAll('▁', ' '), 'utf8')];
    }
    return [...Buffer.from(piece, 'utf8')];
  }

  /** The token as OpenAI shows it: its text, or `bytes:\xNN…` when its bytes are not UTF-8 on their own. */
  text(id: number): string {
    const bytes = this.bytes(id);
    try {
      return utf8.decode(Uint8Array.from(bytes));
    } catch {
      return `bytes:${bytes.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}`;
    }
  }
}
