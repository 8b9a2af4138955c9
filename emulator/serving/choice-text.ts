/**
 * The text of one generated choice, released as tokens arrive: the ids are decoded as a whole each time (so a
 * character split over several byte tokens comes out whole), and text is held back while it ends in an
 * incomplete character or in what could be the start of a stop sequence. A stop sequence ends the choice and is
 * cut from the output, as OpenAI does.
 */
export type Decode = (ids: number[]) => string;

/** U+FFFD: the decoder's stand-in for bytes that do not (yet) form a character. */
const REPLACEMENT = '\uFFFD';

export class ChoiceText {
  private readonly ids: number[] = [];
  private text = '';
  private released = 0;
  private stopAt: number | null = null;

  constructor(
    private readonly decode: Decode,
    private readonly stops: readonly string[],
  ) {}

  /** Whether a stop sequence was seen: no more tokens are taken. */
  get stopped(): boolean {
    return this.stopAt !== null;
  }

  /** Adds a token and returns the text that is now safe to show (possibly ''). */
  push(id: number): string {
    if (this.stopped) return '';
    this.ids.push(id);
    this.text = this.decode(this.ids);
    const stop = this.findStop();
    if (stop !== null) {
      this.stopAt = stop;
      return this.release(stop);
    }
    return this.release(this.safeEnd());
  }

  /** The rest of the text once the choice is over (no more tokens will come). */
  finish(): string {
    return this.release(this.stopAt ?? this.text.length);
  }

  /** The whole text released so far. */
  get output(): string {
    return this.text.slice(0, this.released);
  }

  private release(end: number): string {
    if (end <= this.released) return '';
    const piece = this.text.slice(this.released, end);
    this.released = end;
    return piece;
  }

  /** The first stop sequence in the unreleased text (a stop cannot start in released text: it was held back). */
  private findStop(): number | null {
    let best: number | null = null;
    for (const stop of this.stops) {
      const at = this.text.indexOf(stop, this.released);
      if (at !== -1 && (best === null || at < best)) best = at;
    }
    return best;
  }

  /** Where releasable text ends: before a trailing incomplete character and a trailing prefix of a stop. */
  private safeEnd(): number {
    let end = this.text.length;
    while (end > this.released && this.text[end - 1] === REPLACEMENT) end--;
    let hold = 0;
    for (const stop of this.stops) {
      for (let k = Math.min(stop.length - 1, end - this.released); k > hold; k--) {
        if (this.text.endsWith(stop.slice(0, k), end)) {
          hold = k;
          break;
        }
      }
    }
    return end - hold;
  }
}
