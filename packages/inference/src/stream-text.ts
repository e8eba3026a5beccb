import type { TextTokenizer } from './tokenizer.js';

/** How many trailing characters of `text` could still grow into one of `stops`. */
function heldBack(text: string, stops: readonly string[]): number {
  let hold = 0;
  for (const stop of stops) {
    for (let k = Math.min(stop.length - 1, text.length); k > hold; k--) {
      if (stop.startsWith(text.slice(text.length - k))) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}

/**
 * The text of one generated row as it streams: each update decodes the row's tokens, finds the first stop
 * string, and returns the new text to emit, holding back an incomplete UTF-8 character and any tail that
 * could still grow into a stop string (so a stop string is never streamed).
 */
export class StreamText {
  /** The text emitted so far. */
  emitted = '';
  /** The row's whole text once it finished (cut before a stop string), else null. */
  final: string | null = null;

  constructor(
    readonly tokenizer: TextTokenizer,
    readonly stops: readonly string[],
  ) {}

  /** Decodes `ids`; returns the new text to emit and whether a stop string appeared. */
  update(ids: readonly number[], finished: boolean): { delta: string; stopped: boolean } {
    const text = this.tokenizer.decode(ids);
    let cut = -1;
    for (const stop of this.stops) {
      const at = text.indexOf(stop);
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    const stopped = cut !== -1;
    let visible: string;
    if (stopped) visible = text.slice(0, cut);
    else if (finished) visible = text;
    else {
      const trimmed = text.replace(/\uFFFD+$/, '');
      visible = trimmed.slice(0, trimmed.length - heldBack(trimmed, this.stops));
    }
    if (stopped || finished) this.final = visible;
    const delta = visible.startsWith(this.emitted) ? visible.slice(this.emitted.length) : '';
    if (delta.length > 0) this.emitted = visible;
    return { delta, stopped };
  }
}
