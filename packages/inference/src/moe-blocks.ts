// Shape letters: D model width, F expert hidden width, E experts.
import { type ExpertsLike, MoELayer } from '@switchyard/moe';
import type { ActivationName } from '@switchyard/nn';
import type { Block, TransformerLM } from '@switchyard/presets';
import { type FloatDType, SwitchyardError, Tensor } from '@switchyard/tensor';
import type { ExpertLayerInfo, StackName } from './expert-store.js';

/** An MoE block of a model: its stack, its index there, the block and its MoE layer. */
export interface MoEBlock {
  readonly stack: StackName;
  readonly layer: number;
  readonly block: Block;
  readonly moe: MoELayer;
}

/** Experts with stacked weights, as `GroupedExperts` of `@switchyard/experts` holds them. */
export interface StackedExperts extends ExpertsLike {
  /** [E, D, F]. */
  readonly w1: Tensor;
  /** [E, F, D]. */
  readonly w2: Tensor;
  /** [E, D, F] of a gated unit, else null. */
  readonly w3: Tensor | null;
  readonly dModel: number;
  readonly dHidden: number;
  readonly gated: boolean;
  readonly activation: ActivationName;
}

/** Every MoE block of a model, encoder blocks first, in order. */
export function moeBlocks(model: TransformerLM): MoEBlock[] {
  const out: MoEBlock[] = [];
  for (const stack of [model.encoder, model.decoder]) {
    if (stack === null) continue;
    stack.blocks.forEach((block, layer) => {
      if (block.ffn instanceof MoELayer) out.push({ stack: stack.name, layer, block, moe: block.ffn });
    });
  }
  return out;
}

/**
 * The experts of an MoE block as stacked weights (E, D, F and the activation read from them), or an
 * UNSUPPORTED error: offloading moves one expert's slice of w1, w2 and w3 at a time.
 */
export function stackedExperts(entry: MoEBlock, op: string): StackedExperts {
  const e = entry.moe.experts as unknown as Partial<StackedExperts>;
  const stacked =
    e.w1 instanceof Tensor &&
    e.w2 instanceof Tensor &&
    (e.w3 === null || e.w3 instanceof Tensor) &&
    typeof e.activation === 'string' &&
    typeof e.gated === 'boolean';
  if (!stacked) {
    throw new SwitchyardError(
      'UNSUPPORTED',
      op,
      `${entry.stack} block ${entry.layer}: offloading needs experts with stacked weights w1 [E, D, F], w2 [E, F, D] (GroupedExperts), got ${entry.moe.experts.constructor.name}`,
    );
  }
  return e as unknown as StackedExperts;
}

/** The store layout of an MoE block's experts. */
export function layerInfo(entry: MoEBlock, experts: StackedExperts): ExpertLayerInfo {
  return {
    stack: entry.stack,
    layer: entry.layer,
    numExperts: experts.numExperts,
    dModel: experts.dModel,
    dHidden: experts.dHidden,
    gated: experts.gated,
    dtype: experts.w1.dtype as FloatDType,
  };
}
