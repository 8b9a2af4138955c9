import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DataFormatError,
  DatasetError,
  encodeExample,
  IGNORE_INDEX,
  ModelTokenizer,
  parseJsonl,
  prepareDataset,
} from '../../../emulator/data';
import { encodeTokenFile } from '../../../native/index';
import { bytes, IM_END, IM_START, writeByteTokenizer } from './byte-tokenizer';

let dir: string;
let tokenizer: ModelTokenizer;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunekit-data-'));
  tokenizer = ModelTokenizer.load(writeByteTokenizer(path.join(dir, 'model')));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const chatLine = (q: string, a: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: q },
      { role: 'assistant', content: a },
    ],
  });

function parseError(text: string): string {
  try {
    parseJsonl(text);
  } catch (error) {
    expect(error).toBeInstanceOf(DataFormatError);
    return (error as Error).message;
  }
  throw new Error('expected a DataFormatError');
}

/** The labeled tokens decoded, one string per contiguous trained span. */
function trainedSpans(ids: number[], labels: number[]): string[] {
  const spans: string[] = [];
  let current: number[] = [];
  labels.forEach((label, t) => {
    if (label !== IGNORE_INDEX) {
      expect(label).toBe(ids[t]);
      current.push(label);
    } else if (current.length > 0) {
      spans.push(tokenizer.decode(current));
      current = [];
    }
  });
  if (current.length > 0) spans.push(tokenizer.decode(current));
  return spans;
}

describe('parseJsonl', () => {
  it('reads the chat, prompt/completion, Alpaca and ShareGPT formats', () => {
    expect(parseJsonl(`${chatLine('q', 'a')}\n\n`).format).toBe('chat');
    expect(parseJsonl('{"prompt":"p","completion":"c"}').examples[0]).toEqual({
      kind: 'completion',
      line: 1,
      prompt: 'p',
      completion: 'c',
    });
    expect(parseJsonl('{"instruction":"Add","input":"1 1","output":"2"}').examples[0]).toMatchObject({
      kind: 'chat',
      messages: [
        { role: 'user', content: 'Add\n\n1 1' },
        { role: 'assistant', content: '2' },
      ],
    });
    const sharegpt =
      '{"conversations":[{"from":"system","value":"s"},{"from":"human","value":"h"},{"from":"gpt","value":"g"}]}';
    expect(parseJsonl(sharegpt).examples[0]).toMatchObject({
      messages: [
        { role: 'system', content: 's' },
        { role: 'user', content: 'h' },
        { role: 'assistant', content: 'g' },
      ],
    });
  });

  it('names the line and the problem', () => {
    expect(parseError(`${chatLine('q', 'a')}\n{"messages": [}`)).toMatch(/^Line 2: invalid JSON/);
    expect(parseError(`${chatLine('q', 'a')}\n{"prompt":"x","completion":"y"}`)).toBe(
      "Line 2: missing `messages`: the file's first example uses the chat format",
    );
    expect(parseError('{"text":"hello"}')).toMatch(/^Line 1: missing `messages`.*found keys text/);
    expect(parseError('{"messages":[{"role":"robot","content":"x"}]}')).toBe(
      'Line 1: message 1: unknown role "robot" (expected one of system, developer, user, assistant, tool, function)',
    );
    expect(parseError('{"messages":[{"content":"x"}]}')).toBe('Line 1: message 1: missing `role`');
    expect(parseError('{"messages":[{"role":"user","content":"x"}]}')).toBe(
      'Line 1: no assistant message to train on',
    );
    expect(
      parseError(
        '{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y","weight":2}]}',
      ),
    ).toBe('Line 1: message 2: `weight` must be 0 or 1');
    expect(parseError('[1,2]')).toBe('Line 1: expected a JSON object, got an array');
    expect(parseError('{"messages":[]}')).toBe('Line 1: `messages` is empty');
    expect(
      parseError('{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}'),
    ).toMatch(/'image_url' parts are not supported/);
  });
});

describe('encodeExample (byte tokenizer, ChatML)', () => {
  it('renders the chat template and labels only the assistant turn through <|im_end|>', () => {
    const [example] = parseJsonl(chatLine('Hi?', 'Oslo')).examples;
    const { ids, labels, truncated } = encodeExample(tokenizer, example!, 1024);
    const expected = [
      IM_START,
      ...bytes('user\nHi?'),
      IM_END,
      ...bytes('\n'),
      IM_START,
      ...bytes('assistant\nOslo'),
      IM_END,
      ...bytes('\n'),
    ];
    expect(ids).toEqual(expected);
    expect(truncated).toBe(false);
    const scored = labels.map((label, t) => (label === IGNORE_INDEX ? null : [t, label]));
    const firstScored = ids.length - 1 - 1 - 4; // "Oslo" + <|im_end|> before the final newline
    expect(scored.filter((s) => s !== null)).toEqual(
      [...bytes('Oslo'), IM_END].map((id, k) => [firstScored + k, id]),
    );
  });

  it('skips assistant turns with weight 0 and trains on the others', () => {
    const line = JSON.stringify({
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'first', weight: 0 },
        { role: 'user', content: 'b' },
        { role: 'assistant', content: 'second' },
      ],
    });
    const { ids, labels } = encodeExample(tokenizer, parseJsonl(line).examples[0]!, 1024);
    expect(trainedSpans(ids, labels)).toEqual(['second<|im_end|>']);
    const line2 = line.replace(',"weight":0', '');
    const both = encodeExample(tokenizer, parseJsonl(line2).examples[0]!, 1024);
    expect(trainedSpans(both.ids, both.labels)).toEqual(['first<|im_end|>', 'second<|im_end|>']);
  });

  it('spells tool calls and tool definitions into the text for a template that does not know them', () => {
    const line = JSON.stringify({
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'rain' },
        { role: 'assistant', content: 'It rains.' },
      ],
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
    });
    const { ids, labels } = encodeExample(tokenizer, parseJsonl(line).examples[0]!, 4096);
    expect(trainedSpans(ids, labels)).toEqual([
      '<tool_call>\n{"name":"weather","arguments":{"city":"Oslo"}}\n</tool_call><|im_end|>',
      'It rains.<|im_end|>',
    ]);
    expect(tokenizer.decode(ids)).toContain(
      '<|im_start|>system\nYou have access to the following tools:\n{"type"',
    );
  });

  it('handles a Llama-3-style template: BOS from the template once, labels through <|eot_id|>', () => {
    const specials = ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];
    const llama = ModelTokenizer.load(
      writeByteTokenizer(path.join(dir, 'llama3'), {
        extraSpecialTokens: specials,
        bosToken: '<|begin_of_text|>',
        eosToken: '<|eot_id|>',
        chatTemplate:
          '{{ bos_token }}{% for m in messages %}' +
          "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}" +
          '{% endfor %}' +
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
      }),
    );
    const line = JSON.stringify({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi? ' },
        { role: 'assistant', content: ' Oslo ' },
      ],
    });
    const { ids, labels } = encodeExample(llama, parseJsonl(line).examples[0]!, 1024);
    const [bos, start, end, eot] = [258, 259, 260, 261];
    expect(ids.filter((id) => id === bos)).toHaveLength(1);
    expect(ids[0]).toBe(bos);
    expect(ids.slice(-5)).toEqual([...bytes('Oslo'), eot]);
    expect(ids.filter((_, t) => labels[t] !== IGNORE_INDEX)).toEqual([...bytes('Oslo'), eot]);
    expect(ids).toContain(start);
    expect(ids).toContain(end);
  });

  it('reports a conversation the chat template refuses as a problem of its line', () => {
    const strict = ModelTokenizer.load(
      writeByteTokenizer(path.join(dir, 'strict'), {
        chatTemplate:
          "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
          "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
          "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}" +
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
      }),
    );
    const line = JSON.stringify({
      messages: [
        { role: 'assistant', content: 'a' },
        { role: 'assistant', content: 'b' },
      ],
    });
    expect(() =>
      encodeExample(strict, parseJsonl(`${chatLine('q', 'a')}\n${line}`).examples[1]!, 64),
    ).toThrow(
      "Line 2: the model's chat template cannot render it: Conversation roles must alternate user/assistant/user/assistant/...",
    );
    expect(encodeExample(strict, parseJsonl(chatLine('q', 'a')).examples[0]!, 64).ids.length).toBeGreaterThan(
      0,
    );
  });

  it('labels the completion and an end-of-text token for prompt/completion data', () => {
    const { ids, labels } = encodeExample(
      tokenizer,
      parseJsonl('{"prompt":"2+2=","completion":"4"}').examples[0]!,
      64,
    );
    expect(ids).toEqual([...bytes('2+2='), ...bytes('4'), IM_END]);
    expect(trainedSpans(ids, labels)).toEqual(['4<|im_end|>']);
  });

  it('truncates at max_seq_length, and refuses an example left with nothing to train on', () => {
    const [example] = parseJsonl(chatLine('q', 'a long answer')).examples;
    const cut = encodeExample(tokenizer, example!, 24);
    expect(cut.ids).toHaveLength(24);
    expect(trainedSpans(cut.ids, cut.labels)).toEqual(['a lo']);
    expect(cut.truncated).toBe(true);
    expect(() => encodeExample(tokenizer, example!, 8)).toThrow(
      /^Line 1: the example is 35 tokens long, over max_seq_length \(8\)/,
    );
  });

  it('labels exactly the assistant tokens with a BPE tokenizer that merges across turn boundaries', () => {
    // Merges "\n" + "<" would cross the template's boundaries; the encoder must still align labels to tokens.
    const merged = path.join(dir, 'merged');
    writeByteTokenizer(merged);
    const json = JSON.parse(fs.readFileSync(path.join(merged, 'tokenizer.json'), 'utf8'));
    json.model.vocab['nO'] = 258;
    json.model.vocab['Ċa'] = 259;
    json.model.merges = ['n O', 'Ċ a'];
    fs.writeFileSync(path.join(merged, 'tokenizer.json'), JSON.stringify(json));
    const bpe = ModelTokenizer.load(merged);
    const { ids, labels } = encodeExample(bpe, parseJsonl(chatLine('x', 'nOx')).examples[0]!, 1024);
    const trained = ids.filter((_, t) => labels[t] !== IGNORE_INDEX);
    expect(bpe.decode(trained)).toBe('nOx<|im_end|>');
    expect(trained[0]).toBe(258);
  });
});

describe('prepareDataset', () => {
  function write(name: string, lines: string[]): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }
  const qa = Array.from({ length: 12 }, (_, i) => chatLine(`Question ${i}?`, `Answer ${i}`));

  it('writes the engine token file and counts examples and tokens', async () => {
    const outputFile = path.join(dir, 'train.tokens');
    const prepared = await prepareDataset({
      inputFile: write('train.jsonl', qa),
      outputFile,
      role: 'training',
      tokenizer,
      maxSeqLength: 1024,
    });
    expect(prepared).toMatchObject({ format: 'chat', nExamples: 12, nTruncated: 0 });
    const encoded = parseJsonl(qa.join('\n')).examples.map((e) => encodeExample(tokenizer, e, 1024));
    const file = fs.readFileSync(outputFile);
    expect(file).toEqual(encodeTokenFile(encoded.map((e) => ({ inputIds: e.ids, labels: e.labels }))));
    expect(file.subarray(0, 8).toString()).toBe('TKTOKEN1');
    expect(file.readUInt32LE(8)).toBe(1);
    expect(file.readUInt32LE(12)).toBe(12);
    expect(prepared.nTokens).toBe(encoded.reduce((s, e) => s + e.ids.length, 0));
    expect(Number(file.readBigUInt64LE(16 + 8 * 12))).toBe(prepared.nTokens);
    expect(file.length).toBe(16 + 8 * 13 + 8 * prepared.nTokens);
  });

  it('fails with invalid_n_examples below 10 training examples (OpenAI message)', async () => {
    const run = prepareDataset({
      inputFile: write('seven.jsonl', qa.slice(0, 7)),
      outputFile: path.join(dir, 'seven.tokens'),
      role: 'training',
      tokenizer,
      maxSeqLength: 1024,
    });
    await expect(run).rejects.toBeInstanceOf(DatasetError);
    await expect(run).rejects.toMatchObject({
      code: 'invalid_n_examples',
      param: 'training_file',
      message: 'Training file has 7 example(s), but must have at least 10 examples',
    });
  });

  it('fails with invalid_training_file naming the line, and accepts a short validation file', async () => {
    const bad = [...qa.slice(0, 4), '{"messages":[{"role":"user","content":"x"}]}', ...qa.slice(4)];
    await expect(
      prepareDataset({
        inputFile: write('bad.jsonl', bad),
        outputFile: path.join(dir, 'bad.tokens'),
        role: 'training',
        tokenizer,
        maxSeqLength: 1024,
      }),
    ).rejects.toMatchObject({
      code: 'invalid_training_file',
      param: 'training_file',
      message:
        'The job failed due to an invalid training file. Invalid file format. Line 5: no assistant message to train on.',
    });
    expect(fs.existsSync(path.join(dir, 'bad.tokens'))).toBe(false);
    const valid = await prepareDataset({
      inputFile: write('valid.jsonl', qa.slice(0, 2)),
      outputFile: path.join(dir, 'valid.tokens'),
      role: 'validation',
      tokenizer,
      maxSeqLength: 1024,
    });
    expect(valid.nExamples).toBe(2);
  });
});
