// Forward and training FLOPs per token from a config alone, for comparing models at equal compute.
import { SwitchyardError } from '@switchyard/tensor';
import type { AttentionConfig, ModelConfig } from './config.js';
import { countParameters } from './count.js';

/** FLOPs one token costs, with the parts they come from. */
export interface FlopsPerToken {
  /** Forward FLOPs: `matmul + attention`. */
  forward: number;
  /** Forward plus backward: 3 × forward (the backward pass costs two matmuls per forward matmul). */
  training: number;
  /** 2 × the parameters one token multiplies by: every active weight matrix, the output head included. */
  matmul: number;
  /** Attention scores and weighted values over the context, every attention sublayer. */
  attention: number;
}

/** Query-key and value widths summed over heads: H·Dqk and H·Dv. */
function attentionWidths(attention: AttentionConfig): { qk: number; v: number } {
  if (attention.kind === 'mha') {
    const w = attention.heads * attention.headDim;
    return { qk: w, v: w };
  }
  return {
    qk: attention.heads * (attention.qkNopeHeadDim + attention.qkRopeHeadDim),
    v: attention.heads * attention.vHeadDim,
  };
}

/**
 * FLOPs per token, counted as in Kaplan et al. 2020 ("Scaling Laws for Neural Language Models", §2.1):
 *
 *   forward = 2 · N_active + Σ_attention 2 · S_ctx · (H·Dqk + H·Dv)
 *
 * An encoder-decoder's figure is one token through each stack, as `countParameters` counts it.
 *
 * where N_active is the parameters one token multiplies by (`countParameters(config).activeExcludingEmbedding`,
 * plus the tied output head, which is still a [D, V] matmul: K of E routed experts, shared experts, routers,
 * every attention projection) and S_ctx the context each attention sublayer attends over: `seqLen` for
 * self-attention (the full window, not halved for causal masking), `encoderLength` for cross-attention.
 * Norm scales count as weights (2 FLOPs each; negligible). Training = 3 × forward. Capacity dropping is
 * ignored, so for capacity-limited routers this is an upper bound.
 *
 * @example
 * ```ts
 * const { forward } = flopsPerToken(tinyPreset('mixtral-8x7b'), { seqLen: 64 });
 * ```
 */
export function flopsPerToken(
  config: ModelConfig,
  options: { seqLen: number; encoderLength?: number },
): FlopsPerToken {
  const { seqLen } = options;
  const encoderLength = options.encoderLength ?? seqLen;
  for (const [name, value] of [
    ['seqLen', seqLen],
    ['encoderLength', encoderLength],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new SwitchyardError(
        'INVALID_ARGUMENT',
        'flopsPerToken',
        `${name} must be an integer >= 1, got ${value}`,
      );
    }
  }
  const count = countParameters(config);
  const tiedHead = config.embedding.tied ? config.embedding.vocabSize * config.dModel : 0;
  const matmul = 2 * (count.activeExcludingEmbedding + tiedHead);
  const { qk, v } = attentionWidths(config.attention);
  const perContext = 2 * (qk + v);
  const decoderLayers = config.decoder.layers;
  let attention = decoderLayers * perContext * seqLen;
  if (config.encoder !== null) {
    attention += config.encoder.layers * perContext * encoderLength;
    attention += decoderLayers * perContext * encoderLength;
  }
  const forward = matmul + attention;
  return { forward, training: 3 * forward, matmul, attention };
}
