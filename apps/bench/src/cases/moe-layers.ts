import type { BenchCase } from '../bench-case.js';
import { type MoEMode, moeCase } from '../moe-case.js';
import type { MoEShape } from '../moe-shape.js';

/** Mixtral 8x7B's layout scaled down: 8 SwiGLU experts, top-2, renormalised weights. */
const MIXTRAL: MoEShape = {
  tokens: 4096,
  dModel: 512,
  dHidden: 1024,
  experts: 8,
  topK: 2,
  shared: 0,
  normalize: true,
};

/** DeepSeekMoE's fine-grained layout scaled down: 64 narrow experts, top-6, 2 shared experts. */
const DEEPSEEK: MoEShape = {
  tokens: 4096,
  dModel: 512,
  dHidden: 256,
  experts: 64,
  topK: 6,
  shared: 2,
  normalize: false,
};

const MODES: MoEMode[] = ['fwd', 'fwdbwd'];

/**
 * `moe-mixtral-fwd`, `moe-mixtral-fwdbwd`, `moe-deepseek-fwd`, `moe-deepseek-fwdbwd`: a whole MoE layer in
 * tokens/s (T is scaled down on slow backends; see `scaledTokens`).
 */
export const moeLayerCases: BenchCase[] = [
  ...MODES.map((mode) =>
    moeCase({ name: `moe-mixtral-${mode}`, quick: mode === 'fwd', mode, shape: MIXTRAL }),
  ),
  ...MODES.map((mode) => moeCase({ name: `moe-deepseek-${mode}`, quick: false, mode, shape: DEEPSEEK })),
];
