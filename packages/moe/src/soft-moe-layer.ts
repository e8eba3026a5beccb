// Shape letters: B sequences, T tokens per sequence, D model width, E experts, S slots per expert,
// N slots in all (E·S), R expert rows (E·B·S).
import { type Initializer, initializers, Module, Parameter } from '@switchyard/nn';
import {
  cast,
  entr,
  fmtShape,
  full,
  Generator,
  matmul,
  mean,
  noGrad,
  reshape,
  SwitchyardError,
  softmax,
  sum,
  type Tensor,
  tidy,
  transpose,
} from '@switchyard/tensor';
import type { ExpertsLike } from './moe-layer.js';

export interface SoftMoELayerConfig {
  dModel: number;
  /** E; must equal `experts.numExperts`. */
  numExperts: number;
  /** S, the slots each expert processes per sequence. */
  slotsPerExpert: number;
  /** The experts, applied to their slots with equal counts (B·S rows each); e.g. GroupedExperts. */
  experts: ExpertsLike;
  /** Initialiser of Φ [D, E·S]. Default: LeCun normal, N(0, 1/D). */
  init?: Initializer;
  generator: Generator;
}

/** Soft MoE diagnostics (no grad). Every expert processes exactly S slots, so there is no load to balance. */
export interface SoftMoEStats {
  /** Combine weight each expert writes, summed over its slots and averaged over tokens [E]; sums to 1. */
  readonly expertShare_E: Tensor;
  /** Mean over slots of the entropy of their dispatch weights over tokens, nats (log T: a uniform average). */
  readonly dispatchEntropy: Tensor;
  /** Mean over tokens of the entropy of their combine weights over slots, nats (log N: uniform). */
  readonly combineEntropy: Tensor;
}

export interface SoftMoEOutput {
  /** The layer output, shaped like the input (the caller adds the residual). */
  y: Tensor;
  /** Slot logits X Φ [..., T, N], f32. */
  logits_TN: Tensor;
  /** Dispatch weights, softmax over tokens (each slot's column sums to 1 over T) [..., T, N]. */
  dispatch_TN: Tensor;
  /** Combine weights, softmax over slots (each token's row sums to 1 over N) [..., T, N]. */
  combine_TN: Tensor;
  stats: SoftMoEStats;
}

/**
 * The Soft MoE computation as a pure function of the tokens, Φ and the experts; `SoftMoELayer.forward`
 * calls it. x is [T, D] (one sequence) or [B, T, D] (each sequence mixed on its own).
 */
export function softMoE(
  x: Tensor,
  phi_DN: Tensor,
  experts: ExpertsLike,
  slotsPerExpert: number,
): SoftMoEOutput {
  const e = experts.numExperts;
  const s = slotsPerExpert;
  const n = e * s;
  const d = phi_DN.shape[0] as number;
  if ((x.rank !== 2 && x.rank !== 3) || x.shape.at(-1) !== d || (x.shape.at(-2) as number) < 1) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'SoftMoELayer',
      `x must be [T, ${d}] or [B, T, ${d}] with T >= 1, got ${fmtShape(x.shape)}`,
    );
  }
  if (phi_DN.rank !== 2 || phi_DN.shape[1] !== n) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'SoftMoELayer',
      `phi must be [D, E·S] = [${d}, ${n}], got ${fmtShape(phi_DN.shape)}`,
    );
  }
  return tidy(() => {
    const x_BTD = x.rank === 3 ? x : reshape(x, [1, ...x.shape]);
    const [b, t] = x_BTD.shape as [number, number, number];
    const x32_BTD = cast(x_BTD, 'f32');
    const logits_BTN = matmul(x32_BTD, cast(phi_DN, 'f32'));
    const dispatch_BTN = softmax(logits_BTN, 1);
    const combine_BTN = softmax(logits_BTN, -1);
    // Slots X~ = Dᵀ X per sequence, then expert-major rows: expert e owns rows [e·B·S, (e+1)·B·S).
    const slots_BND = matmul(dispatch_BTN, x32_BTD, { transA: true });
    const rows_RD = reshape(transpose(reshape(slots_BND, [b, e, s, d]), [1, 0, 2, 3]), [e * b * s, d]);
    const out_RD = experts.forward(cast(rows_RD, x.dtype), full([e], b * s, 'i32'));
    const ySlots_BND = reshape(transpose(reshape(cast(out_RD, 'f32'), [e, b, s, d]), [1, 0, 2, 3]), [
      b,
      n,
      d,
    ]);
    const y_BTD = matmul(combine_BTN, ySlots_BND);
    const stats = noGrad(() => {
      const entropy = (p: Tensor, axis: number) => sum(entr(p), axis);
      return {
        expertShare_E: mean(sum(reshape(combine_BTN, [b * t, e, s]), -1), 0),
        dispatchEntropy: mean(entropy(dispatch_BTN, 1)),
        combineEntropy: mean(entropy(combine_BTN, -1)),
      };
    });
    const lead = x.shape.slice(0, -1);
    return {
      y: cast(reshape(y_BTD, x.shape), x.dtype),
      logits_TN: reshape(logits_BTN, [...lead, n]),
      dispatch_TN: reshape(dispatch_BTN, [...lead, n]),
      combine_TN: reshape(combine_BTN, [...lead, n]),
      stats,
    };
  });
}

/**
 * Soft MoE (Puigcerver et al. 2023, "From Sparse to Soft Mixtures of Experts"): instead of routing tokens,
 * each of the N = E·S slots takes a convex combination of all tokens of a sequence, experts process their
 * slots, and each token takes a convex combination of all slot outputs:
 *
 *   logits = X Φ  [T, N],  Φ [D, N] learned;
 *   D = softmax over tokens (axis T) of logits,   X~ = Dᵀ X  [N, D]  (slot inputs);
 *   Y~_slot = expert(slot)(X~_slot)   (expert e owns slots e·S .. e·S + S − 1);
 *   C = softmax over slots (axis N) of logits,    Y = C Y~  [T, D].
 *
 * Fully differentiable (Φ gets gradients through D and C), no token is ever dropped (every token's combine
 * weights sum to 1) and every expert processes exactly S slots per sequence, so no balance loss or capacity
 * exists. It does not fit the Routing currency of sparse routers, hence its own layer. Like expert choice it
 * is not causal: each slot mixes every token of its sequence, later ones included, so it suits encoders and
 * not autoregressive decoding. The paper also l2-normalises X and the columns of Φ (with a learned scale) for
 * large widths; that option is not implemented here. Router arithmetic (logits, D, C, the mixing) runs in f32;
 * the experts see x's dtype.
 *
 * `forward(x)` takes [T, D] or [B, T, D] (sequences mixed separately) and returns `{ y, logits_TN,
 * dispatch_TN, combine_TN, stats }`; the caller adds the residual.
 */
export class SoftMoELayer extends Module {
  readonly dModel: number;
  readonly numExperts: number;
  readonly slotsPerExpert: number;
  readonly experts: ExpertsLike;
  /** Slot parameters Φ [D, E·S]. */
  readonly phi: Parameter;

  constructor(config: SoftMoELayerConfig) {
    super();
    for (const name of ['dModel', 'numExperts', 'slotsPerExpert'] as const) {
      const value = config[name];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw new SwitchyardError(
          'INVALID_CONFIG',
          'SoftMoELayer',
          `${name} must be a positive integer, got ${String(value)}`,
        );
      }
    }
    if (config.experts?.numExperts !== config.numExperts) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        'SoftMoELayer',
        `experts must hold numExperts = ${config.numExperts} experts, got ${String(config.experts?.numExperts)}`,
      );
    }
    if (!(config.generator instanceof Generator)) {
      throw new SwitchyardError(
        'INVALID_CONFIG',
        'SoftMoELayer',
        'generator must be a Generator (randomness is explicit)',
      );
    }
    this.dModel = config.dModel;
    this.numExperts = config.numExperts;
    this.slotsPerExpert = config.slotsPerExpert;
    this.experts = config.experts;
    const init = config.init ?? initializers.normal(1 / Math.sqrt(config.dModel));
    this.phi = new Parameter(
      init([config.dModel, config.numExperts * config.slotsPerExpert], config.generator),
    );
  }

  /** x [T, D] or [B, T, D] -> y like x, with the dispatch and combine weights and the stats. */
  forward(x: Tensor): SoftMoEOutput {
    return softMoE(x, this.phi, this.experts, this.slotsPerExpert);
  }
}

/** Disposes every tensor of a Soft MoE output, `y` included. */
export function disposeSoftMoEOutput(out: SoftMoEOutput): void {
  const all = new Set([out.y, out.logits_TN, out.dispatch_TN, out.combine_TN, ...Object.values(out.stats)]);
  for (const t of all) t.dispose();
}
