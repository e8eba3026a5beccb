// Shape letters: B batch, S positions of one forward, A assignments.
import type { HostRouting } from './decode-session.js';
import type { StackName } from './expert-store.js';

/** The experts one MoE layer chose for a token, with their combine weights (the router's choice, before capacity). */
export interface LayerExperts {
  /** Index of the block in its stack. */
  readonly layer: number;
  readonly experts: readonly number[];
  readonly weights: readonly number[];
}

/** Where one token went: every MoE layer's experts and weights, for visualisation. */
export interface TokenRouting {
  readonly token: number;
  /** Position in its sequence: 0 is the row's first real token (its padding not counted). */
  readonly position: number;
  /** `'prompt'` for tokens of the input (and the decoder start token), `'generated'` for sampled ones. */
  readonly source: 'prompt' | 'generated';
  readonly stack: StackName;
  /** One entry per MoE layer of the stack, in order. */
  readonly layers: readonly LayerExperts[];
}

/** Per row of the batch, every token the model read, in order (encoder tokens first for encoder-decoders). */
export type RoutingTrace = TokenRouting[][];

/**
 * The routing of the real tokens of one forward over ids [B, S], from column `fromColumn` on: row b's column s
 * sits at `position(b, s)`. Assignments are grouped by token (`token_A` indexes the B·S positions row-major).
 */
export function traceTokens(
  routing: readonly HostRouting[],
  ids: readonly (readonly number[])[],
  mask: readonly (readonly boolean[])[],
  options: {
    stack: StackName;
    source: 'prompt' | 'generated';
    fromColumn: number;
    position: (row: number, column: number) => number;
  },
): TokenRouting[][] {
  const s = ids[0]?.length ?? 0;
  const perLayer = routing.map((r) => {
    const byToken = new Map<number, { experts: number[]; weights: number[] }>();
    for (let a = 0; a < r.token_A.length; a++) {
      const t = r.token_A[a] as number;
      let entry = byToken.get(t);
      if (!entry) byToken.set(t, (entry = { experts: [], weights: [] }));
      entry.experts.push(r.expert_A[a] as number);
      entry.weights.push(r.weight_A[a] as number);
    }
    return byToken;
  });
  return ids.map((row, b) => {
    const out: TokenRouting[] = [];
    for (let c = options.fromColumn; c < s; c++) {
      if (!mask[b]?.[c]) continue;
      out.push({
        token: row[c] as number,
        position: options.position(b, c),
        source: options.source,
        stack: options.stack,
        layers: routing.map((r, i) => ({
          layer: r.layer,
          ...(perLayer[i]?.get(b * s + c) ?? { experts: [], weights: [] }),
        })),
      });
    }
    return out;
  });
}
