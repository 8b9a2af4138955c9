/**
 * The `13a` tokenizer of mteval-v13a.pl as sacrebleu implements it (its default for BLEU): unescape a few HTML
 * entities, split off punctuation and symbols, split periods and commas unless they sit between digits, and dashes
 * after digits. Used for BLEU, GLEU and METEOR.
 */
const RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // ASCII punctuation and symbols, except the period, comma, apostrophe and hyphen.
  [/([{-~[-` -&(-+:-@/])/g, ' $1 '],
  [/([^0-9])([.,])/g, '$1 $2 '],
  [/([.,])([^0-9])/g, ' $1 $2'],
  [/([0-9])(-)/g, '$1 $2 '],
];

export function tokenize13a(text: string): string[] {
  let line = text.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (line.includes('&')) {
    line = line
      .replaceAll('&quot;', '"')
      .replaceAll('&amp;', '&')
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>');
  }
  line = ` ${line} `;
  for (const [pattern, replacement] of RULES) line = line.replace(pattern, replacement);
  return line.split(/\s+/).filter((token) => token.length > 0);
}
