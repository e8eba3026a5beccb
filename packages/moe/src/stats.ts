// Shape letters: T tokens, E experts.
import type { Routing } from '@switchyard/routers';
import { clamp, div, entr, full, mul, noGrad, sum, type Tensor, tidy } from '@switchyard/tensor';

/**
 * Routing statistics of one MoE layer: the per-expert counts and the router entropy as tensors (no host round
 * trip; read them with `readStats`, which also derives the load figures). The counts are tiny ([E]), so the
 * figures built from them (dropped fraction, CV, max/mean, dead experts) are computed on the host when read:
 * as GPU ops they were 17 kernel launches of a few elements each, a third of a Mixtral-shaped layer's launches.
 * Load figures use the assignments routed to each expert before capacity, i.e. what the router asked for.
 */
export interface MoEStats {
  /** Assignments routed to each expert before capacity [E], i32. */
  readonly tokensPerExpert: Tensor;
  /** Assignments each expert kept after capacity [E], i32. */
  readonly keptPerExpert: Tensor;
  /** Mean over tokens of the entropy of the routing distribution (scores normalised per token), nats; scalar f32. */
  readonly routerEntropy: Tensor;
  /** Assignments the router made (the length of `routing.token_A`); the dropped fraction's denominator. */
  readonly assignments: number;
}

/** The stats as plain numbers. */
export interface MoEStatsValues {
  tokensPerExpert: number[];
  keptPerExpert: number[];
  /** Assignments the router made. */
  assignments: number;
  /** Fraction of assignments dropped by capacity. */
  droppedFraction: number;
  /** Mean over tokens of the entropy of the routing distribution, nats. */
  routerEntropy: number;
  /** Coefficient of variation of tokensPerExpert: std / mean (0 when perfectly balanced). */
  loadCV: number;
  /** max / mean of tokensPerExpert (1 when perfectly balanced, E when one expert takes everything). */
  maxMeanLoad: number;
  /** Experts that received no assignment. */
  deadExperts: number;
}

/** Computes the stats from a routing and the per-expert counts before and after capacity. */
export function routingStats(routing: Routing, routed_E: Tensor, kept_E: Tensor): MoEStats {
  return noGrad(() =>
    tidy(() => {
      const p_TE = div(
        routing.probs_TE,
        clamp(sum(routing.probs_TE, -1, true), 1e-12, Number.POSITIVE_INFINITY),
      );
      // Mean over tokens of Σ_e entr(p) = -Σ_e p log p, with entr(0) = 0: one pass over p_TE.
      const tokens = routing.probs_TE.size / (routing.probs_TE.shape.at(-1) as number);
      return {
        tokensPerExpert: routed_E.detach(),
        keptPerExpert: kept_E.detach(),
        routerEntropy: routing.probs_TE.size === 0 ? full([], 0) : mul(sum(entr(p_TE)), 1 / tokens),
        assignments: routing.token_A.size,
      };
    }),
  );
}

/**
 * The load figures of per-expert counts before (`tokensPerExpert`) and after capacity (`keptPerExpert`) out
 * of `assignments` routed: dropped fraction, CV (population std / mean), max / mean and dead experts. The mean
 * is kept at or above 1e-12 and no assignment drops nothing, so an empty batch gives zeros rather than NaN.
 */
export function loadFigures(
  tokensPerExpert: readonly number[],
  keptPerExpert: readonly number[],
  assignments: number,
): Pick<MoEStatsValues, 'droppedFraction' | 'loadCV' | 'maxMeanLoad' | 'deadExperts'> {
  const experts = Math.max(1, tokensPerExpert.length);
  const mean = tokensPerExpert.reduce((a, b) => a + b, 0) / experts;
  const safeMean = Math.max(mean, 1e-12);
  const variance = tokensPerExpert.reduce((s, l) => s + (l - mean) ** 2, 0) / experts;
  const kept = keptPerExpert.reduce((a, b) => a + b, 0);
  return {
    droppedFraction: assignments > 0 ? (assignments - kept) / assignments : 0,
    loadCV: Math.sqrt(variance) / safeMean,
    maxMeanLoad: Math.max(0, ...tokensPerExpert) / safeMean,
    deadExperts: tokensPerExpert.filter((l) => l === 0).length,
  };
}

/** Reads every stat to the host. */
export async function readStats(stats: MoEStats): Promise<MoEStatsValues> {
  const tokensPerExpert = Array.from(await stats.tokensPerExpert.data());
  const keptPerExpert = Array.from(await stats.keptPerExpert.data());
  return {
    tokensPerExpert,
    keptPerExpert,
    assignments: stats.assignments,
    routerEntropy: (await stats.routerEntropy.data())[0] as number,
    ...loadFigures(tokensPerExpert, keptPerExpert, stats.assignments),
  };
}

/** Disposes every tensor of the stats. */
export function disposeStats(stats: MoEStats): void {
  stats.tokensPerExpert.dispose();
  stats.keptPerExpert.dispose();
  stats.routerEntropy.dispose();
}
