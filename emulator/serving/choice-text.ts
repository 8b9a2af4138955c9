/**
 * The text of one generated choice, released as tokens arrive, and held back while it ends in an incomplete
 * character or in what could be the start of a stop sequence. A stop sequence ends the choice and is cut from the
 * output, as OpenAI does.
 *
 * Decoding is incremental in the way of vLLM's detokenizer: the tokens since the last settled point are decoded
 * together with a few tokens before it, and the text of those context tokens is subtracted. That keeps each step
 * short while giving what decoding all ids at once gives (leading-space rules and multi-byte characters included).
 */
export type Decode = (ids: number[]) => string;

/** U+FFFD: the decoder's stand-in for bytes that do not (yet) form a character. */
const REPLACEMENT = '\uFFFD';
/** Tokens decoded before the window, so the window's first token decodes as it does mid-text. */
const CONTEXT_TOKENS = 4;
/** The window is settled (its text fixed) once it holds this many tokens and ends in a whole character. */
const WINDOW_TOKENS = 16;

export class ChoiceText {
  private readonly ids: number[] = [];
  /** Text of ids[0, windowStart), fixed. */
  private settled = '';
  private windowStart = 0;
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
    this.text = this.settled + this.decodeWindow();
    const stop = this.findStop();
    if (stop !== null) {
      this.stopAt = stop;
      return this.release(stop);
    }
    const piece = this.release(this.safeEnd());
    if (this.ids.length - this.windowStart >= WINDOW_TOKENS && !this.text.endsWith(REPLACEMENT)) {
      this.settled = this.text;
      this.windowStart = this.ids.length;
    }
    return piece;
  }

  private decodeWindow(): string {
    const from = Math.max(0, this.windowStart - CONTEXT_TOKENS);
    const context = this.decode(this.ids.slice(from, this.windowStart));
    const text = this.decode(this.ids.slice(from));
    return text.slice(context.length);
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
