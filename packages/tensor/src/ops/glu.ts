import { isFloat, promote } from '../dtype.js';
import { apply, op } from '../engine.js';
import { fmtShape, invariant, SwitchyardError } from '../errors.js';
import { GLU_FNS, type GluFn } from '../primitives.js';
import type { Tensor } from '../tensor.js';
import { cast } from './cast.js';
import { checkTensor } from './validate.js';

/**
 * The gated linear unit `fn(gate) · up`, elementwise, in one pass (one kernel forward, one per input
 * backward, where `mul(fn(gate), up)` takes two forward and eight backward):
 *
 * - `'silu'`: SwiGLU, `silu(gate) · up` (Mixtral, DeepSeek, Llama, Qwen experts);
 * - `'gelu'`: GEGLU with the exact GELU; `'geluTanh'`: GEGLU with GELU's tanh approximation;
 * - `'relu'`: ReGLU.
 *
 * `fn` is computed as the unary op of that name computes it (`silu(gate)` is `gate · sigmoid(gate)`, etc.),
 * so on the CPU `glu(gate, up, fn)` equals `mul(fn(gate), up)` for f32, bit for bit.
 *
 * GLU: Dauphin, Fan, Auli and Grangier 2017, "Language Modeling with Gated Convolutional Networks" (the
 * sigmoid gate). Its variants: Shazeer 2020, "GLU Variants Improve Transformer". In an FFN the two operands
 * are the projections `gate = x W` and `up = x V` (Mixtral's w1 and w3), and the result goes to `W2`.
 *
 * @param gate float tensor, the activated operand.
 * @param up float tensor of the same shape (no broadcasting: the two are projections of the same rows).
 * @param fn the activation, default `'silu'`.
 * @returns `fn(gate) · up`, of their shape and promoted float dtype (f16 with bf16 gives f32, as in binary
 *   ops). Differentiable in both.
 *
 * @example
 * ```ts
 * const h = glu(matmul(x, w1), matmul(x, w3)); // SwiGLU: silu(x w1) * (x w3)
 * ```
 */
export const glu = op(function glu(gate: Tensor, up: Tensor, fn: GluFn = 'silu'): Tensor {
  checkTensor('glu', gate, 'gate');
  checkTensor('glu', up, 'up');
  if (!(GLU_FNS as readonly unknown[]).includes(fn)) {
    throw new SwitchyardError(
      'INVALID_ARGUMENT',
      'glu',
      `unknown fn ${typeof fn === 'string' ? `'${fn}'` : String(fn)}; expected one of ${GLU_FNS.map((f) => `'${f}'`).join(', ')}`,
    );
  }
  if (gate.shape.join() !== up.shape.join()) {
    throw new SwitchyardError(
      'SHAPE_MISMATCH',
      'glu',
      `gate and up must have the same shape (glu does not broadcast), got gate ${fmtShape(gate.shape)} and up ${fmtShape(up.shape)}`,
    );
  }
  if (!isFloat(gate.dtype) || !isFloat(up.dtype)) {
    throw new SwitchyardError(
      'DTYPE_MISMATCH',
      'glu',
      `gate and up must be float tensors, got gate ${gate.dtype} ${fmtShape(gate.shape)} and up ${up.dtype} ${fmtShape(up.shape)}`,
    );
  }
  const dtype = promote(gate.dtype, up.dtype);
  return apply('glu', [cast(gate, dtype), cast(up, dtype)], { fn }, gate.shape, dtype);
});

/**
 * The cotangent of `glu`'s `wrt` input given the cotangent `g` of its output: `g · up · fn'(gate)` for
 * `'gate'`, `g · fn(gate)` for `'up'`. Internal: only glu's VJP applies it (inside backward, where nothing
 * is recorded).
 */
export const gluGrad = op(function gluGrad(
  gate: Tensor,
  up: Tensor,
  g: Tensor,
  fn: GluFn,
  wrt: 'gate' | 'up',
): Tensor {
  invariant(
    gate.shape.join() === up.shape.join() && gate.shape.join() === g.shape.join() && gate.dtype === up.dtype,
    'gluGrad',
    `gate ${gate.dtype} ${fmtShape(gate.shape)}, up ${up.dtype} ${fmtShape(up.shape)} and g ${fmtShape(g.shape)} must agree`,
  );
  return apply('gluGrad', [gate, up, cast(g, gate.dtype)], { fn, wrt }, gate.shape, gate.dtype);
});
