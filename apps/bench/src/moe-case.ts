// Shape letters: T tokens, D model width, E experts.
import { Generator, matmul, noGrad, sum, type Tensor, tidy } from '@switchyard/tensor';
import type { Rank } from '@tensorflow/tfjs-core';
import type { BenchCase, CaseContext, Measurable } from './bench-case.js';
import { activeMatmuls, describeMoE, type MoEShape } from './moe-shape.js';
import { switchyardMoE } from './switchyard-moe.js';
import { TfjsMoE } from './tfjs-moe.js';

/** `fwd`: inference (no autograd); `fwdbwd`: forward plus the gradients of every weight and of x. */
export type MoEMode = 'fwd' | 'fwdbwd';

/** A MoE case: its stable name, whether `--quick` runs it, the mode and the full shape. */
export interface MoECaseSpec {
  name: string;
  quick: boolean;
  mode: MoEMode;
  shape: MoEShape;
  /**
   * Run the full T on the CPU backends too (see `scaledTokens`), and skip tfjs-backend-cpu there for the
   * reason given (it would take minutes a case at full T).
   */
  fullCpuTokens?: { tfjsCpuSkip: string };
}

/**
 * The tokens T a MoE case runs with: the full T on a hardware GPU; an eighth on the CPU backends (cpu and
 * wasm share it, so their ratios compare like with like), or the full T there too with `fullOnCpu`; a 64th on
 * a software GPU (SwiftShader). `--quick` divides by four again. Tokens/s is per token, so the scaled shapes
 * stay comparable; rows record the T used.
 */
export function scaledTokens(
  full: number,
  ctx: Pick<CaseContext, 'backend' | 'quick' | 'softwareGpu'>,
  fullOnCpu = false,
): number {
  const divisor = ctx.backend !== 'webgpu' ? (fullOnCpu ? 1 : 8) : ctx.softwareGpu ? 64 : 1;
  return Math.max(16, Math.floor(full / divisor / (ctx.quick ? 4 : 1)));
}

/** On a software adapter `--quick` skips every MoE case: their first forward compiles WGSL for minutes. */
const QUICK_SOFTWARE_GPU_SKIP =
  'software adapter: its MoE cases would add about a minute to --quick (full run only)';

const SEED = 7;

function switchyardMeasurable(s: MoEShape, mode: MoEMode): Measurable {
  const generator = new Generator(SEED);
  const layer = switchyardMoE(s, generator);
  const x_TD = generator.normal([s.tokens, s.dModel]);
  const dy_TD = generator.normal([s.tokens, s.dModel]);
  const base = {
    shape: describeMoE(s),
    work: s.tokens,
    dispose: () => {
      layer.zeroGrad();
      x_TD.zeroGrad();
      layer.dispose();
      x_TD.dispose();
      dy_TD.dispose();
    },
  };
  if (mode === 'fwd') {
    layer.eval();
    return { ...base, run: () => noGrad(() => tidy(() => void layer.forward(x_TD))) };
  }
  layer.train();
  x_TD.requireGrad();
  return {
    ...base,
    run: () => {
      layer.zeroGrad();
      x_TD.zeroGrad();
      tidy(() => sum(layer.forward(x_TD).y.mul(dy_TD)).backward());
    },
  };
}

function tfjsMeasurable(tf: CaseContext['tf'], s: MoEShape, mode: MoEMode): Measurable {
  const moe = new TfjsMoE(tf, s, undefined, SEED);
  const x_TD = tf.randomNormal<Rank.R2>([s.tokens, s.dModel], 0, 1, 'float32', SEED);
  const dy_TD = tf.randomNormal<Rank.R2>([s.tokens, s.dModel], 0, 1, 'float32', SEED + 1);
  const base = {
    shape: describeMoE(s),
    work: s.tokens,
    dispose: () => {
      moe.dispose();
      tf.dispose([x_TD, dy_TD]);
    },
  };
  if (mode === 'fwd') return { ...base, run: async () => (await moe.forward(x_TD)).dispose() };
  const xVar = tf.variable(x_TD);
  return {
    ...base,
    run: async () => {
      const { value, grads } = await moe.grads(xVar, dy_TD);
      tf.dispose([value, ...Object.values(grads)]);
    },
    dispose: () => {
      base.dispose();
      xVar.dispose();
    },
  };
}

/** The ideal: the layer's active FLOPs (see `activeMatmuls`) as dense matmuls on Switchyard's backend. */
function idealMeasurable(s: MoEShape, mode: MoEMode): Measurable {
  const generator = new Generator(SEED);
  const inputs = new Map<string, Tensor>();
  const input = (dims: [number, number]): Tensor => {
    const key = dims.join('x');
    let t = inputs.get(key);
    if (!t) inputs.set(key, (t = generator.normal(dims)));
    return t;
  };
  const products = activeMatmuls(s, mode === 'fwdbwd').map((spec) => ({
    a: input(spec.a),
    b: input(spec.b),
    options: { transA: spec.transA, transB: spec.transB },
  }));
  return {
    shape: describeMoE(s),
    work: s.tokens,
    run: () => {
      for (const { a, b, options } of products) matmul(a, b, options).dispose();
    },
    dispose: () => {
      for (const t of inputs.values()) t.dispose();
    },
  };
}

/** A MoE layer case in tokens/s for Switchyard, the TensorFlow.js composition and the ideal. */
export function moeCase(spec: MoECaseSpec): BenchCase {
  return {
    name: spec.name,
    unit: 'tokens/s',
    quick: spec.quick,
    impls: ['switchyard', 'tfjs', 'ideal'],
    prepare(ctx) {
      if (ctx.backend === 'webgpu' && ctx.softwareGpu && ctx.quick) return { skip: QUICK_SOFTWARE_GPU_SKIP };
      if (spec.fullCpuTokens && ctx.impl === 'tfjs' && ctx.backend === 'cpu') {
        return { skip: spec.fullCpuTokens.tfjsCpuSkip };
      }
      const tokens = scaledTokens(spec.shape.tokens, ctx, spec.fullCpuTokens !== undefined);
      const s: MoEShape = { ...spec.shape, tokens };
      if (ctx.impl === 'tfjs') return tfjsMeasurable(ctx.tf, s, spec.mode);
      if (ctx.impl === 'ideal') return idealMeasurable(s, spec.mode);
      return switchyardMeasurable(s, spec.mode);
    },
  };
}
