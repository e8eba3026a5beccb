// The per-run progress bar: step, loss, tokens/s and ETA, redrawn in place on a terminal and printed every
// tenth of the run otherwise (CI logs, pipes).

export interface Progress {
  label: string;
  step: number;
  steps: number;
  loss: number;
  tokensPerSecond: number;
  /** Seconds spent so far. */
  seconds: number;
}

/** `m:ss` */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** One line: `switch       [########............]  48/120  loss 2.314  1,812 tok/s  ETA 0:41`. */
export function progressLine(p: Progress, width = 20): string {
  const filled = Math.round((p.step / p.steps) * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const eta = p.step > 0 ? (p.seconds / p.step) * (p.steps - p.step) : Number.NaN;
  const steps = `${String(p.step).padStart(String(p.steps).length)}/${p.steps}`;
  return [
    p.label.padEnd(12),
    bar,
    steps,
    ` loss ${p.loss.toFixed(3)}`,
    ` ${Math.round(p.tokensPerSecond).toLocaleString('en-US')} tok/s`,
    ` ${p.step === p.steps ? `done in ${formatDuration(p.seconds)}` : `ETA ${Number.isNaN(eta) ? '?' : formatDuration(eta)}`}`,
  ].join(' ');
}

/** Writes progress lines to a stream: in place on a TTY, every tenth of the run (and the last step) otherwise. */
export class ProgressBar {
  readonly #stream: NodeJS.WritableStream & { isTTY?: boolean };
  #lastTenth = -1;

  constructor(stream: NodeJS.WritableStream & { isTTY?: boolean }) {
    this.#stream = stream;
  }

  update(p: Progress): void {
    const line = progressLine(p);
    if (this.#stream.isTTY) {
      this.#stream.write(`\r${line}${p.step === p.steps ? '\n' : ''}`);
      return;
    }
    const tenth = Math.floor((p.step / p.steps) * 10);
    if (tenth !== this.#lastTenth || p.step === p.steps) {
      this.#lastTenth = tenth;
      this.#stream.write(`${line}\n`);
    }
  }
}
