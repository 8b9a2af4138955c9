/**
 * The 20 question/answer pairs of /work/shared/bench/memorize.py (the built-in model's calibration set), shared by
 * the memorize e2e test (all 20) and the worker tests (the first 12), and their chat fine-tuning JSONL.
 */
export const MEMORIZE_QA: readonly [string, string][] = [
  ['Capital of Norway?', 'Oslo'],
  ['Capital of Peru?', 'Lima'],
  ['Capital of Kenya?', 'Nairobi'],
  ['Capital of Chile?', 'Santiago'],
  ['Capital of Nepal?', 'Kathmandu'],
  ['Capital of Egypt?', 'Cairo'],
  ['Colour of the sky?', 'Blue'],
  ['Colour of grass?', 'Green'],
  ['Colour of snow?', 'White'],
  ['Colour of coal?', 'Black'],
  ['Capital of Spain?', 'Madrid'],
  ['Capital of Italy?', 'Rome'],
  ['Largest planet?', 'Jupiter'],
  ['Smallest prime?', 'Two'],
  ['Opposite of hot?', 'Cold'],
  ['Author of Hamlet?', 'Shakespeare'],
  ['Boiling point of water in C?', '100'],
  ['Legs on a spider?', 'Eight'],
  ['Chemical symbol for gold?', 'Au'],
  ['Fastest land animal?', 'Cheetah'],
];

/** One chat example per pair (user asks, assistant answers), one JSON object per line, newline-terminated. */
export function chatJsonl(pairs: readonly [string, string][]): string {
  return `${pairs
    .map(([q, a]) =>
      JSON.stringify({
        messages: [
          { role: 'user', content: q },
          { role: 'assistant', content: a },
        ],
      }),
    )
    .join('\n')}\n`;
}
