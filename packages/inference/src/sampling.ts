// Shape letters: V vocabulary.
import { Generator, SwitchyardError } from '@switchyard/tensor';

/**
 * Random sampling of the next token: softmax(logits / temperature) restricted to the `topK` most likely
 * tokens (Fan et al. 2018) and then to the smallest set whose probability reaches `topP` (nucleus sampling,
 * Holtzman et al. 2020), drawn with one uniform per row from `generator` (a seeded Philox stream, so a seed
 * gives the same tokens on every backend, with or without the KV cache).
 */
export interface SamplingOptions {
  /** Divides the logits; below 1 sharpens, above 1 flattens. Default 1. */
  temperature?: number;
  /** Keep only the K most likely tokens (ties by lower id). Default: all. */
  topK?: number;
  /** Keep the most likely tokens until their probability reaches p, in (0, 1]. Default 1. */
  topP?: number;
  /** Draws the uniforms. */
  generator: Generator;
}

/** `'greedy'` takes the most likely token (ties by lower id); otherwise sample as the options say. */
export type Sampling = 'greedy' | SamplingOptions;

/** Checks a sampling choice, with errors naming the field. */
export function checkSampling(sampling: unknown, op: string): Sampling {
  if (sampling === 'greedy') return sampling;
  const fail = (detail: string): never => {
    throw new SwitchyardError('INVALID_ARGUMENT', op, `sampling ${detail}`);
  };
  if (sampling === null || typeof sampling !== 'object') {
    return fail(`must be 'greedy' or { temperature?, topK?, topP?, generator }, got ${String(sampling)}`);
  }
  const s = sampling as Partial<SamplingOptions>;
  if (!(s.generator instanceof Generator)) fail('needs a generator (a seeded Generator)');
  if (s.temperature !== undefined && !(Number.isFinite(s.temperature) && s.temperature > 0)) {
    fail(`temperature must be a positive number (use 'greedy' for temperature 0), got ${s.temperature}`);
  }
  if (s.topK !== undefined && !(Number.isInteger(s.topK) && s.topK >= 1)) {
    fail(`topK must be a positive integer, got ${s.topK}`);
  }
  if (s.topP !== undefined && !(s.topP > 0 && s.topP <= 1)) fail(`topP must be in (0, 1], got ${s.topP}`);
  return s as SamplingOptions;
}

/** The id of the largest of logits[from, from + V), ties to the lower id; NaN never wins. */
function argmax(logits: ArrayLike<number>, from: number, vocab: number): number {
  let best = 0;
  let value = Number.NEGATIVE_INFINITY;
  for (let v = 0; v < vocab; v++) {
    const x = logits[from + v] as number;
    if (x > value) {
      value = x;
      best = v;
    }
  }
  return best;
}

/**
 * The next token of one row from its logits (`logits[from, from + vocab)`): the argmax for greedy, else a
 * draw with the uniform `u` in [0, 1) from the tempered, top-k and top-p filtered distribution. The filtered
 * tokens are ordered by probability (ties by lower id) and the first whose cumulative probability exceeds
 * u · total is taken, in float64 on the host.
 */
export function pickToken(
  logits: ArrayLike<number>,
  from: number,
  vocab: number,
  sampling: Sampling,
  u: number,
): number {
  if (sampling === 'greedy') return argmax(logits, from, vocab);
  const t = sampling.temperature ?? 1;
  const top = argmax(logits, from, vocab);
  const max = (logits[from + top] as number) / t;
  if (!Number.isFinite(max)) return top;
  const ids = Array.from({ length: vocab }, (_, v) => v);
  const weight = new Float64Array(vocab);
  for (let v = 0; v < vocab; v++) {
    const x = (logits[from + v] as number) / t;
    weight[v] = Number.isNaN(x) ? 0 : Math.exp(x - max);
  }
  ids.sort((a, b) => (weight[b] as number) - (weight[a] as number) || a - b);
  let kept = Math.min(sampling.topK ?? vocab, vocab);
  let total = 0;
  for (let i = 0; i < kept; i++) total += weight[ids[i] as number] as number;
  const topP = sampling.topP ?? 1;
  if (topP < 1) {
    let mass = 0;
    for (let i = 0; i < kept; i++) {
      mass += weight[ids[i] as number] as number;
      if (mass >= topP * total) {
        kept = i + 1;
        total = mass;
        break;
      }
    }
  }
  const target = u * total;
  let acc = 0;
  for (let i = 0; i < kept; i++) {
    acc += weight[ids[i] as number] as number;
    if (acc > target) return ids[i] as number;
  }
  return ids[kept - 1] as number;
}
