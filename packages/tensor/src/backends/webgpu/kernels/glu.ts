import type { GluFn } from '../../../primitives.js';
import { sizeOf } from '../../../shape.js';
import type { KernelTable } from '../../backend.js';
import { launch } from '../launch.js';
import type { GpuRuntime } from '../runtime.js';
import { Meta, main1d, memo, PRELUDE, storage } from '../wgsl.js';
import { FLOAT_FNS, FLOAT_UNARY } from './elementwise.js';

/**
 * fn'(x) in WGSL, the derivatives of the unary VJP: relu' = [x > 0], silu' = s (1 + x (1 - s)) with
 * s = sigmoid(x), gelu' = Phi(x) + x phi(x), geluTanh' through its tanh.
 */
const DERIVATIVE: Record<GluFn, string> = {
  relu: 'select(0.0, 1.0, x > 0.0)',
  silu: 's * (1.0 + x * (1.0 - s))',
  gelu: '0.5 * (1.0 + erf_(x * 0.70710678118654752)) + x * exp(-0.5 * x * x) * 0.39894228040143268',
  geluTanh: '0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.79788456080286536 * (1.0 + 0.134145 * x * x)',
};

/** What a derivative reads besides x: silu's sigmoid, geluTanh's tanh. */
const PREAMBLE: Partial<Record<GluFn, string>> = {
  silu: '  let s = sigmoid_(x);\n',
  geluTanh: '  let t = tanh_(0.79788456080286536 * (x + 0.044715 * x * x * x));\n',
};

/**
 * `ys[i] = fn(gs[i]) · us[i]` over equal-shaped f32 buffers: the glu kernel, and the cotangent of glu's
 * up input (with g bound to us).
 */
const gluCode = memo(
  (fn: GluFn) =>
    `${PRELUDE}${FLOAT_FNS}${storage(
      [
        ['gs', 'f32'],
        ['us', 'f32'],
      ],
      ['ys', 'f32'],
    )}${main1d(`  let x = gs[i];\n  ys[i] = (${FLOAT_UNARY[fn]}) * us[i];`)}`,
);

/** `ys[i] = (dys[i] · us[i]) · fn'(gs[i])`: the cotangent of glu's gate input. */
const gateGradCode = memo(
  (fn: GluFn) =>
    `${PRELUDE}${FLOAT_FNS}${storage(
      [
        ['gs', 'f32'],
        ['us', 'f32'],
        ['dys', 'f32'],
      ],
      ['ys', 'f32'],
    )}${main1d(`  let x = gs[i];\n${PREAMBLE[fn] ?? ''}  ys[i] = (dys[i] * us[i]) * (${DERIVATIVE[fn]});`)}`,
);

export function gluKernels(rt: GpuRuntime): Pick<KernelTable<GPUBuffer>, 'glu' | 'gluGrad'> {
  return {
    glu: ([gate, up], { fn }, out) =>
      launch(rt, gluCode(fn), new Meta(), [gate!.data, up!.data], out, sizeOf(out.shape)),
    gluGrad: ([gate, up, g], { fn, wrt }, out) =>
      wrt === 'up'
        ? launch(rt, gluCode(fn), new Meta(), [gate!.data, g!.data], out, sizeOf(out.shape))
        : launch(rt, gateGradCode(fn), new Meta(), [gate!.data, up!.data, g!.data], out, sizeOf(out.shape)),
  };
}
