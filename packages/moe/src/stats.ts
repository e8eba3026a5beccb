// Shape letters: T tokens, E experts.
import type { Routing } from '@switchyard/routers';
import {
  cast,
  clamp,
  div,
  equal,
  full,
  log,
  max,
  maximum,
  mean,
  mul,
  neg,
  noGrad,
  sqrt,
  square,
  sub,
  sum,
  type Tensor,
  tidy,
} from '@switchyard/tensor';

/**
 * Routing statistics of one MoE layer, as tensors (no host round trip; read them with `readStats`).
 * Load figures use the assignments routed to each expert before capacity, i.e. what the router asked for.
 */
export interface MoEStats {
  /** Assignments routed to each expert before capacity [E], i32. */
  readonly tokensPerExpert: Tensor;
  /** Assignments each expert kept after capacity [E], i32. */
  readonly keptPerExpert: Tensor;
  /** Fraction of assignments dropped by capacity, scalar f32. */
  readonly droppedFraction: Tensor;
  /** Mean over tokens of the entropy of the routing distribution (scores normalised per token), nats. */
  readonly routerEntropy: Tensor;
  /** Coefficient of variation of tokensPerExpert: std / mean (0 when perfectly balanced). */
  readonly loadCV: Tensor;
  /** max / mean of tokensPerExpert (1 when perfectly balanced, E when one expert takes everything). */
  readonly maxMeanLoad: Tensor;
  /** Experts that received no assignment, scalar i32. */
  readonly deadExperts: Tensor;
}

/** The stats as plain numbers. */
export interface MoEStatsValues {
  tokensPerExpert: number[];
  keptPerExpert: number[];
  droppedFraction: number;
  routerEntropy: number;
  loadCV: number;
  maxMeanLoad: number;
  deadExperts: number;
}

/** Computes the stats from a routing and the per-expert counts before and after capacity. */
export function routingStats(routing: Routing, routed_E: Tensor, kept_E: Tensor): MoEStats {
  return noGrad(() =>
    tidy(() => {
      const assignments = Math.max(1, routing.token_A.size);
      const load_E = cast(routed_E, 'f32');
      const meanLoad = mean(load_E);
      const safeMean = clamp(meanLoad, 1e-12, Number.POSITIVE_INFINITY);
      const p_TE = div(
        routing.probs_TE,
        clamp(sum(routing.probs_TE, -1, true), 1e-12, Number.POSITIVE_INFINITY),
      );
      // p_TE <= 1 by construction: only zeros need keeping away from log.
      const plogp = mul(p_TE, log(maximum(p_TE, 1e-30)));
      return {
        tokensPerExpert: routed_E.detach(),
        keptPerExpert: kept_E.detach(),
        droppedFraction: div(sub(assignments, cast(sum(kept_E), 'f32')), assignments).reshape([]),
        routerEntropy: routing.probs_TE.size === 0 ? full([], 0) : mean(neg(sum(plogp, -1))),
        loadCV: div(sqrt(mean(square(sub(load_E, meanLoad)))), safeMean),
        maxMeanLoad: div(max(load_E), safeMean),
        deadExperts: sum(cast(equal(routed_E, 0), 'i32')),
      };
    }),
  );
}

/** Reads every stat to the host. */
export async function readStats(stats: MoEStats): Promise<MoEStatsValues> {
  const one = async (t: Tensor) => (await t.data())[0] as number;
  return {
    tokensPerExpert: Array.from(await stats.tokensPerExpert.data()),
    keptPerExpert: Array.from(await stats.keptPerExpert.data()),
    droppedFraction: await one(stats.droppedFraction),
    routerEntropy: await one(stats.routerEntropy),
    loadCV: await one(stats.loadCV),
    maxMeanLoad: await one(stats.maxMeanLoad),
    deadExperts: await one(stats.deadExperts),
  };
}

/** Disposes every tensor of the stats. */
export function disposeStats(stats: MoEStats): void {
  for (const t of Object.values(stats)) (t as Tensor).dispose();
}
