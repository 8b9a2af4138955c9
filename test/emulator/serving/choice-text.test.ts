import { describe, expect, it } from 'vitest';
import { ChoiceText } from '../../../emulator/serving/choice-text';

/** Byte tokens decoded as UTF-8 with U+FFFD for incomplete characters, like a byte-level tokenizer. */
const decodeBytes = (ids: number[]) => Buffer.from(ids).toString('utf8');
const bytesOf = (text: string) => [...Buffer.from(text, 'utf8')];

function run(text: string, stops: string[]) {
  const choice = new ChoiceText(decodeBytes, stops);
  const pieces: string[] = [];
  let taken = 0;
  for (const id of bytesOf(text)) {
    if (choice.stopped) break;
    taken += 1;
    pieces.push(choice.push(id));
  }
  pieces.push(choice.finish());
  return { pieces, output: pieces.join(''), stopped: choice.stopped, taken };
}

describe('ChoiceText', () => {
  it('releases text as it comes and the whole text at the end', () => {
    const { pieces, output, stopped } = run('hello world', []);
    expect(output).toBe('hello world');
    expect(pieces.slice(0, 5)).toEqual(['h', 'e', 'l', 'l', 'o']);
    expect(stopped).toBe(false);
  });

  it('never releases half a character', () => {
    const { pieces, output } = run('añ€😀', []);
    expect(output).toBe('añ€😀');
    for (const piece of pieces) expect(piece).not.toContain('\uFFFD');
    expect(pieces.filter((p) => p !== '')).toEqual(['a', 'ñ', '€', '😀']);
  });

  it('cuts at the first stop sequence and takes no token after the one completing it', () => {
    const { output, stopped, taken } = run('The answer: 42\nQ: next', ['\nQ:', 'zzz']);
    expect(output).toBe('The answer: 42');
    expect(stopped).toBe(true);
    expect(taken).toBe('The answer: 42\nQ:'.length);
  });

  it('holds back a possible stop prefix, then releases it when the stop does not follow', () => {
    const choice = new ChoiceText(decodeBytes, ['END']);
    const released = bytesOf('abEN').map((id) => choice.push(id));
    expect(released).toEqual(['a', 'b', '', '']);
    expect(choice.push(bytesOf('d')[0] as number)).toBe('ENd');
    expect(choice.finish()).toBe('');
  });

  it('picks the earliest of several stops, including one inside a multi-byte stream', () => {
    expect(run('x€y-stop', ['stop', '€']).output).toBe('x');
    expect(run('abc', ['c', 'bc']).output).toBe('a');
  });

  it('releases a held-back stop prefix when generation ends', () => {
    const { output, stopped } = run('wait EN', ['END']);
    expect(output).toBe('wait EN');
    expect(stopped).toBe(false);
  });

  it('decodes long outputs incrementally to what decoding every id at once gives', () => {
    const text = 'Grüße aus Köln — 東京 😀 and more text after the window moves on, '.repeat(4);
    const { pieces, output } = run(text, []);
    expect(output).toBe(text);
    for (const piece of pieces) expect(piece).not.toContain('\uFFFD');
    // SentencePiece-style: the first piece's leading space is dropped, later ones are kept.
    const vocab = ['▁Hello', '▁world', ',', '▁again', '!'];
    const decodePieces = (ids: number[]) =>
      ids
        .map((id) => vocab[id])
        .join('')
        .replaceAll('▁', ' ')
        .replace(/^ /, '');
    const ids = Array.from({ length: 60 }, (_, i) => i % vocab.length);
    const choice = new ChoiceText(decodePieces, []);
    const streamed = ids.map((id) => choice.push(id)).join('') + choice.finish();
    expect(streamed).toBe(decodePieces(ids));
  });
});
