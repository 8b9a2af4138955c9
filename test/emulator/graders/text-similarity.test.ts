/**
 * text_similarity against the reference libraries: every metric on every case of test/fixtures/graders/graders.json,
 * computed by rapidfuzz, sacrebleu and NLTK (ROUGE by a transcription of rouge-score; see make_grader_fixtures.py).
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type SimilarityMetric, similarity } from '../../../emulator/graders/text-similarity';

interface Fixture {
  meta: { tolerance: number };
  cases: Array<{ input: string; reference: string; scores: Record<SimilarityMetric, number> }>;
}

const fixture = JSON.parse(
  fs.readFileSync(new URL('../../fixtures/graders/graders.json', import.meta.url), 'utf8'),
) as Fixture;

describe('text_similarity matches the reference libraries', () => {
  const metrics = Object.keys(fixture.cases[0]!.scores) as SimilarityMetric[];
  for (const metric of metrics) {
    it(metric, () => {
      const rows = fixture.cases.map(({ input, reference, scores }) => ({
        input,
        reference,
        ours: similarity(metric, input, reference),
        expected: scores[metric],
      }));
      const off = rows.filter((row) => !(Math.abs(row.ours - row.expected) <= fixture.meta.tolerance));
      expect(off).toEqual([]);
      // The table is not all zeros or ones: the metric is exercised.
      expect(rows.some((row) => row.expected > 0.05 && row.expected < 0.95)).toBe(true);
    });
  }
});
