import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelTokenizer } from '../../../emulator/data';
import { TokenBytes } from '../../../emulator/serving/token-bytes';
import { builtinModelDir } from '../../../native/index';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('TokenBytes', () => {
  it("gives each token's bytes for the built-in byte-level tokenizer, so a text's tokens spell its bytes", () => {
    const dir = builtinModelDir();
    const tokenBytes = TokenBytes.load(dir);
    const tokenizer = ModelTokenizer.load(dir);
    const text = 'Capital of Norway? Oslo — “naïve” 😀';
    const spelled = tokenizer.encode(text).flatMap((id) => tokenBytes.bytes(id));
    expect(Buffer.from(spelled).equals(Buffer.from(text, 'utf8'))).toBe(true);
    const all = new Set(Array.from({ length: 256 }, (_, id) => tokenBytes.bytes(id)[0]));
    expect(all.size).toBe(256);
  });

  it('names a special token by its text and a partial character in bytes: form', () => {
    const tokenBytes = TokenBytes.load(builtinModelDir());
    const tokenizer = ModelTokenizer.load(builtinModelDir());
    expect(tokenBytes.text(tokenizer.eosTokenId as number)).toBe('<|im_end|>');
    const [first] = tokenizer.encode('€');
    expect(tokenBytes.text(first as number)).toBe('bytes:\\xe2');
    expect(tokenBytes.bytes(first as number)).toEqual([0xe2]);
    expect(tokenBytes.text(tokenizer.encode('A')[0] as number)).toBe('A');
  });

  it('reads SentencePiece-style vocabularies: ▁ is a space, <0xNN> is a byte', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunekit-token-bytes-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, 'tokenizer.json'),
      JSON.stringify({
        added_tokens: [{ id: 3, content: '</s>' }],
        decoder: {
          type: 'Sequence',
          decoders: [{ type: 'Replace' }, { type: 'ByteFallback' }, { type: 'Fuse' }],
        },
        model: { type: 'BPE', vocab: { '▁Hello': 0, '<0xE2>': 1, lo: 2, '</s>': 3 } },
      }),
    );
    const tokenBytes = TokenBytes.load(dir);
    expect(tokenBytes.text(0)).toBe(' Hello');
    expect(tokenBytes.bytes(1)).toEqual([0xe2]);
    expect(tokenBytes.text(1)).toBe('bytes:\\xe2');
    expect(tokenBytes.text(3)).toBe('</s>');
    expect(tokenBytes.bytes(99)).toEqual([]);
  });
});
