/**
 * A tokenizer folder like the built-in model's (native/tools/make_builtin_model.cpp): byte-level BPE with no merges
 * (ids 0..255 are the bytes), <|im_start|> = 256, <|im_end|> = 257, and a ChatML chat template.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** GPT-2's byte-to-unicode table: printable bytes map to themselves, the others to U+0100 onwards. */
function byteSymbols(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(printable(b) ? b : next++));
  return out;
}

const CHATML =
  '{% for message in messages %}' +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  '{% endfor %}' +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

function addedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

const byteLevel = (addPrefixSpace: boolean, trimOffsets: boolean, useRegex: boolean) => ({
  type: 'ByteLevel',
  add_prefix_space: addPrefixSpace,
  trim_offsets: trimOffsets,
  use_regex: useRegex,
});

export interface ByteTokenizerOptions {
  chatTemplate?: string;
  /** More special tokens, numbered from 258 (after <|im_start|> and <|im_end|>). */
  extraSpecialTokens?: string[];
  eosToken?: string;
  bosToken?: string;
}

export function writeByteTokenizer(dir: string, options: ByteTokenizerOptions = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  const vocab = Object.fromEntries(byteSymbols().map((symbol, id) => [symbol, id]));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      addedToken(256, '<|im_start|>'),
      addedToken(257, '<|im_end|>'),
      ...(options.extraSpecialTokens ?? []).map((content, i) => addedToken(258 + i, content)),
    ],
    normalizer: null,
    pre_tokenizer: byteLevel(false, true, false),
    post_processor: byteLevel(false, false, false),
    decoder: byteLevel(true, true, true),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
  const config = {
    added_tokens_decoder: {
      '256': { ...addedToken(256, '<|im_start|>'), id: undefined },
      '257': { ...addedToken(257, '<|im_end|>'), id: undefined },
    },
    bos_token: options.bosToken ?? null,
    chat_template: options.chatTemplate ?? CHATML,
    clean_up_tokenization_spaces: false,
    eos_token: options.eosToken ?? '<|im_end|>',
    model_max_length: 1024,
    pad_token: '<|im_end|>',
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: null,
  };
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  return dir;
}

/** Byte ids of a string, as the byte tokenizer encodes plain text. */
export function bytes(text: string): number[] {
  return [...Buffer.from(text, 'utf8')];
}

export const IM_START = 256;
export const IM_END = 257;
