/**
 * `fuzzy_match` as rapidfuzz's `fuzz.ratio(a, b) / 100`: the normalized Indel similarity
 * 1 - (|a| + |b| - 2·LCS(a, b)) / (|a| + |b|) over Unicode code points (two empty strings score 1).
 */
export function fuzzyRatio(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  const lengths = x.length + y.length;
  if (lengths === 0) return 1;
  return (2 * longestCommonSubsequence(x, y)) / lengths;
}

/** Length of the longest common subsequence, one row of the dynamic programme at a time. */
export function longestCommonSubsequence<T>(x: readonly T[], y: readonly T[]): number {
  let previous = new Array<number>(y.length + 1).fill(0);
  let current = new Array<number>(y.length + 1).fill(0);
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      current[j] =
        x[i - 1] === y[j - 1]
          ? (previous[j - 1] as number) + 1
          : Math.max(previous[j] as number, current[j - 1] as number);
    }
    [previous, current] = [current, previous];
  }
  return previous[y.length] as number;
}
